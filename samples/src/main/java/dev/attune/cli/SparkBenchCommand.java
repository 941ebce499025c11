package dev.attune.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.attune.core.tune.HyperparameterSearch.Spec;
import dev.attune.spark.AttuneSpark;
import dev.attune.spark.StandaloneCluster;
import dev.attune.train.TrainingControl;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
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
 * child JVMs on this machine, with one 1-core executor against two.
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
    @Option(names = "--trial-steps", defaultValue = "30") long trialSteps;
    @Option(names = "--work", required = true, description = "folder for logs and search outputs") Path work;

    @Override
    public Integer call() throws Exception {
        List<String> lines = Files.readAllLines(texts);
        List<String> header = List.of(lines.get(0).split("\t"));
        int col = header.indexOf(textColumn);
        List<Row> data = new ArrayList<>();
        for (int i = 0; data.size() < rows; i++) {
            String[] f = lines.get(1 + i % (lines.size() - 1)).split("\t");
            data.add(RowFactory.create(data.size(), f[col]));
        }
        double[] rate = new double[3];
        double[] wall = new double[3];
        String[] best = new String[3];
        // the baseline without Spark: this JVM, one intra-op thread, the same batches of 32
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
            rate[0] = rows / ((System.nanoTime() - t0) / 1e9);
            System.out.printf(Locale.ROOT, "predict: one JVM without Spark, 1 thread: %.1f rows/s%n", rate[0]);
        }
        for (int executors : new int[] {1, 2}) {
            try (StandaloneCluster cluster = StandaloneCluster.start(executors, 1, 2048, work.resolve("logs-" + executors))) {
                SparkSession spark = cluster.session(1, 1, 1536);
                try {
                    Dataset<Row> df = spark.createDataFrame(data, new StructType().add("id", DataTypes.IntegerType)
                            .add("text", DataTypes.StringType)).repartition(8).cache();
                    df.count();
                    List<Row> sizes = df.groupBy(org.apache.spark.sql.functions.spark_partition_id()).count()
                            .collectAsList();
                    long min = sizes.stream().mapToLong(r -> r.getLong(1)).min().orElse(0);
                    long max = sizes.stream().mapToLong(r -> r.getLong(1)).max().orElse(0);
                    System.out.printf(Locale.ROOT, "partitions: %d, rows per partition %d..%d%n", sizes.size(), min, max);
                    AttuneSpark.PredictOptions o = AttuneSpark.PredictOptions.defaults().withThreads(1);
                    // warm-up: each executor loads the model once
                    AttuneSpark.predict(df.limit(64).repartition(executors), model, o).write().format("noop")
                            .mode("overwrite").save();
                    long t0 = System.nanoTime();
                    AttuneSpark.predict(df, model, o).write().format("noop").mode("overwrite").save();
                    rate[executors] = rows / ((System.nanoTime() - t0) / 1e9);
                    System.out.printf(Locale.ROOT, "predict: %d executor(s) x 1 core: %.1f rows/s%n", executors,
                            rate[executors]);
                    Path out = work.resolve("search-" + executors);
                    Spec spec = Spec.builder(tuneModel, texts, eval, out).taskOptions(Map.of("text_column", textColumn,
                            "label_column", labelColumn)).trials(4).maxSteps(trialSteps).maxLength(64).batchSize("16")
                            .epochs("1").threads(1).device("cpu").build();
                    t0 = System.nanoTime();
                    AttuneSpark.tune(spark, spec, AttuneSpark.TuneOptions.defaults(), new TrainingControl());
                    wall[executors] = (System.nanoTime() - t0) / 1e9;
                    best[executors] = Files.readString(out.resolve("best.json")).strip();
                    System.out.printf(Locale.ROOT, "tune: 4 trials on %d executor(s): %.1f s%n", executors, wall[executors]);
                } finally {
                    spark.stop();
                }
            }
        }
        ObjectMapper json = new ObjectMapper();
        System.out.printf(Locale.ROOT, "Spark's cost per row, one 1-core executor against one JVM without Spark: %.3f ms"
                + " (%.1f%% of a row's time without Spark)%n", (1 / rate[1] - 1 / rate[0]) * 1000,
                100 * (rate[0] / rate[1] - 1));
        System.out.printf(Locale.ROOT, "predict throughput, two 1-core executors / one: %.2fx (target >= 1.7x)%n",
                rate[2] / rate[1]);
        System.out.printf(Locale.ROOT, "search wall time, 2 parallel / sequential: %.2fx (target <= 0.65x); best.json"
                + " equal: %s%n", wall[2] / wall[1], json.readTree(best[1]).equals(json.readTree(best[2])));
        return 0;
    }
}
