package dev.attune.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.google.inject.Guice;
import com.google.inject.Injector;
import com.google.inject.Key;
import com.google.inject.TypeLiteral;
import dev.attune.AttuneModule;
import dev.attune.PluginRegistry;
import dev.attune.engine.EngineProvider;
import dev.attune.testing.SharedFiles;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The command line end to end on the tiny fixture BERT, and the plugin wiring it relies on. */
class CliTest {
    static final Path FIXTURE = SharedFiles.path("fixtures/hf/bert-seqcls");

    @TempDir
    Path tmp;

    /** What one CLI run printed, and its exit code. */
    record Outcome(int code, String out, String err) {}

    /** Runs the CLI in this JVM, capturing standard output and standard error. */
    static Outcome execute(String... args) {
        PrintStream oldOut = System.out;
        PrintStream oldErr = System.err;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
        System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
        int code;
        try {
            code = AttuneCli.execute(args);
        } finally {
            System.setOut(oldOut);
            System.setErr(oldErr);
        }
        return new Outcome(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    /** Runs the CLI expecting success; returns standard output. */
    static String run(String... args) {
        Outcome o = execute(args);
        assertThat(o.code()).as("exit code of attune " + String.join(" ", args) + "; stderr: " + o.err()).isZero();
        return o.out();
    }

    /** Runs the CLI expecting the exit code of bad input (2); returns standard error. */
    static String runRefused(String... args) {
        Outcome o = execute(args);
        assertThat(o.code()).as("exit code of attune " + String.join(" ", args)).isEqualTo(2);
        return o.err();
    }

    /**
     * @param rows data rows
     * @param negative which rows are negative reviews
     * @return a TSV of {@code sentence} and {@code sentiment} (pos or neg) with a header line
     */
    static String reviews(int rows, java.util.function.IntPredicate negative) {
        StringBuilder data = new StringBuilder("sentence\tsentiment\n");
        for (int i = 0; i < rows; i++) {
            data.append(negative.test(i) ? "terrible plot and boring\tneg\n" : "the movie was wonderful\tpos\n");
        }
        return data.toString();
    }

    @Test
    void fineTunePredictAndLogits() throws Exception {
        Path train = Files.writeString(tmp.resolve("train.tsv"), reviews(24, i -> i % 2 != 0));
        Path out = tmp.resolve("model");
        run("fine-tune", "--model", FIXTURE.toString(), "--train", train.toString(), "--eval", train.toString(),
                "--text-column", "sentence", "--label-column", "sentiment", "--positive-label", "pos",
                "--epochs", "8", "--batch-size", "8", "--learning-rate", "5e-3", "--max-length", "16",
                "--output", out.toString(), "--no-progress", "--device", "cpu", "--set", "hidden_dropout_prob=0");
        JsonNode metrics = new ObjectMapper().readTree(out.resolve("metrics.json").toFile());
        assertThat(metrics.get("global_steps").asInt()).isEqualTo(24);
        assertThat(metrics.get("eval_accuracy").asDouble()).isGreaterThanOrEqualTo(0.9);
        // the training log written during the run survives the model being saved into the same folder
        assertThat(Files.readAllLines(out.resolve("trainer_log.jsonl")))
                .anySatisfy(line -> assertThat(line).contains("\"step\":24"));
        assertThat(out.getParent()).isDirectoryNotContaining(p -> p.getFileName().toString().startsWith(".attune-run-files-"));
        JsonNode config = new ObjectMapper().readTree(out.resolve("config.json").toFile());
        assertThat(config.get("hidden_dropout_prob").asDouble()).isZero();
        assertThat(config.get("id2label").get("1").asText()).isEqualTo("pos");

        JsonNode p = new ObjectMapper().readTree(run("predict", "--model", out.toString(), "--text", "the movie was wonderful"));
        assertThat(p.get("label").asText()).isEqualTo("pos");
        assertThat(p.get("probabilities").get("pos").asDouble()).isGreaterThan(0.5);

        Path inputs = Files.writeString(tmp.resolve("in.jsonl"),
                "{\"text\": \"I loved this movie, the acting was wonderful.\"}\n"
                        + "{\"text\": \"The cat sat on the mat.\", \"text_pair\": \"A cat was sitting on the mat.\"}\n");
        Path logits = tmp.resolve("logits.jsonl");
        run("logits", "--model", FIXTURE.toString(), "--input", inputs.toString(), "--output", logits.toString());
        List<String> lines = Files.readAllLines(logits);
        assertThat(lines).hasSize(2);
        JsonNode reference = new ObjectMapper().readTree(FIXTURE.resolve("reference.json").toFile()).get("cases");
        JsonNode first = new ObjectMapper().readTree(lines.get(0));
        JsonNode pair = new ObjectMapper().readTree(lines.get(1));
        assertThat(first.get("input_ids")).isEqualTo(reference.get(0).get("input_ids"));
        assertThat(pair.get("input_ids")).isEqualTo(reference.get(4).get("input_ids"));
        for (int i = 0; i < 2; i++) {
            assertThat(first.get("logits").get(i).asDouble())
                    .isCloseTo(reference.get(0).get("logits").get(i).asDouble(), org.assertj.core.api.Assertions.within(1e-5));
            assertThat(pair.get("logits").get(i).asDouble())
                    .isCloseTo(reference.get(4).get("logits").get(i).asDouble(), org.assertj.core.api.Assertions.within(1e-5));
        }
    }

    @Test
    void generatePrintsHuggingFaceGreedyIds() throws Exception {
        Path gpt2 = SharedFiles.path("fixtures/hf/gpt2-lm");
        JsonNode reference = new ObjectMapper().readTree(gpt2.resolve("reference.json").toFile()).get("generate");
        String maxNew = reference.get("max_new_tokens").asText();
        for (String cache : List.of("", "--no-cache")) {
            List<String> args = new java.util.ArrayList<>(List.of("generate", "--model", gpt2.toString(), "--prompt",
                    reference.get("prompt").asText(), "--greedy", "--max-new-tokens", maxNew, "--print-ids",
                    "--device", "cpu"));
            if (!cache.isEmpty()) {
                args.add(cache);
            }
            String[] lines = run(args.toArray(String[]::new)).strip().split("\\R");
            assertThat(new ObjectMapper().readTree(lines[lines.length - 1])).isEqualTo(reference.get("greedy_ids"));
            assertThat(lines[0]).startsWith(reference.get("prompt").asText());
        }
    }

    @Test
    void generateStopsAtAStopStringAndLeavesItOut() throws Exception {
        Path gpt2 = SharedFiles.path("fixtures/hf/gpt2-lm");
        JsonNode reference = new ObjectMapper().readTree(gpt2.resolve("reference.json").toFile()).get("generate");
        String prompt = reference.get("prompt").asText();
        List<String> common = List.of("generate", "--model", gpt2.toString(), "--prompt", prompt, "--greedy",
                "--max-new-tokens", reference.get("max_new_tokens").asText(), "--print-ids", "--device", "cpu");
        String[] free = run(common.toArray(String[]::new)).strip().split("\\R");
        assertThat(free[0]).startsWith(prompt);
        String newText = free[0].substring(prompt.length());
        assertThat(newText.length()).isGreaterThanOrEqualTo(2);
        // the first two characters of the continuation (the prompt may hold them too; only new text counts)
        List<String> args = new java.util.ArrayList<>(common);
        args.addAll(List.of("--stop", newText.substring(0, 2), "--stop", "text that never comes"));
        String[] stopped = run(args.toArray(String[]::new)).strip().split("\\R");
        assertThat(stopped[0]).isEqualTo(prompt);
        JsonNode ids = new ObjectMapper().readTree(stopped[stopped.length - 1]);
        JsonNode all = reference.get("greedy_ids");
        assertThat(ids.size()).isGreaterThan(reference.get("prompt_ids").size()).isLessThan(all.size());
        for (int i = 0; i < ids.size(); i++) {
            assertThat(ids.get(i)).isEqualTo(all.get(i));
        }
        // an empty stop string would stop at once: refused with the option named
        assertThat(runRefused("generate", "--model", gpt2.toString(), "--prompt", prompt, "--stop", ""))
                .contains("--stop needs a non-empty text");
    }

    @Test
    void stopEscapesReadNewlineTabAndBackslash() {
        assertThat(GenerateCommand.unescape("a\\nb\\tc\\\\n\\x\\")).isEqualTo("a\nb\tc\\n\\x\\");
    }

    @Test
    void evalTaskOptionsReadOtherArticlesOfTheSameSquadFile() throws Exception {
        String squad = """
                {"version": "1.1", "data": [
                  {"title": "Cats", "paragraphs": [{"context": "The cat sat on the mat all day.", "qas": [
                    {"id": "a1", "question": "Where did the cat sit?", "answers": [{"text": "on the mat", "answer_start": 12}]},
                    {"id": "a2", "question": "Who sat?", "answers": [{"text": "The cat", "answer_start": 0}]}]}]},
                  {"title": "Paris", "paragraphs": [{"context": "Paris is the capital of France.", "qas": [
                    {"id": "b1", "question": "What is the capital of France?", "answers": [{"text": "Paris", "answer_start": 0}]}]}]}
                ]}
                """;
        Path file = Files.writeString(tmp.resolve("squad.json"), squad);
        Path out = tmp.resolve("qa");
        List<String> args = List.of("fine-tune", "--task", "question-answering", "--model",
                SharedFiles.path("fixtures/hf/bert-qa").toString(), "--train", file.toString(), "--eval", file.toString(),
                "--task-option", "article_end=1", "--eval-task-option", "article_start=1", "--eval-task-option",
                "article_end=2", "--max-steps", "1",
                "--batch-size", "2", "--max-length", "48", "--no-progress", "--output", out.toString());
        run(args.toArray(String[]::new));
        JsonNode metrics = new ObjectMapper().readTree(out.resolve("metrics.json").toFile());
        // training read the first article (two questions), evaluation the second (one)
        assertThat(metrics.get("train_examples").asInt()).isEqualTo(2);
        assertThat(metrics.get("eval_examples").asInt()).isEqualTo(1);

        // predict answers from --question/--context and from a JSONL file; the answer is its span of the context
        String context = "Paris is the capital of France.";
        Path inputs = Files.writeString(tmp.resolve("qa.jsonl"),
                "{\"question\": \"What is the capital of France?\", \"context\": \"" + context + "\"}\n");
        String[] answers = run("predict", "--model", out.toString(), "--question", "Which city?", "--context", context,
                "--input", inputs.toString()).strip().split("\\R");
        assertThat(answers).hasSize(2);
        for (String a : answers) {
            JsonNode p = new ObjectMapper().readTree(a);
            assertThat(p.get("answer").asText()).isEqualTo(context.substring(p.get("start").asInt(), p.get("end").asInt()));
            assertThat(p.get("score").asDouble()).isBetween(0.0, 1.0);
        }
        // a line the task cannot read is named with its line number before anything runs
        Files.writeString(inputs, "\n{\"text\": \"no question here\"}\n", java.nio.file.StandardOpenOption.APPEND);
        assertThat(runRefused("predict", "--model", out.toString(), "--input", inputs.toString()))
                .contains("qa.jsonl:3").contains("'question'");
        // without an --eval file there is nothing for them to apply to: refused before anything loads
        assertThat(runRefused("fine-tune", "--task", "question-answering", "--model", "no-such-model", "--train",
                file.toString(), "--eval-task-option", "article_start=1", "--output", tmp.resolve("x").toString()))
                .contains("--eval-task-option applies to the --eval file");
        assertThat(tmp.resolve("x")).doesNotExist();
    }

    @Test
    void badInputExitsWithAMessageNotAStackTrace() throws Exception {
        Path train = Files.writeString(tmp.resolve("train.tsv"), "text\tlabel\nhello\n");
        assertThat(runRefused("fine-tune", "--model", FIXTURE.toString(), "--train", train.toString(),
                "--output", tmp.resolve("o").toString(), "--no-progress")).contains("train.tsv:2").doesNotContain("\tat ");
        assertThat(tmp.resolve("o").resolve("model.safetensors")).doesNotExist();
    }

    @Test
    void guiceExposesWhatServiceLoaderFinds() {
        Injector injector = Guice.createInjector(new AttuneModule());
        Map<String, EngineProvider> engines = injector.getInstance(Key.get(new TypeLiteral<Map<String, EngineProvider>>() { }));
        assertThat(engines).containsKey("pytorch");
        PluginRegistry registry = injector.getInstance(PluginRegistry.class);
        assertThat(registry.families()).containsKey("bert");
        assertThat(registry.tasks()).containsKeys("text-classification", "text-pair-classification");
        assertThat(registry.engine(null).name()).isEqualTo("pytorch");
    }
    @Test
    void benchComparesEnginesInOneRun() throws Exception {
        String out = run("bench", "--model", FIXTURE.toString(), "--engines", "pytorch,tensorflow", "--batch", "2",
                "--seq", "8", "--steps", "2", "--warmup", "1");
        List<String> lines = out.lines().filter(l -> l.startsWith("{")).toList();
        assertThat(lines).hasSize(3);
        ObjectMapper json = new ObjectMapper();
        assertThat(json.readTree(lines.get(0)).get("engine").asText()).isEqualTo("pytorch");
        assertThat(json.readTree(lines.get(1)).get("impl").asText()).contains("TensorFlow");
        JsonNode ratios = json.readTree(lines.get(2)).get("train_step_time_ratio_vs_pytorch");
        assertThat(ratios.get("pytorch").asDouble()).isEqualTo(1.0);
        assertThat(ratios.get("tensorflow").asDouble()).isPositive();
    }
}
