package dev.attune.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.attune.core.tune.HyperparameterSearch.Spec;
import dev.attune.spark.AttuneSpark;
import dev.attune.spark.StandaloneCluster;
import dev.attune.train.TrainingControl;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code attune bench-spark}: prediction throughput and search wall time on a standalone cluster of
 * child JVMs on this machine, with one 1-core executor against two, the two alternating round by
 * round so that the machine's drift over minutes falls on both alike.
 */
@Command(name = "bench-spark", mixinStandardHelpOptions = true,
        description = "Spark scaling on this machine: predict rows/s and a 4-trial search's wall time, one 1-core"
                + " executor against two (a standalone master and workers started as child JVMs).")
final class SparkBenchCommand implements Callable<Integer> {
    @Option(names = "--model", required = true, description = "a fine-tuned text classifier to predict with") Path model;
    @Option(names = "--tune-model", required = true, description = "checkpoint the search fine-tunes") Path tuneModel;
    @Option(names = "--texts", required = true, description = "TSV with a header and a text column (SMS spam)") Path texts;
    @Option(names = "--eval", required = true, description = "TSV the search's objective is measured on") Path eval;
    @Option(names = "--text-column", defaultValue = "text") String textColumn;
    @Option(names = "--label-column", defaultValue = "label") String labelColumn;
    @Option(names = "--rows", defaultValue = "20000") int rows;
    @Option(names = "--partitions", defaultValue = "32", description = "partitions of the predicted table"
            + " (default: ${DEFAULT-VALUE}; many small ones, so that neither executor idles while the other"
            + " finishes a large one)") int partitions;
    @Option(names = "--trial-steps", defaultValue = "30") long trialSteps;
    @Option(names = "--rounds", defaultValue = "1", description = "rounds of (one executor, two executors), each on"
            + " a fresh cluster; the ratios are of the medians (default: ${DEFAULT-VALUE})") int rounds;
    @Option(names = "--skip-search", description = "measure prediction only") boolean skipSearch;
    @Option(names = "--skip-predict", description = "measure the search only") boolean skipPredict;
    @Option(names = "--work", required = true, description = "folder for logs and search outputs") Path work;

    @Override
    public Integer call() throws Exception {
        if (skipPredict && skipSearch) {
            throw new picocli.CommandLine.ParameterException(new picocli.CommandLine(this),
                    "--skip-predict and --skip-search leave nothing to measure; pass one at most");
        }
        if (rounds < 1 || partitions < 1 || rows < 1) {
            throw new picocli.CommandLine.ParameterException(new picocli.CommandLine(this),
                    "--rounds, --partitions and --rows must be at least 1");
        }
        List<String> lines = Files.readAllLines(texts);
        List<String> header = List.of(lines.get(0).split("\t"));
        int col = header.indexOf(textColumn);
        if (col < 0) {
            throw new picocli.CommandLine.ParameterException(new picocli.CommandLine(this),
                    texts + " has no column '" + textColumn + "' in its header " + header + "; pass --text-column");
        }
        List<Row> data = new ArrayList<>();
        for (int i = 0; data.size() < rows; i++) {
            String[] f = lines.get(1 + i % (lines.size() - 1)).split("\t");
            data.add(RowFactory.create(data.size(), f[col]));
        }
        double baseline = skipPredict ? 0 : baseline(data);
        double[][] rate = new double[3][rounds];
        double[][] wall = new double[3][rounds];
        String sequentialBest = null; // the first search run is round 1's, on one executor
        ObjectMapper json = new ObjectMapper();
        boolean bestEqual = true;
        for (int round = 0; round < rounds; round++) {
            for (int executors : new int[] {1, 2}) {
                Path logs = work.resolve("logs-" + executors + (rounds > 1 ? "-round" + (round + 1) : ""));
                try (StandaloneCluster cluster = StandaloneCluster.start(executors, 1, 2048, logs)) {
                    // a task runs where a free core is, not wherever its cached partition happens to be
                    // (Spark would wait up to 3 s for that executor while the other idles)
                    SparkSession spark = cluster.session(1, 1, 1536, Map.of("spark.locality.wait", "0s"));
                    try {
                        if (!skipPredict) {
                            rate[executors][round] = predict(spark, data, executors);
                            System.out.printf(Locale.ROOT, "round %d: predict: %d executor(s) x 1 core: %.1f rows/s%n",
                                    round + 1, executors, rate[executors][round]);
                        }
                        if (!skipSearch) {
                            Path out = work.resolve("search-" + executors + "-round" + (round + 1));
                            Spec spec = Spec.builder(tuneModel, texts, eval, out).taskOptions(Map.of("text_column",
                                    textColumn, "label_column", labelColumn)).trials(4).maxSteps(trialSteps)
                                    .maxLength(64).batchSize("16").epochs("1").threads(1).device("cpu").build();
                            long t0 = System.nanoTime();
                            AttuneSpark.tune(spark, spec, AttuneSpark.TuneOptions.defaults(), new TrainingControl());
                            wall[executors][round] = (System.nanoTime() - t0) / 1e9;
                            String b = Files.readString(out.resolve("best.json")).strip();
                            if (sequentialBest == null) {
                                sequentialBest = b;
                            }
                            bestEqual &= json.readTree(b).equals(json.readTree(sequentialBest));
                            System.out.printf(Locale.ROOT, "round %d: tune: 4 trials on %d executor(s): %.1f s%n",
                                    round + 1, executors, wall[executors][round]);
                        }
                    } finally {
                        spark.stop();
                    }
                }
            }
        }
        if (!skipPredict) {
            double one = median(rate[1]);
            double two = median(rate[2]);
            System.out.printf(Locale.ROOT, "Spark's cost per row, one 1-core executor against one JVM without Spark:"
                    + " %.3f ms (%.1f%% of a row's time without Spark)%n", (1 / one - 1 / baseline) * 1000,
                    100 * (baseline / one - 1));
            System.out.printf(Locale.ROOT, "predict throughput, two 1-core executors / one: %.2fx (target >= 1.7x)%s%n",
                    two / one, rounds > 1 ? String.format(Locale.ROOT, "; medians of %d rounds, %.1f and %.1f rows/s",
                            rounds, two, one) : "");
        }
        if (!skipSearch) {
            System.out.printf(Locale.ROOT, "search wall time, 2 parallel / sequential: %.2fx (target <= 0.65x)%s;"
                    + " best.json equal: %s%n", median(wall[2]) / median(wall[1]), rounds > 1
                            ? String.format(Locale.ROOT, "; medians of %d rounds, %.1f and %.1f s", rounds,
                                    median(wall[2]), median(wall[1])) : "", bestEqual);
        }
        return 0;
    }

    /** @return rows/s of the same rows predicted in this JVM without Spark, one intra-op thread, batches of 32 */
    private double baseline(List<Row> data) {
        try (dev.attune.Attune attune = dev.attune.Attune.builder().numThreads(1).build();
                dev.attune.model.FineTunedModel m = attune.open(model)) {
            dev.attune.model.FineTunedModel.Predictor p = m.predictor();
            List<Map<String, String>> inputs = new ArrayList<>();
            for (Row r : data) {
                inputs.add(Map.of("text", r.getString(1)));
            }
            p.predictAll(inputs.subList(0, Math.min(64, inputs.size())));
            long t0 = System.nanoTime();
            for (int from = 0; from < inputs.size(); from += dev.attune.model.FineTunedModel.PREDICT_BATCH_SIZE) {
                p.predictAll(inputs.subList(from, Math.min(inputs.size(), from
                        + dev.attune.model.FineTunedModel.PREDICT_BATCH_SIZE)));
            }
            double r = data.size() / ((System.nanoTime() - t0) / 1e9);
            System.out.printf(Locale.ROOT, "predict: one JVM without Spark, 1 thread: %.1f rows/s%n", r);
            return r;
        }
    }

    /** @return rows/s of one prediction job over {@code data} once every executor has loaded the model */
    private double predict(SparkSession spark, List<Row> data, int executors) {
        Dataset<Row> df = spark.createDataFrame(data, new StructType().add("id", DataTypes.IntegerType)
                .add("text", DataTypes.StringType)).repartition(partitions).cache();
        df.count();
        List<Row> sizes = df.groupBy(org.apache.spark.sql.functions.spark_partition_id()).count().collectAsList();
        long min = sizes.stream().mapToLong(r -> r.getLong(1)).min().orElse(0);
        long max = sizes.stream().mapToLong(r -> r.getLong(1)).max().orElse(0);
        System.out.printf(Locale.ROOT, "partitions: %d, rows per partition %d..%d%n", sizes.size(), min, max);
        AttuneSpark.PredictOptions o = AttuneSpark.PredictOptions.defaults().withThreads(1).withExecutorColumn(true);
        // warm-up: each executor loads the model once
        AttuneSpark.predict(df.limit(64).repartition(executors), model, o).write().format("noop").mode("overwrite")
                .save();
        long t0 = System.nanoTime();
        List<Row> ran = AttuneSpark.predict(df, model, o).select("executor").collectAsList();
        double r = data.size() / ((System.nanoTime() - t0) / 1e9);
        Map<String, Integer> perExecutor = new TreeMap<>();
        ran.forEach(row -> perExecutor.merge(row.getString(0), 1, Integer::sum));
        System.out.printf(Locale.ROOT, "rows per executor (pid@host): %s%n", perExecutor);
        return r;
    }

    private static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }
}
