package dev.attune.cli;

import static dev.attune.cli.CliTest.execute;
import static dev.attune.cli.CliTest.run;
import static dev.attune.cli.CliTest.runRefused;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.attune.formats.hf.SafetensorsStore;
import dev.attune.formats.hf.SafetensorsWriter;
import dev.attune.ops.DType;
import dev.attune.ops.TensorData;
import dev.attune.testing.SharedFiles;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Hostile and mistaken inputs through the command line, crafted here from the tiny fixtures: each is
 * refused with exit code 2 and a message naming the key, file and line, or option, never a stack
 * trace, an allocation the config asked for, or a write where it does not belong.
 */
class HostileInputsCliTest {
    static final Path BERT = CliTest.FIXTURE;
    static final ObjectMapper JSON = new ObjectMapper();

    @TempDir Path tmp;

    /** A copy of a fixture folder with config.json changed. */
    Path craft(Path fixture, String key, String json) throws IOException {
        Path dir = Files.createDirectories(tmp.resolve("model-" + key));
        try (Stream<Path> files = Files.list(fixture)) {
            for (Path f : files.filter(Files::isRegularFile).toList()) {
                Files.copy(f, dir.resolve(f.getFileName()));
            }
        }
        ObjectNode config = (ObjectNode) JSON.readTree(dir.resolve("config.json").toFile());
        config.set(key, JSON.readTree(json));
        Files.writeString(dir.resolve("config.json"), config.toPrettyString());
        return dir;
    }

    Path train() throws IOException {
        return Files.writeString(tmp.resolve("train.tsv"), CliTest.reviews(8, i -> i % 2 != 0));
    }

    String fineTuneRefused(Path model, String... more) throws IOException {
        List<String> args = new java.util.ArrayList<>(List.of("fine-tune", "--model", model.toString(), "--train",
                train().toString(), "--text-column", "sentence", "--label-column", "sentiment", "--max-steps", "1",
                "--batch-size", "4", "--max-length", "16", "--output", tmp.resolve("out").toString(), "--no-progress",
                "--device", "cpu"));
        args.addAll(List.of(more));
        return runRefused(args.toArray(String[]::new));
    }

    @ParameterizedTest(name = "{0} = {1}")
    @CsvSource(delimiter = '|', textBlock = """
        num_hidden_layers            | 1000000    | num_hidden_layers is 1000000
        num_hidden_layers            | -2         | 'num_hidden_layers' must be a whole number of at least 1
        num_attention_heads          | 0          | 'num_attention_heads' must be a whole number of at least 1
        hidden_size                  | -32        | 'hidden_size' must be a whole number of at least 1
        vocab_size                   | 0          | 'vocab_size' must be a whole number of at least 1
        max_position_embeddings      | 0          | 'max_position_embeddings' must be a whole number
        hidden_dropout_prob          | -0.1       | 'hidden_dropout_prob' is a dropout probability
        attention_probs_dropout_prob | 1.5        | 'attention_probs_dropout_prob' is a dropout probability
        num_labels                   | 2147483000 | num_labels 2147483000
        vocab_size                   | 500        | the tokenizer makes token ids up to 999
        """)
    void configValuesAreBoundedBeforeAnythingIsBuilt(String key, String value, String message) throws IOException {
        Path model = craft(BERT, key, value);
        String err = fineTuneRefused(model);
        assertThat(err).contains(message).contains("config.json").doesNotContain("\tat ");
        assertThat(tmp.resolve("out")).doesNotExist();
        // logits reads num_labels (HuggingFace's LABEL_0..) from the config too
        Path in = Files.writeString(tmp.resolve("in.jsonl"), "{\"text\": \"hello\"}\n");
        assertThat(runRefused("logits", "--model", model.toString(), "--input", in.toString())).contains(message);
    }

    @Test
    void integerTensorsWhereWeightsBelongAreRefused() throws IOException {
        Path model = craft(BERT, "hidden_act", "\"gelu\"");
        Map<String, TensorData> tensors = new LinkedHashMap<>();
        try (SafetensorsStore store = SafetensorsStore.openFile(BERT.resolve("model.safetensors"))) {
            for (String name : store.names()) {
                tensors.put(name, store.read(name));
            }
        }
        TensorData bias = tensors.get("bert.pooler.dense.bias");
        ByteBuffer ints = ByteBuffer.allocate(4 * (int) bias.size()).order(ByteOrder.LITTLE_ENDIAN);
        tensors.put("bert.pooler.dense.bias", new TensorData(DType.INT32, bias.shape(), ints));
        Files.delete(model.resolve("model.safetensors"));
        SafetensorsWriter.write(model.resolve("model.safetensors"), tensors);
        assertThat(fineTuneRefused(model)).contains("'bert.pooler.dense.bias' holds INT32 values")
                .contains("floating-point");
    }

    @Test
    void generationConfigValuesAreWholeNumbersInRange() throws IOException {
        Path gpt2 = SharedFiles.path("fixtures/hf/gpt2-lm");
        for (String bad : List.of("1000000000000", "\"20\"", "-1", "2.5")) {
            Path model = craft(gpt2, "n_layer", "2");
            Files.writeString(model.resolve("generation_config.json"), "{\"max_new_tokens\": " + bad + "}");
            assertThat(runRefused("generate", "--model", model.toString(), "--prompt", "hello", "--device", "cpu"))
                    .as(bad).contains("generation_config.json: 'max_new_tokens' must be a whole number from 0 to 2147483647");
            deleteTree(model);
        }
    }

    @Test
    void beamsBeyondTheVocabularyAreRefused() {
        Path t5 = SharedFiles.path("fixtures/hf/t5-seq2seq");
        assertThat(runRefused("generate", "--model", t5.toString(), "--prompt", "translate: the house", "--num-beams",
                "100000", "--max-new-tokens", "4", "--device", "cpu")).contains("--num-beams").contains("vocab_size");
    }

    @Test
    void aTamperedTrainerStateIsAMessage() throws IOException {
        Path out = tmp.resolve("run");
        List<String> args = List.of("fine-tune", "--model", BERT.toString(), "--train", train().toString(),
                "--text-column", "sentence", "--label-column", "sentiment", "--max-steps", "2", "--save-steps", "1",
                "--batch-size", "4", "--max-length", "16", "--output", out.toString(), "--no-progress", "--device", "cpu");
        run(args.toArray(String[]::new));
        Path state = out.resolve("checkpoint-2/trainer_state.json");
        ObjectNode json = (ObjectNode) JSON.readTree(state.toFile());
        json.put("batch_in_epoch", -3);
        Files.writeString(state, json.toPrettyString());
        List<String> resume = new java.util.ArrayList<>(args);
        resume.add("--resume");
        assertThat(runRefused(resume.toArray(String[]::new))).contains("trainer_state.json: 'batch_in_epoch' is -3");
        json.put("batch_in_epoch", 0);
        json.put("best_model_checkpoint", "../../elsewhere");
        Files.writeString(state, json.toPrettyString());
        assertThat(runRefused(resume.toArray(String[]::new))).contains("'best_model_checkpoint' must name a checkpoint-N");
    }

    @Test
    void aBadMaxLengthInTheSavedSettingsIsAMessage() throws IOException {
        for (String bad : List.of("\"abc\"", "-5", "1e12", "99999999999")) {
            Path model = craft(BERT, "attune", "{\"task\": \"text-classification\", \"max_length\": " + bad + "}");
            assertThat(runRefused("predict", "--model", model.toString(), "--text", "hi", "--device", "cpu"))
                    .as(bad).contains("'attune.max_length' must be a whole number of tokens from 1");
            deleteTree(model);
        }
    }

    @Test
    void logitsInputsTheModelCannotTakeAreMessagesNamingTheLine() throws IOException {
        Path longText = Files.writeString(tmp.resolve("long.jsonl"),
                "{\"text\": \"short\"}\n{\"text\": \"" + "word ".repeat(400) + "\"}\n");
        assertThat(runRefused("logits", "--model", BERT.toString(), "--input", longText.toString()))
                .contains("long.jsonl:2: the text has 512 tokens, more than the 128 positions");
        Path latin1 = tmp.resolve("latin1.jsonl");
        Files.write(latin1, "{\"text\": \"fine\"}\n{\"text\": \"caf\u00e9\"}\n".getBytes(StandardCharsets.ISO_8859_1));
        assertThat(runRefused("logits", "--model", BERT.toString(), "--input", latin1.toString()))
                .contains("latin1.jsonl:2: not valid UTF-8");
    }

    @Test
    void inputsThatAreNoFilesGetTheirOwnMessage() throws Exception {
        Path folder = Files.createDirectories(tmp.resolve("a-folder"));
        assertThat(runRefused("logits", "--model", BERT.toString(), "--input", folder.toString())).contains("is a folder");
        assertThat(runRefused("predict", "--model", BERT.toString(), "--input", "/dev/zero"))
                .contains("/dev/zero: is not a regular file");
        Path fifo = tmp.resolve("fifo");
        assertThat(new ProcessBuilder("mkfifo", fifo.toString()).start().waitFor()).isZero();
        assertThat(runRefused("predict", "--model", BERT.toString(), "--input", fifo.toString()))
                .contains("fifo: is not a regular file (a pipe");
        assertThat(runRefused("predict", "--model", BERT.toString(), "--input", tmp.resolve("missing").toString()))
                .contains("no such file");
    }

    @Test
    void outputFoldersOfTheUsersAreRefusedByFineTuneAndExport() throws IOException {
        Path project = Files.createDirectories(tmp.resolve("project"));
        Files.createDirectories(project.resolve("src"));
        Files.writeString(project.resolve("notes"), "mine");
        List<String> args = List.of("fine-tune", "--model", BERT.toString(), "--train", train().toString(),
                "--text-column", "sentence", "--label-column", "sentiment", "--max-steps", "1", "--batch-size", "4",
                "--max-length", "16", "--output", project.toString(), "--no-progress", "--device", "cpu");
        assertThat(runRefused(args.toArray(String[]::new))).contains("--overwrite-output-dir").contains("notes, src");
        assertThat(runRefused("export", "--format", "hf", "--model", BERT.toString(), "--output", project.toString(),
                "--head", "sequence-classification")).contains("--overwrite-output-dir");
        try (Stream<Path> s = Files.list(project)) {
            assertThat(s.map(p -> p.getFileName().toString()).sorted().toList()).containsExactly("notes", "src");
        }
        List<String> overwrite = new java.util.ArrayList<>(args);
        overwrite.add("--overwrite-output-dir");
        run(overwrite.toArray(String[]::new));
        assertThat(project.resolve("notes")).hasContent("mine");
        assertThat(project.resolve("src")).isDirectory();
        assertThat(project.resolve("model.safetensors")).isRegularFile();
        assertThat(execute("export", "--format", "hf", "--model", project.toString(), "--output", project.toString(),
                "--overwrite-output-dir").code()).isZero();
        assertThat(project.resolve("notes")).hasContent("mine");
    }

    /** The resource-hungry cases in a JVM of 512 MB, as a user's process: a message in seconds, no heap filled. */
    @Test
    void theWorstResourceRequestsEndInAMessageUnderASmallHeap() throws Exception {
        Path crash = Files.createDirectories(tmp.resolve("crash"));
        Path in = Files.writeString(tmp.resolve("in.jsonl"), "{\"text\": \"hello\"}\n");
        List<List<String>> cases = List.of(
                List.of("logits", "--model", craft(BERT, "num_hidden_layers", "1000000").toString(), "--input", in.toString()),
                List.of("logits", "--model", craft(BERT, "num_labels", "2147483000").toString(), "--input", in.toString()),
                List.of("generate", "--model", SharedFiles.path("fixtures/hf/t5-seq2seq").toString(), "--prompt", "x",
                        "--num-beams", "100000", "--max-new-tokens", "2", "--device", "cpu"));
        for (List<String> args : cases) {
            Process p = new ProcessBuilder(ChildAttune.command(crash, args)).redirectErrorStream(true)
                    .redirectOutput(tmp.resolve("child.log").toFile()).start();
            assertThat(p.waitFor(60, java.util.concurrent.TimeUnit.SECONDS)).as(args.toString()).isTrue();
            String log = Files.readString(tmp.resolve("child.log"));
            assertThat(p.exitValue()).as(log).isEqualTo(2);
            assertThat(log).contains("attune: ").doesNotContain("OutOfMemoryError");
        }
        ChildAttune.assertNoCrashFile(crash);
    }

    static void deleteTree(Path dir) throws IOException {
        try (Stream<Path> walk = Files.walk(dir)) {
            for (Path p : walk.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }
}
