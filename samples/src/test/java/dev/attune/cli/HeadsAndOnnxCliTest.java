package dev.attune.cli;

import static dev.attune.cli.CliTest.run;
import static dev.attune.cli.CliTest.runRefused;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.attune.testing.SharedFiles;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@code attune logits}, {@code predict}, {@code generate} and {@code export} run as the README
 * shows them on checkpoints with every head: the head comes from config.json's {@code architectures}
 * (or {@code --head}), a head without weights is refused unless {@code --allow-new-head}, T5 prints
 * teacher-forced decoder logits, and an exported ONNX folder (or a bare {@code .onnx} file with its
 * tokenizer beside it) is a {@code --model} for all of them, run on the onnx engine as stored.
 */
class HeadsAndOnnxCliTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path tmp;

    private static Path fixture(String name) {
        return SharedFiles.path("fixtures/hf/" + name);
    }

    /** Writes the reference cases' texts as the README's {@code inputs.jsonl}. */
    private Path inputs(JsonNode reference, boolean withTarget) throws IOException {
        StringBuilder b = new StringBuilder();
        for (JsonNode c : reference.get("cases")) {
            ObjectNode line = JSON.createObjectNode().put("text", c.get("text").asText());
            if (c.hasNonNull("text_pair")) {
                line.put("text_pair", c.get("text_pair").asText());
            }
            if (withTarget) {
                line.put("target", c.get("target").asText());
            }
            b.append(JSON.writeValueAsString(line)).append('\n');
        }
        return Files.writeString(tmp.resolve("inputs.jsonl"), b.toString());
    }

    /** @return the max |printed - reference| over every output the reference has, each case checked for ids */
    private static double assertLinesMatch(String what, String printed, JsonNode reference, double tolerance)
            throws IOException {
        String[] lines = printed.strip().split("\\R");
        JsonNode cases = reference.get("cases");
        assertThat(lines).as("%s: one line per input", what).hasSize(cases.size());
        double max = 0;
        for (int i = 0; i < lines.length; i++) {
            JsonNode got = JSON.readTree(lines[i]);
            JsonNode want = cases.get(i);
            assertThat(got.get("input_ids")).as("%s case %d input_ids", what, i).isEqualTo(want.get("input_ids"));
            int outputs = 0;
            for (String name : List.of("logits", "start_logits", "end_logits")) {
                if (!want.has(name)) {
                    continue;
                }
                outputs++;
                assertThat(got.has(name)).as("%s case %d prints %s: %s", what, i, name, got.fieldNames()).isTrue();
                List<Double> g = flat(got.get(name));
                List<Double> w = flat(want.get(name));
                assertThat(shape(got.get(name))).as("%s case %d %s shape", what, i, name).isEqualTo(shape(want.get(name)));
                for (int k = 0; k < w.size(); k++) {
                    assertThat(g.get(k)).as("%s case %d %s[%d]", what, i, name, k).isCloseTo(w.get(k), within(tolerance));
                    max = Math.max(max, Math.abs(g.get(k) - w.get(k)));
                }
            }
            assertThat(outputs).isPositive();
        }
        return max;
    }

    private static List<Double> flat(JsonNode n) {
        List<Double> out = new ArrayList<>();
        if (n.isArray()) {
            n.forEach(x -> out.addAll(flat(x)));
        } else {
            out.add(n.asDouble());
        }
        return out;
    }

    private static List<Integer> shape(JsonNode n) {
        List<Integer> s = new ArrayList<>();
        for (JsonNode x = n; x.isArray(); x = x.get(0)) {
            s.add(x.size());
        }
        return s;
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"bert-seqcls", "bert-tokcls", "bert-qa", "bert-mlm", "distilbert-seqcls", "roberta-seqcls",
            "gpt2-seqcls", "gpt2-lm"})
    void logitsRunTheHeadConfigJsonNames(String name) throws Exception {
        Path model = fixture(name);
        JsonNode reference = JSON.readTree(model.resolve("reference.json").toFile());
        // ./attune logits --model ../shared/fixtures/hf/bert-tokcls --input inputs.jsonl
        String printed = run("logits", "--model", model.toString(), "--input", inputs(reference, false).toString());
        double max = assertLinesMatch(name, printed, reference, 1e-4);
        System.out.printf("attune logits %-18s max |logit - HF| %.3g%n", name, max);
    }

    @Test
    void logitsOfT5AreTheTeacherForcedDecoderLogitsOfTheTarget() throws Exception {
        Path t5 = fixture("t5-seq2seq");
        JsonNode reference = JSON.readTree(t5.resolve("reference.json").toFile());
        Path in = inputs(reference, true);
        String printed = run("logits", "--model", t5.toString(), "--input", in.toString());
        assertLinesMatch("t5-seq2seq", printed, reference, 1e-4);
        String[] lines = printed.strip().split("\\R");
        for (int i = 0; i < lines.length; i++) {
            JsonNode got = JSON.readTree(lines[i]);
            assertThat(got.get("labels")).as("target ids").isEqualTo(reference.get("cases").get(i).get("labels"));
            assertThat(got.has("present.0.decoder.key")).as("the cache is not printed").isFalse();
        }
        Path noTarget = Files.writeString(tmp.resolve("no-target.jsonl"), "{\"text\": \"translate: hi\"}\n");
        assertThat(runRefused("logits", "--model", t5.toString(), "--input", noTarget.toString()))
                .contains(noTarget + ":1").contains("\"target\"");
    }

    @Test
    void aHeadWithoutWeightsIsRefusedUnlessANewHeadIsAllowed() throws Exception {
        Path mlm = fixture("bert-mlm");
        Path in = Files.writeString(tmp.resolve("in.jsonl"), "{\"text\": \"hello world\"}\n");
        assertThat(runRefused("logits", "--model", mlm.toString(), "--head", "token-classification", "--input",
                in.toString())).contains("no weights for the token-classification head").contains("classifier.weight")
                .contains("--allow-new-head");
        JsonNode fresh = JSON.readTree(run("logits", "--model", mlm.toString(), "--head", "token-classification",
                "--allow-new-head", "--input", in.toString()).strip());
        assertThat(shape(fresh.get("logits"))).isEqualTo(List.of(fresh.get("input_ids").size(), 2));
        assertThat(runRefused("logits", "--model", mlm.toString(), "--head", "summarization", "--input", in.toString()))
                .contains("--head").contains("token-classification").contains("seq2seq-lm");
        // --head naming the head the folder has is the same as none
        JsonNode reference = JSON.readTree(mlm.resolve("reference.json").toFile());
        assertLinesMatch("bert-mlm --head masked-lm", run("logits", "--model", mlm.toString(), "--head", "masked-lm",
                "--input", inputs(reference, false).toString()), reference, 1e-4);
    }

    @Test
    void predictOnAPlainCheckpointUsesItsHeadsTask() throws Exception {
        JsonNode p = JSON.readTree(run("predict", "--model", fixture("bert-tokcls").toString(), "--text",
                "Angela Merkel visited Paris").strip());
        assertThat(p.has("entities")).as("token classification output: %s", p).isTrue();
        JsonNode lm = JSON.readTree(run("predict", "--model", fixture("gpt2-lm").toString(), "--text", "hello world").strip());
        assertThat(lm.get("perplexity").asDouble()).isPositive();
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"bert-tokcls", "bert-qa", "bert-mlm", "gpt2-lm"})
    void anExportedOnnxFolderIsAModelForLogitsAndPredict(String name) throws Exception {
        Path model = fixture(name);
        JsonNode reference = JSON.readTree(model.resolve("reference.json").toFile());
        Path onnx = tmp.resolve(name + "-onnx");
        // ./attune export --format onnx --model ../shared/fixtures/hf/bert-tokcls --output runs/bert-tokcls-onnx
        assertThat(run("export", "--format", "onnx", "--model", model.toString(), "--output", onnx.toString()))
                .contains(onnx.resolve("model.onnx").toString());
        // the export folder is readable by others as any folder the user makes (umask), not 0700
        Path plain = Files.createDirectory(tmp.resolve("made-by-hand"));
        assertThat(Files.getPosixFilePermissions(onnx)).isEqualTo(Files.getPosixFilePermissions(plain));
        CliTest.Outcome o = CliTest.execute("logits", "--model", onnx.toString(), "--input",
                inputs(reference, false).toString());
        assertThat(o.code()).as(o.err()).isZero();
        double max = assertLinesMatch(name + " (onnx)", o.out(), reference, 1e-4);
        System.out.printf("attune logits %-18s onnx export, max |logit - HF| %.3g%n", name, max);
        assertThat(o.out()).doesNotContain("present.");
        String text = reference.get("cases").get(0).get("text").asText();
        List<String> input = name.endsWith("-qa") ? List.of("--question", "Who acted?", "--context", text)
                : List.of("--text", name.endsWith("-mlm") ? text + " [MASK]" : text);
        JsonNode p = JSON.readTree(predict(onnx, input));
        JsonNode fromHf = JSON.readTree(predict(model, input));
        // the same task's output as the HuggingFace folder gives (numbers within float rounding)
        assertThat(p.fieldNames()).toIterable().containsExactlyElementsOf(() -> fromHf.fieldNames());
        if (name.equals("gpt2-lm")) {
            assertThat(p.get("perplexity").asDouble()).isCloseTo(fromHf.get("perplexity").asDouble(), within(1e-3));
            assertThat(p.get("tokens")).isEqualTo(fromHf.get("tokens"));
        }
    }

    private static String predict(Path model, List<String> input) {
        List<String> args = new ArrayList<>(List.of("predict", "--model", model.toString()));
        args.addAll(input);
        return run(args.toArray(String[]::new)).strip();
    }

    @Test
    void generateRunsAnOnnxGpt2WithItsCacheAsStored() throws Exception {
        Path gpt2 = fixture("gpt2-lm");
        JsonNode reference = JSON.readTree(gpt2.resolve("reference.json").toFile()).get("generate");
        Path onnx = tmp.resolve("gpt2-onnx");
        run("export", "--format", "onnx", "--model", gpt2.toString(), "--output", onnx.toString());
        // ./attune generate --model runs/gpt2-onnx --prompt "..." --greedy --max-new-tokens 12 --print-ids
        CliTest.Outcome o = CliTest.execute("generate", "--model", onnx.toString(), "--prompt",
                reference.get("prompt").asText(), "--greedy", "--max-new-tokens",
                reference.get("max_new_tokens").asText(), "--print-ids");
        assertThat(o.code()).as(o.err()).isZero();
        String[] lines = o.out().strip().split("\\R");
        assertThat(JSON.readTree(lines[lines.length - 1])).isEqualTo(reference.get("greedy_ids"));
        assertThat(lines[0]).startsWith(reference.get("prompt").asText());
        // the engine came from the folder: the file itself ran, with its past key/value inputs
        assertThat(o.err()).contains("engine onnx").contains("runs " + onnx.resolve("model.onnx") + " as stored");
        // a GPT-2 exported without the cache still generates (the whole sequence each step)
        Path noPast = tmp.resolve("gpt2-onnx-no-past");
        run("export", "--format", "onnx", "--no-past", "--model", gpt2.toString(), "--output", noPast.toString());
        String[] again = run("generate", "--model", noPast.toString(), "--prompt", reference.get("prompt").asText(),
                "--greedy", "--max-new-tokens", reference.get("max_new_tokens").asText(), "--print-ids")
                .strip().split("\\R");
        assertThat(JSON.readTree(again[again.length - 1])).isEqualTo(reference.get("greedy_ids"));
    }

    @Test
    void aBareOnnxFileWithItsTokenizerBesideItIsAModel() throws Exception {
        // torch.onnx.export's file of bert-seqcls, beside that folder's tokenizer and config.json
        Path file = fixture("bert-seqcls").resolve("torch_export.onnx");
        JsonNode reference = JSON.readTree(fixture("bert-seqcls").resolve("reference.json").toFile());
        assertLinesMatch("torch_export.onnx", run("logits", "--model", file.toString(), "--input",
                inputs(reference, false).toString()), reference, 1e-4);
        JsonNode p = JSON.readTree(run("predict", "--model", file.toString(), "--text",
                reference.get("cases").get(0).get("text").asText()).strip());
        assertThat(p.get("probabilities").size()).isEqualTo(2);
    }
}
