package dev.attune.spark;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.attune.Attune;
import dev.attune.core.tune.HyperparameterSearch;
import dev.attune.core.tune.HyperparameterSearch.Spec;
import dev.attune.model.FineTunedModel;
import dev.attune.task.Prediction;
import dev.attune.testing.SharedFiles;
import dev.attune.train.TrainingControl;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerTaskStart;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Prediction and search on a real multi-process cluster: a standalone master and two one-core
 * workers started as child JVMs on 127.0.0.1, each worker running its executor as a JVM of its own.
 */
class SparkClusterTest {
    static final Path MODEL = SharedFiles.path("fixtures/hf/bert-seqcls");
    static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    static Path tmp;
    static StandaloneCluster cluster;
    static SparkSession spark;

    @BeforeAll
    static void startCluster() {
        cluster = StandaloneCluster.start(2, 1, 1536, tmp.resolve("cluster-logs"));
        spark = cluster.session(1, 1, 1024);
    }

    @AfterAll
    static void stopCluster() {
        if (spark != null) {
            spark.stop();
        }
        if (cluster != null) {
            cluster.close();
        }
    }

    static String text(int i) {
        return i % 3 == 0 ? "terrible plot and boring number " + i : "the movie was wonderful, scene " + i;
    }

    @Test
    void predictionsOfAModelReadThroughAFileUriEqualOneJvmsRowForRowAndRunInBothExecutors() {
        List<Row> in = new ArrayList<>();
        for (int i = 0; i < 80; i++) {
            in.add(RowFactory.create(i, i == 7 || i == 50 ? null : text(i)));
        }
        StructType schema = new StructType().add("id", DataTypes.IntegerType).add("review", DataTypes.StringType);
        Dataset<Row> rows = spark.createDataFrame(in, schema).repartition(4);
        // read through Hadoop's FileSystem (each executor copies the folder once), as hdfs: or s3a: would be
        AttuneSpark.Predicted predicted = AttuneSpark.predictCounting(rows, MODEL.toAbsolutePath().toUri().toString(),
                AttuneSpark.PredictOptions.defaults().withTextColumn("review").withThreads(1).withBatchSize(8)
                        .withExecutorColumn(true));
        List<Row> out = predicted.rows().collectAsList();
        assertThat(out).hasSize(80);
        // the executor JVMs are sized to their one core (garbage collector and compiler threads), not the host's
        assertThat(cluster.executors()).hasSize(2).allSatisfy(h -> assertThat(Files.readString(
                Path.of("/proc", String.valueOf(h.pid()), "cmdline"))).contains("-XX:ActiveProcessorCount=1"));
        assertThat(predicted.rowsWithoutPrediction().value()).isEqualTo(2);

        Map<Integer, Map<String, Object>> single = new HashMap<>();
        try (Attune attune = Attune.builder().numThreads(1).build(); FineTunedModel m = attune.open(MODEL)) {
            List<Map<String, String>> inputs = new ArrayList<>();
            List<Integer> ids = new ArrayList<>();
            for (int i = 0; i < 80; i++) {
                if (i != 7 && i != 50) {
                    inputs.add(Map.of("text", text(i)));
                    ids.add(i);
                }
            }
            List<Prediction> p = m.predictor().predictAll(inputs);
            for (int k = 0; k < ids.size(); k++) {
                single.put(ids.get(k), p.get(k).toMap());
            }
        }
        Set<String> executors = new HashSet<>();
        for (Row r : out) {
            int id = r.getInt(0);
            executors.add(r.getAs("executor"));
            if (id == 7 || id == 50) {
                assertThat(r.<String>getAs("label")).isNull();
                assertThat(r.<String>getAs("prediction")).isNull();
                assertThat(r.<String>getAs("error")).isEqualTo("column review is null");
                continue;
            }
            Map<String, Object> expected = single.get(id);
            assertThat(r.<String>getAs("error")).isNull();
            assertThat(r.<String>getAs("label")).as("row %d", id).isEqualTo(expected.get("label"));
            assertThat(r.<Double>getAs("score")).as("row %d", id).isCloseTo((Double) expected.get("score"), within(1e-5));
        }
        // two executor JVMs, neither of them this (the driver's) JVM
        assertThat(executors).hasSize(2).doesNotContain(AttuneSpark.executorId());
    }

    @Test
    void aModelFolderTheExecutorsCannotLoadFailsNamingItAndTheExecutor() throws Exception {
        Path empty = Files.createDirectories(tmp.resolve("not-a-model"));
        Dataset<Row> rows = spark.createDataFrame(List.of(RowFactory.create("some text")),
                new StructType().add("text", DataTypes.StringType));
        assertThatThrownBy(() -> AttuneSpark.predict(rows, empty, AttuneSpark.PredictOptions.defaults()).collectAsList())
                .hasMessageContaining("cannot load the model folder " + empty.toAbsolutePath())
                .hasMessageMatching("(?s).*executor \\d+@\\S+.*");
        assertThatThrownBy(() -> AttuneSpark.predict(rows, tmp.resolve("missing"), AttuneSpark.PredictOptions.defaults()))
                .hasMessageContaining(tmp.resolve("missing") + ": no such model folder");
        // the same through Hadoop URIs: the executor names the URI it copied, the driver a folder it cannot find
        String emptyUri = empty.toUri().toString();
        assertThatThrownBy(() -> AttuneSpark.predict(rows, emptyUri, AttuneSpark.PredictOptions.defaults()).collectAsList())
                .hasMessageContaining("cannot load the model folder " + emptyUri)
                .hasMessageMatching("(?s).*executor \\d+@\\S+.*");
        String missingUri = tmp.resolve("missing").toUri().toString();
        assertThatThrownBy(() -> AttuneSpark.predict(rows, missingUri, AttuneSpark.PredictOptions.defaults()))
                .hasMessageContaining(missingUri + ": no such model folder");
        assertThatThrownBy(() -> AttuneSpark.predict(rows, "nosuchfs://host/model", AttuneSpark.PredictOptions.defaults()))
                .hasMessageContaining("nosuchfs://host/model: the driver cannot open this model folder");
    }

    @Test
    void aShippedModelAndAdapterFromAFolderExecutorsAreNotToldAboutGivePeftsProbabilities() throws Exception {
        Path adapterFixture = SharedFiles.path("fixtures/hf/peft-lora-bert-seqcls");
        Path hidden = tmp.resolve("driver-only");
        Path base = copy(MODEL, hidden.resolve("base"));
        Path adapter = copy(adapterFixture, hidden.resolve("adapter"));
        JsonNode cases = JSON.readTree(adapterFixture.resolve("reference.json").toFile()).get("cases");
        List<Row> in = new ArrayList<>();
        for (int i = 0; i < cases.size(); i++) {
            in.add(RowFactory.create(i, cases.get(i).get("text").asText()));
        }
        Dataset<Row> rows = spark.createDataFrame(in, new StructType().add("id", DataTypes.IntegerType)
                .add("text", DataTypes.StringType)).repartition(2);
        // the driver packs both folders and adds them to the job; then they go from the driver's disk, so an
        // executor can only have read the shipped copies
        Dataset<Row> predicted = AttuneSpark.predict(rows, base.toString(), AttuneSpark.PredictOptions.defaults()
                .withAdapter(adapter.toString()).withShipModel(true).withThreads(1).withExecutorColumn(true));
        deleteTree(hidden);
        List<Row> out = predicted.collectAsList();
        assertThat(out).hasSize(cases.size());
        for (Row r : out) {
            JsonNode want = cases.get(r.<Integer>getAs("id")).get("logits");
            JsonNode probabilities = JSON.readTree(r.<String>getAs("prediction")).get("probabilities");
            double z = 0;
            for (JsonNode l : want) {
                z += Math.exp(l.asDouble());
            }
            for (int i = 0; i < want.size(); i++) {
                assertThat(probabilities.get("LABEL_" + i).asDouble()).as("row %d", r.<Integer>getAs("id"))
                        .isCloseTo(Math.exp(want.get(i).asDouble()) / z, within(1e-5));
            }
            assertThat(r.<String>getAs("executor")).isNotEqualTo(AttuneSpark.executorId());
        }
    }

    static Path copy(Path from, Path to) throws Exception {
        try (var walk = Files.walk(from)) {
            for (Path p : walk.toList()) {
                Path dst = to.resolve(from.relativize(p).toString());
                if (Files.isDirectory(p)) {
                    Files.createDirectories(dst);
                } else {
                    Files.copy(p, dst);
                }
            }
        }
        return to;
    }

    static void deleteTree(Path dir) throws Exception {
        try (var walk = Files.walk(dir)) {
            for (Path p : walk.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }

    static Path reviews(Path file) throws Exception {
        StringBuilder data = new StringBuilder("sentence\tsentiment\n");
        for (int i = 0; i < 24; i++) {
            data.append(i % 2 != 0 ? "terrible plot and boring\tneg\n" : "the movie was wonderful\tpos\n");
        }
        return Files.writeString(file, data.toString());
    }

    static Spec search(Path train, Path out) {
        return search(MODEL.toString(), train.toString(), out);
    }

    static Spec search(String model, String train, Path out) {
        return Spec.builder(model, train, train, out)
                .taskOptions(Map.of("text_column", "sentence", "label_column", "sentiment")).trials(4)
                .maxSteps(3).maxLength(16).batchSize("8").epochs("1").learningRate("1e-4:1e-2").threads(1)
                .device("cpu").build();
    }

    @Test
    void aSearchSurvivesTheKillOfAnExecutorAndEqualsTheSequentialSearch() throws Exception {
        Path train = reviews(tmp.resolve("train.tsv"));
        Path out = tmp.resolve("spark-search");
        // the data read through Hadoop's FileSystem, the model shipped with the job from a folder then removed
        Path shipped = copy(MODEL, tmp.resolve("tune-model"));
        // kill one executor JVM once the second trial's task started: each executor then runs a trial, and the
        // killed one's trial dies mid-run
        AtomicBoolean killed = new AtomicBoolean();
        java.util.concurrent.atomic.AtomicInteger started = new java.util.concurrent.atomic.AtomicInteger();
        List<Long> killedPid = new ArrayList<>();
        SparkListener killer = new SparkListener() {
            @Override
            public void onTaskStart(SparkListenerTaskStart start) {
                int n = started.incrementAndGet();
                if (n == 1) {
                    // the job has its archive of the model: the folder goes, so trials (and the retried one on a
                    // new executor) can only read the shipped copy
                    try {
                        deleteTree(shipped);
                    } catch (Exception e) {
                        throw new IllegalStateException(e);
                    }
                }
                if (n == 2 && killed.compareAndSet(false, true)) {
                    ProcessHandle victim = cluster.executors().get(0);
                    killedPid.add(victim.pid());
                    victim.destroyForcibly();
                }
            }
        };
        spark.sparkContext().addSparkListener(killer);
        try {
            AttuneSpark.tune(spark, search(shipped.toString(), train.toUri().toString(), out),
                    AttuneSpark.TuneOptions.defaults().withShipModel(true), new TrainingControl());
        } finally {
            spark.sparkContext().removeSparkListener(killer);
        }
        // the retry came from the attempts the search's session settings give, not from this test
        assertThat(spark.sparkContext().getConf().get("spark.task.maxFailures"))
                .isEqualTo(String.valueOf(AttuneSpark.DEFAULT_MAX_FAILURES));
        assertThat(killed).isTrue();
        assertThat(shipped).doesNotExist();
        List<String> lines = Files.readAllLines(out.resolve("trials.jsonl"));
        List<Integer> ids = new ArrayList<>();
        Set<String> executors = new HashSet<>();
        int retried = 0;
        for (String line : lines) {
            JsonNode rec = JSON.readTree(line);
            ids.add(rec.get("trial").asInt());
            executors.add(rec.get("executor").asText());
            retried += rec.get("attempt").asInt() > 0 ? 1 : 0;
        }
        // every trial recorded exactly once; the killed executor's trial ran again in another executor JVM
        assertThat(killedPid).hasSize(1);
        assertThat(ids).containsExactlyInAnyOrder(0, 1, 2, 3);
        assertThat(retried).isEqualTo(1);
        assertThat(executors).isNotEmpty().doesNotContain(AttuneSpark.executorId())
                .noneMatch(e -> e.startsWith(killedPid.get(0) + "@"));
        assertThat(out.resolve("tune_report.md")).isRegularFile();

        // the same search run sequentially in this JVM chooses the same best trial with the same objective
        Path local = tmp.resolve("local-search");
        HyperparameterSearch.run(search(train, local), HyperparameterSearch.local(1), new TrainingControl());
        assertThat(JSON.readTree(out.resolve("best.json").toFile())).isEqualTo(JSON.readTree(local.resolve("best.json").toFile()));
        for (String line : Files.readAllLines(local.resolve("trials.jsonl"))) {
            JsonNode rec = JSON.readTree(line);
            JsonNode remote = JSON.readTree(lines.stream().filter(l -> l.contains("\"trial\":" + rec.get("trial").asInt() + ","))
                    .findFirst().orElseThrow());
            assertThat(remote.get("objective").asDouble()).isEqualTo(rec.get("objective").asDouble());
            assertThat(remote.get("eval_metrics").get("loss").asDouble()).isCloseTo(rec.get("eval_metrics").get("loss")
                    .asDouble(), within(1e-5));
        }
    }
}
