package dev.attune.cli;

import static dev.attune.cli.CliTest.execute;
import static dev.attune.cli.CliTest.run;
import static dev.attune.cli.CliTest.runRefused;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.attune.testing.SharedFiles;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Sources and exporters are plugins to the command line: {@code --model} takes a TF Hub SavedModel
 * folder (fine-tuned directly on either engine) and an ONNX export folder (served by the onnx
 * engine, chosen from the folder), and {@code export --format} finds its exporter by name.
 */
class SourcesAndExportersCliTest {
    static final Path TFHUB = SharedFiles.path("fixtures/tfhub/bert-encoder-tfhub-layout");
    static final Path SMS = SharedFiles.path("data/sms_spam/train.tsv");
    static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path tmp;

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"pytorch", "tensorflow"})
    void aTfHubSavedModelFineTunesSavesReopensAndPredicts(String engine) throws Exception {
        Path out = tmp.resolve("spam-" + engine);
        // four steps of eight rows: the first 32 examples of the SMS spam training file
        run("fine-tune", "--model", TFHUB.toString(), "--train", SMS.toString(), "--text-column", "text",
                "--label-column", "label", "--positive-label", "spam", "--max-steps", "4", "--batch-size", "8",
                "--no-shuffle", "--max-length", "32", "--learning-rate", "1e-3", "--engine", engine, "--device", "cpu",
                "--no-progress", "--output", out.toString());
        JsonNode metrics = JSON.readTree(out.resolve("metrics.json").toFile());
        assertThat(metrics.get("global_steps").asInt()).isEqualTo(4);
        assertThat(metrics.get("train_loss").asDouble()).isFinite().isPositive();
        // saved as a HuggingFace folder: a BERT classifier with the task's labels and a tokenizer.json
        JsonNode config = JSON.readTree(out.resolve("config.json").toFile());
        assertThat(config.get("model_type").asText()).isEqualTo("bert");
        assertThat(config.get("architectures").get(0).asText()).isEqualTo("BertForSequenceClassification");
        assertThat(config.get("id2label").get("1").asText()).isEqualTo("spam");
        assertThat(out.resolve("model.safetensors")).isRegularFile();
        assertThat(out.resolve("tokenizer.json")).isRegularFile();

        JsonNode p = JSON.readTree(run("predict", "--model", out.toString(), "--engine", engine,
                "--text", "WINNER!! Claim your free prize now"));
        assertThat(p.get("label").asText()).isIn("ham", "spam");
        double sum = p.get("probabilities").get("ham").asDouble() + p.get("probabilities").get("spam").asDouble();
        assertThat(sum).isCloseTo(1.0, within(1e-5));
    }

    @Test
    void anOnnxExportFolderPredictsAndGivesLogitsOnTheOnnxEngine() throws Exception {
        Path fixture = CliTest.FIXTURE;
        Path onnx = tmp.resolve("onnx");
        String exported = run("export", "--format", "onnx", "--model", fixture.toString(), "--output", onnx.toString(),
                "--max-length", "64");
        assertThat(exported).contains("exported BertForSequenceClassification to " + onnx.resolve("model.onnx"));
        assertThat(onnx.resolve("tokenizer.json")).isRegularFile();

        Path inputs = Files.writeString(tmp.resolve("in.jsonl"),
                "{\"text\": \"I loved this movie, the acting was wonderful.\"}\n"
                        + "{\"text\": \"The cat sat on the mat.\", \"text_pair\": \"A cat was sitting on the mat.\"}\n");
        JsonNode reference = JSON.readTree(fixture.resolve("reference.json").toFile()).get("cases");
        for (String engine : List.of("", "pytorch")) {
            // without --engine the folder's source picks the onnx engine, which runs model.onnx as stored;
            // with --engine pytorch the model is rebuilt from the file's HuggingFace-named initializers
            Path logits = tmp.resolve("logits" + engine + ".jsonl");
            CliTest.Outcome o = execute(engine.isEmpty()
                    ? new String[] {"logits", "--model", onnx.toString(), "--input", inputs.toString(), "--output",
                            logits.toString()}
                    : new String[] {"logits", "--model", onnx.toString(), "--input", inputs.toString(), "--output",
                            logits.toString(), "--engine", engine});
            assertThat(o.code()).as(o.err()).isZero();
            if (engine.isEmpty()) {
                assertThat(o.err()).contains("onnx runs " + onnx.resolve("model.onnx"));
            } else {
                assertThat(o.err()).doesNotContain("onnx runs");
            }
            List<String> lines = Files.readAllLines(logits);
            JsonNode first = JSON.readTree(lines.get(0));
            JsonNode pair = JSON.readTree(lines.get(1));
            assertThat(first.get("input_ids")).isEqualTo(reference.get(0).get("input_ids"));
            for (int i = 0; i < 2; i++) {
                assertThat(first.get("logits").get(i).asDouble())
                        .isCloseTo(reference.get(0).get("logits").get(i).asDouble(), within(1e-4));
                assertThat(pair.get("logits").get(i).asDouble())
                        .isCloseTo(reference.get(4).get("logits").get(i).asDouble(), within(1e-4));
            }
            JsonNode p = JSON.readTree(run(engine.isEmpty()
                    ? new String[] {"predict", "--model", onnx.toString(), "--text", reference.get(0).get("text").asText()}
                    : new String[] {"predict", "--model", onnx.toString(), "--text", reference.get(0).get("text").asText(),
                            "--engine", engine}));
            JsonNode l = reference.get(0).get("logits");
            assertThat(p.get("label").asText()).isEqualTo(l.get(1).asDouble() > l.get(0).asDouble() ? "LABEL_1" : "LABEL_0");
        }
    }

    @Test
    void exportFindsItsFormatsByNameAndRoundTripsThroughOnnx() throws Exception {
        Path fixture = CliTest.FIXTURE;
        Path onnx = tmp.resolve("onnx");
        Path hf = tmp.resolve("hf");
        Path saved = tmp.resolve("saved");
        run("export", "--model", fixture.toString(), "--output", onnx.toString(), "--fp16");
        // the ONNX export is a source too: back to a HuggingFace folder from its initializers
        assertThat(run("export", "--format", "hf", "--model", onnx.toString(), "--output", hf.toString()))
                .contains("exported BertForSequenceClassification to " + hf);
        assertThat(hf.resolve("model.safetensors")).isRegularFile();
        run("export", "--format", "savedmodel", "--model", hf.toString(), "--output", saved.toString());
        assertThat(saved.resolve("saved_model.pb")).isRegularFile();
        // exports get the umask's permissions like any folder the user makes, not 0700 (a server may run as another user)
        Path plain = Files.createDirectory(tmp.resolve("made-by-hand"));
        assertThat(Files.getPosixFilePermissions(saved)).isEqualTo(Files.getPosixFilePermissions(plain));
        assertThat(Files.getPosixFilePermissions(onnx)).isEqualTo(Files.getPosixFilePermissions(plain));
        assertThat(saved.resolve("assets").resolve("tokenizer.json")).isRegularFile();
        // float16 weights through two exports: the logits stay within float16's precision of the reference
        Path inputs = Files.writeString(tmp.resolve("in.jsonl"), "{\"text\": \"I loved this movie, the acting was wonderful.\"}\n");
        Path logits = tmp.resolve("logits.jsonl");
        run("logits", "--model", hf.toString(), "--input", inputs.toString(), "--output", logits.toString());
        JsonNode reference = JSON.readTree(fixture.resolve("reference.json").toFile()).get("cases").get(0);
        JsonNode got = JSON.readTree(Files.readAllLines(logits).get(0));
        for (int i = 0; i < 2; i++) {
            assertThat(got.get("logits").get(i).asDouble()).isCloseTo(reference.get("logits").get(i).asDouble(), within(1e-2));
        }

        assertThat(runRefused("export", "--format", "tflite", "--model", fixture.toString(), "--output",
                tmp.resolve("x").toString())).contains("supported formats: [").contains("hf").contains("onnx")
                .contains("savedmodel");
        assertThat(runRefused("export", "--format", "hf", "--fp16", "--model", fixture.toString(), "--output",
                tmp.resolve("x").toString())).contains("--fp16 and --no-past apply to --format onnx");
        assertThat(runRefused("export", "--format", "hf", "--quantize", "int8", "--model", fixture.toString(), "--output",
                tmp.resolve("x").toString())).contains("--quantize, --onnx-ops and --optimize apply to --format onnx, not hf");
        assertThat(runRefused("export", "--quantize", "int4", "--model", fixture.toString(), "--output",
                tmp.resolve("x").toString())).contains("quantize=int4 is not known").contains("int8");
        assertThat(runRefused("export", "--quantize", "int8", "--fp16", "--model", fixture.toString(), "--output",
                tmp.resolve("x").toString())).contains("do not combine");
        assertThat(tmp.resolve("x")).doesNotExist();
    }

    @Test
    void anInt8ExportPredictsOnOnnxRuntimeAndIsRefusedElsewhere() throws Exception {
        Path fixture = CliTest.FIXTURE;
        Path int8 = tmp.resolve("int8");
        run("export", "--model", fixture.toString(), "--output", int8.toString(), "--quantize", "int8");
        JsonNode reference = JSON.readTree(fixture.resolve("reference.json").toFile()).get("cases").get(0);
        JsonNode p = JSON.readTree(run("predict", "--model", int8.toString(), "--text", reference.get("text").asText()));
        JsonNode l = reference.get("logits");
        assertThat(p.get("label").asText()).isEqualTo(l.get(1).asDouble() > l.get(0).asDouble() ? "LABEL_1" : "LABEL_0");
        // PyTorch would rebuild the model from float initializers an int8 file does not have: a typed refusal
        assertThat(runRefused("predict", "--model", int8.toString(), "--text", "hello", "--engine", "pytorch"))
                .contains("int8-quantized weights").contains("--engine onnx");
    }

    @Test
    void aLocalLookingModelThatDoesNotExistIsNamedNotLookedUpOnTheHub() {
        Path missing = tmp.resolve("runs").resolve("spam-v2");
        for (String model : List.of(missing.toString(), "./runs-that-do-not-exist/spam", "spam-model.onnx")) {
            assertThat(runRefused("fine-tune", "--model", model, "--train", SMS.toString(), "--output",
                    tmp.resolve("o").toString(), "--no-progress"))
                    .contains(model + ": no such file or folder").contains("not looked up on the HuggingFace Hub");
            assertThat(runRefused("predict", "--model", model, "--text", "hello")).contains(model + ": no such file");
        }
    }
}
