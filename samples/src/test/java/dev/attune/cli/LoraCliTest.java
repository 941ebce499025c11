package dev.attune.cli;

import static dev.attune.cli.CliTest.run;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.attune.testing.SharedFiles;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The adapter options of the command line end to end: {@code generate}, {@code predict} and {@code
 * logits} with {@code --adapter} run a PEFT adapter over its base as PEFT does (held to the
 * fixtures' PEFT references), and {@code fine-tune --use-peft --merge-adapter} writes the full model
 * whose outputs are those of the adapter it trained, merged.
 */
class LoraCliTest {
    static final Path FIXTURES = SharedFiles.path("fixtures/hf");
    static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path tmp;

    /** The generated ids that {@code --print-ids} prints (the last line of the output, a JSON array). */
    static List<Long> printedIds(String out) throws Exception {
        String[] lines = out.strip().split("\n");
        JsonNode ids = JSON.readTree(lines[lines.length - 1]);
        List<Long> list = new ArrayList<>();
        ids.forEach(n -> list.add(n.asLong()));
        return list;
    }

    static int argmax(JsonNode row) {
        int best = 0;
        for (int i = 1; i < row.size(); i++) {
            if (row.get(i).asDouble() > row.get(best).asDouble()) {
                best = i;
            }
        }
        return best;
    }

    @Test
    void generateWithAnAdapterPicksPeftsNextTokenAndContinuesAsTheMergedModel() throws Exception {
        Path base = FIXTURES.resolve("llama-lm");
        Path adapter = FIXTURES.resolve("peft-lora-llama-lm");
        JsonNode cases = JSON.readTree(adapter.resolve("reference.json").toFile()).get("cases");
        int differ = 0;
        for (JsonNode c : cases) {
            String prompt = c.get("text").asText();
            List<Long> ids = printedIds(run("generate", "--model", base.toString(), "--adapter", adapter.toString(),
                    "--prompt", prompt, "--greedy", "--max-new-tokens", "1", "--print-ids", "--device", "cpu"));
            List<Long> expected = new ArrayList<>();
            c.get("input_ids").forEach(n -> expected.add(n.asLong()));
            JsonNode logits = c.get("logits");
            // PEFT's most likely next token after the prompt
            expected.add((long) argmax(logits.get(logits.size() - 1)));
            assertThat(ids).as(prompt).isEqualTo(expected);
            List<Long> plain = printedIds(run("generate", "--model", base.toString(), "--prompt", prompt, "--greedy",
                    "--max-new-tokens", "1", "--print-ids", "--device", "cpu"));
            differ += plain.equals(ids) ? 0 : 1;
        }
        assertThat(differ).as("the adapter changes the next token of some prompt").isPositive();

        // longer continuations: the adapter over its base and the merged model generate the same ids
        Path merged = tmp.resolve("merged");
        run("export", "--format", "hf", "--model", base.toString(), "--adapter", adapter.toString(), "--merge-adapter",
                "--output", merged.toString());
        String prompt = cases.get(0).get("text").asText();
        List<Long> withAdapter = printedIds(run("generate", "--model", base.toString(), "--adapter", adapter.toString(),
                "--prompt", prompt, "--greedy", "--max-new-tokens", "6", "--print-ids", "--device", "cpu"));
        List<Long> fromMerged = printedIds(run("generate", "--model", merged.toString(), "--prompt", prompt, "--greedy",
                "--max-new-tokens", "6", "--print-ids", "--device", "cpu"));
        assertThat(withAdapter).hasSizeGreaterThan(cases.get(0).get("input_ids").size()).isEqualTo(fromMerged);
    }

    @Test
    void predictAndLogitsWithAnAdapterGivePeftsOutputs() throws Exception {
        Path base = FIXTURES.resolve("bert-seqcls");
        Path adapter = FIXTURES.resolve("peft-lora-bert-seqcls");
        JsonNode cases = JSON.readTree(adapter.resolve("reference.json").toFile()).get("cases");
        Path inputs = tmp.resolve("in.jsonl");
        StringBuilder lines = new StringBuilder();
        for (JsonNode c : cases) {
            lines.append(JSON.writeValueAsString(java.util.Map.of("text", c.get("text").asText()))).append('\n');
        }
        Files.writeString(inputs, lines);
        Path logits = tmp.resolve("logits.jsonl");
        run("logits", "--model", base.toString(), "--adapter", adapter.toString(), "--input", inputs.toString(),
                "--output", logits.toString(), "--device", "cpu");
        List<String> got = Files.readAllLines(logits);
        assertThat(got).hasSize(cases.size());
        for (int k = 0; k < cases.size(); k++) {
            JsonNode want = cases.get(k).get("logits");
            JsonNode row = JSON.readTree(got.get(k)).get("logits");
            for (int i = 0; i < want.size(); i++) {
                assertThat(row.get(i).asDouble()).isCloseTo(want.get(i).asDouble(), within(1e-5));
            }
            JsonNode predicted = JSON.readTree(run("predict", "--model", base.toString(), "--adapter",
                    adapter.toString(), "--text", cases.get(k).get("text").asText(), "--device", "cpu").strip());
            assertThat(predicted.get("label_id").asInt()).as(cases.get(k).get("text").asText()).isEqualTo(argmax(want));
            // the probabilities are the softmax of PEFT's logits
            double z = 0;
            for (int i = 0; i < want.size(); i++) {
                z += Math.exp(want.get(i).asDouble());
            }
            for (int i = 0; i < want.size(); i++) {
                assertThat(predicted.get("probabilities").get("LABEL_" + i).asDouble())
                        .isCloseTo(Math.exp(want.get(i).asDouble()) / z, within(1e-5));
            }
        }
    }

    @Test
    void fineTuneMergeAdapterWritesTheFullModelOfTheAdapterItTrained() throws Exception {
        Path train = tmp.resolve("train.tsv");
        Files.writeString(train, CliTest.reviews(16, i -> i % 2 == 0));
        List<String> common = List.of("fine-tune", "--model", CliTest.FIXTURE.toString(), "--train", train.toString(),
                "--text-column", "sentence", "--label-column", "sentiment", "--positive-label", "pos", "--epochs", "1",
                "--batch-size", "4", "--learning-rate", "5e-2", "--max-length", "16", "--seed", "3", "--eval-strategy",
                "no", "--no-progress", "--device", "cpu", "--use-peft", "--lora-r", "4", "--lora-alpha", "8",
                "--lora-target-modules", "query,value");
        Path adapterRun = tmp.resolve("adapter");
        List<String> a = new ArrayList<>(common);
        a.addAll(List.of("--output", adapterRun.toString()));
        run(a.toArray(String[]::new));
        Path mergedRun = tmp.resolve("merged");
        List<String> m = new ArrayList<>(common);
        m.addAll(List.of("--output", mergedRun.toString(), "--merge-adapter"));
        run(m.toArray(String[]::new));

        assertThat(adapterRun.resolve("adapter_config.json")).isRegularFile();
        assertThat(mergedRun.resolve("config.json")).isRegularFile();
        assertThat(mergedRun.resolve("model.safetensors")).isRegularFile();
        assertThat(mergedRun.resolve("adapter_config.json")).doesNotExist();
        assertThat(mergedRun.resolve("adapter_model.safetensors")).doesNotExist();

        Path inputs = tmp.resolve("in.jsonl");
        Files.writeString(inputs, "{\"text\": \"the movie was wonderful\"}\n{\"text\": \"terrible plot and boring\"}\n");
        Path viaAdapter = tmp.resolve("a.jsonl");
        Path viaMerged = tmp.resolve("m.jsonl");
        Path plain = tmp.resolve("p.jsonl");
        run("logits", "--model", CliTest.FIXTURE.toString(), "--adapter", adapterRun.toString(), "--input",
                inputs.toString(), "--output", viaAdapter.toString(), "--device", "cpu");
        run("logits", "--model", mergedRun.toString(), "--input", inputs.toString(), "--output", viaMerged.toString(),
                "--device", "cpu");
        run("logits", "--model", CliTest.FIXTURE.toString(), "--input", inputs.toString(), "--output", plain.toString(),
                "--device", "cpu");
        List<String> x = Files.readAllLines(viaAdapter);
        List<String> y = Files.readAllLines(viaMerged);
        List<String> z = Files.readAllLines(plain);
        double moved = 0;
        for (int k = 0; k < 2; k++) {
            JsonNode ra = JSON.readTree(x.get(k)).get("logits");
            JsonNode rm = JSON.readTree(y.get(k)).get("logits");
            JsonNode rp = JSON.readTree(z.get(k)).get("logits");
            for (int i = 0; i < ra.size(); i++) {
                assertThat(rm.get(i).asDouble()).isCloseTo(ra.get(i).asDouble(), within(1e-5));
                moved = Math.max(moved, Math.abs(ra.get(i).asDouble() - rp.get(i).asDouble()));
            }
        }
        assertThat(moved).as("training moved the logits away from the base model's").isGreaterThan(1e-3);
    }
}
