package dev.attune.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.attune.formats.hf.SafetensorsStore;
import dev.attune.testing.SharedFiles;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code attune fine-tune --task multiple-choice} on the BertForMultipleChoice fixture with SWAG-style
 * data the test writes: a few steps that lower the evaluation loss, accuracy reported, the saved
 * folder a {@code BertForMultipleChoice} with the checkpoint's tensor names, and {@code attune
 * predict} choosing an ending.
 */
class MultipleChoiceCliTest {
    static final Path MC = SharedFiles.path("fixtures/hf/bert-multiple-choice");
    static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path tmp;

    @Test
    void fineTunesAFewStepsSavesAMultipleChoiceFolderAndPredicts() throws Exception {
        String[][] rows = {
            {"She opened the fridge and", "took out the milk.", "flew to the moon.", "sang a song about cheese.", "0"},
            {"He picked up the phone and", "ate the table.", "called his mother.", "swam to the roof.", "1"},
            {"The dog saw the ball and", "wrote a letter.", "read the news.", "ran after it.", "2"},
            {"They sat down at the table and", "had dinner.", "flew away.", "turned into trees.", "0"},
        };
        StringBuilder data = new StringBuilder();
        for (String[] r : rows) {
            data.append(JSON.writeValueAsString(java.util.Map.of("context", r[0], "endings", List.of(r[1], r[2], r[3]),
                    "label", Integer.parseInt(r[4])))).append('\n');
        }
        Path train = Files.writeString(tmp.resolve("swag.jsonl"), data);
        Path out = tmp.resolve("run");
        CliTest.run("fine-tune", "--task", "multiple-choice", "--model", MC.toString(), "--train", train.toString(),
                "--eval", train.toString(), "--eval-on-start", "--max-steps", "8", "--batch-size", "2",
                "--learning-rate", "3e-3", "--warmup-steps", "0", "--seed", "7", "--output", out.toString(),
                "--no-progress", "--device", "cpu");

        JsonNode metrics = JSON.readTree(out.resolve("metrics.json").toFile());
        assertThat(metrics.get("global_steps").asInt()).isEqualTo(8);
        assertThat(metrics.get("eval_accuracy").asDouble()).isBetween(0.0, 1.0);
        List<Double> evalLoss = new ArrayList<>();
        metrics.get("eval_history").forEach(h -> evalLoss.add(h.get("eval_loss").asDouble()));
        assertThat(evalLoss).as("eval losses, at the start and after training").hasSizeGreaterThanOrEqualTo(2);
        assertThat(evalLoss.get(evalLoss.size() - 1)).as("eval loss after 8 steps vs at the start: %s", evalLoss)
                .isLessThan(evalLoss.get(0));

        JsonNode config = JSON.readTree(out.resolve("config.json").toFile());
        assertThat(config.get("architectures").get(0).asText()).isEqualTo("BertForMultipleChoice");
        assertThat(config.get("attune").get("task").asText()).isEqualTo("multiple-choice");
        try (SafetensorsStore saved = SafetensorsStore.open(out);
                SafetensorsStore original = SafetensorsStore.open(MC)) {
            assertThat(saved.names()).as("the saved tensors are the HuggingFace checkpoint's")
                    .containsExactlyInAnyOrderElementsOf(original.names());
        }

        Path inputs = Files.writeString(tmp.resolve("in.jsonl"),
                "{\"context\": \"The cat saw the mouse and\", \"endings\": \"chased it.|baked a cake.|drove a bus.\"}\n");
        String[] lines = CliTest.run("predict", "--model", out.toString(), "--input", inputs.toString(), "--device", "cpu")
                .strip().split("\\R");
        JsonNode p = JSON.readTree(lines[lines.length - 1]);
        int choice = p.get("choice").asInt();
        assertThat(choice).isBetween(0, 2);
        assertThat(p.get("ending").asText()).isEqualTo(List.of("chased it.", "baked a cake.", "drove a bus.").get(choice));
        assertThat(p.get("probabilities")).hasSize(3);
    }
}
