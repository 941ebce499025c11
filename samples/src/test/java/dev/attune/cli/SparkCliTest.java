package dev.attune.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code predict --spark} and {@code tune --spark} on the embedded local[2] master, against the same commands without Spark. */
class SparkCliTest {
    @TempDir
    Path tmp;

    @Test
    void predictOnSparkWritesParquetWithTheLocalPredictionsAndAnErrorForRowsWithoutText() throws Exception {
        StringBuilder jsonl = new StringBuilder();
        List<String> texts = new ArrayList<>();
        for (int i = 0; i < 40; i++) {
            String t = i % 3 == 0 ? "terrible plot, scene " + i : "the movie was wonderful " + i;
            texts.add(t);
            jsonl.append("{\"id\":").append(i).append(",\"review\":\"").append(t).append("\"}\n");
        }
        jsonl.append("{\"id\":40,\"review\":null}\n");
        Path input = Files.writeString(tmp.resolve("rows.jsonl"), jsonl);
        Path out = tmp.resolve("out.parquet");
        CliTest.run("predict", "--spark", "local[2]", "--model", CliTest.FIXTURE.toString(), "--input", input.toString(),
                "--output", out.toString(), "--text-column", "review", "--threads", "1");

        org.apache.spark.sql.SparkSession spark = dev.attune.spark.AttuneSpark.session("local[1]", 0);
        try {
            List<org.apache.spark.sql.Row> rows = spark.read().parquet(out.toString()).orderBy("id").collectAsList();
            assertThat(rows).hasSize(41);
            StringBuilder local = new StringBuilder();
            for (String t : texts) {
                local.append("{\"text\":\"").append(t).append("\"}\n");
            }
            Path localInput = Files.writeString(tmp.resolve("local.jsonl"), local);
            String[] printed = CliTest.run("predict", "--model", CliTest.FIXTURE.toString(), "--input",
                    localInput.toString(), "--threads", "1").strip().split("\n");
            ObjectMapper json = new ObjectMapper();
            for (int i = 0; i < 40; i++) {
                JsonNode expected = json.readTree(printed[i]);
                org.apache.spark.sql.Row r = rows.get(i);
                assertThat(r.<String>getAs("label")).as("row %d", i).isEqualTo(expected.get("label").asText());
                assertThat(r.<Double>getAs("score")).as("row %d", i)
                        .isCloseTo(expected.get("score").asDouble(), org.assertj.core.data.Offset.offset(1e-5));
            }
            assertThat(rows.get(40).<String>getAs("prediction")).isNull();
            assertThat(rows.get(40).<String>getAs("error")).isEqualTo("column review is null");
        } finally {
            spark.stop();
        }
    }

    @Test
    void predictOnSparkWithAShippedAdapterEqualsPredictWithTheAdapter() throws Exception {
        Path base = CliTest.FIXTURE;
        Path adapter = base.resolveSibling("peft-lora-bert-seqcls");
        ObjectMapper json = new ObjectMapper();
        List<String> texts = new ArrayList<>();
        json.readTree(adapter.resolve("reference.json").toFile()).get("cases").forEach(c -> texts.add(c.get("text").asText()));
        StringBuilder rows = new StringBuilder();
        StringBuilder local = new StringBuilder();
        for (int i = 0; i < texts.size(); i++) {
            rows.append(json.writeValueAsString(java.util.Map.of("id", i, "text", texts.get(i)))).append('\n');
            local.append(json.writeValueAsString(java.util.Map.of("text", texts.get(i)))).append('\n');
        }
        Path input = Files.writeString(tmp.resolve("rows.jsonl"), rows);
        Path out = tmp.resolve("adapter.parquet");
        CliTest.run("predict", "--spark", "local[2]", "--model", base.toString(), "--adapter", adapter.toString(),
                "--spark-ship-model", "--input", input.toString(), "--output", out.toString(), "--threads", "1");
        String[] printed = CliTest.run("predict", "--model", base.toString(), "--adapter", adapter.toString(), "--input",
                Files.writeString(tmp.resolve("local.jsonl"), local).toString(), "--threads", "1").strip().split("\n");
        org.apache.spark.sql.SparkSession spark = dev.attune.spark.AttuneSpark.session("local[1]", 0);
        try {
            List<org.apache.spark.sql.Row> got = spark.read().parquet(out.toString()).orderBy("id").collectAsList();
            assertThat(got).hasSize(texts.size());
            for (int i = 0; i < texts.size(); i++) {
                JsonNode expected = json.readTree(printed[i]);
                JsonNode prediction = json.readTree(got.get(i).<String>getAs("prediction"));
                assertThat(prediction.get("label").asText()).as("row %d", i).isEqualTo(expected.get("label").asText());
                expected.get("probabilities").fields().forEachRemaining(e -> assertThat(prediction.get("probabilities")
                        .get(e.getKey()).asDouble()).isCloseTo(e.getValue().asDouble(),
                        org.assertj.core.data.Offset.offset(1e-6)));
            }
        } finally {
            spark.stop();
        }
    }

    @Test
    void tuneOnSparkRecordsEveryTrialAndPicksTheLocalSearchsBest() throws Exception {
        Path train = Files.writeString(tmp.resolve("train.tsv"), CliTest.reviews(24, i -> i % 2 != 0));
        List<String> args = new ArrayList<>(TuneAndModelCardTest.threeTrialSearch(train, tmp.resolve("local")));
        args.addAll(List.of("--threads", "1"));
        String localBest = CliTest.run(args.toArray(String[]::new));
        args.set(args.indexOf("--output") + 1, tmp.resolve("spark").toString());
        args.addAll(List.of("--spark", "local[2]"));
        String sparkBest = CliTest.run(args.toArray(String[]::new));
        ObjectMapper json = new ObjectMapper();
        assertThat(json.readTree(lastLine(sparkBest))).isEqualTo(json.readTree(lastLine(localBest)));
        assertThat(Files.readAllLines(tmp.resolve("spark/trials.jsonl"))).hasSize(3);
        assertThat(tmp.resolve("spark/tune_report.md")).isRegularFile();
    }

    @Test
    void sparkOptionsThatCannotWorkAreRefusedBeforeAnythingRuns() throws Exception {
        Path train = Files.writeString(tmp.resolve("train.tsv"), CliTest.reviews(8, i -> i % 2 != 0));
        List<String> search = TuneAndModelCardTest.threeTrialSearch(train, tmp.resolve("refused"));
        assertThat(CliTest.runRefused(with(search, "--spark", "local[2]", "--spark-gpus-per-trial", "1")))
                .contains("need a cluster master");
        assertThat(CliTest.runRefused(with(search, "--spark-ship-model"))).contains("go with --spark");
        List<String> uri = new ArrayList<>(search);
        uri.set(uri.indexOf("--train") + 1, train.toUri().toString());
        assertThat(CliTest.runRefused(uri.toArray(String[]::new))).contains("Hadoop URIs");
        assertThat(CliTest.runRefused("predict", "--model", CliTest.FIXTURE.toString(), "--text", "fine",
                "--spark-ship-model")).contains("go with --spark");
        assertThat(tmp.resolve("refused")).doesNotExist();
    }

    static String[] with(List<String> args, String... more) {
        List<String> all = new ArrayList<>(args);
        all.addAll(List.of(more));
        return all.toArray(String[]::new);
    }

    static String lastLine(String out) {
        String[] lines = out.strip().split("\n");
        return lines[lines.length - 1];
    }
}
