package dev.attune.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.attune.testing.SharedFiles;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code attune generate} and {@code attune fine-tune --task seq2seq} with the fixture T5. */
class Seq2SeqCliTest {
    static final Path T5 = SharedFiles.path("fixtures/hf/t5-seq2seq");

    @TempDir
    Path tmp;

    @Test
    void generatePrintsHuggingFaceGreedyIdsAndRunsBeamSearch() throws Exception {
        JsonNode c = new ObjectMapper().readTree(T5.resolve("reference.json").toFile()).get("cases").get(0);
        JsonNode greedy = c.get("greedy_ids");
        String maxNew = Integer.toString(greedy.size() - 1);
        String[] lines = CliTest.run("generate", "--model", T5.toString(), "--prompt", c.get("text").asText(), "--greedy",
                "--max-new-tokens", maxNew, "--print-ids", "--device", "cpu").strip().split("\\R");
        assertThat(new ObjectMapper().readTree(lines[lines.length - 1])).isEqualTo(greedy);

        String[] beam = CliTest.run("generate", "--model", T5.toString(), "--prompt", c.get("text").asText(),
                "--num-beams", "3", "--length-penalty", "0.8", "--early-stopping", "true", "--max-new-tokens", maxNew,
                "--print-ids", "--device", "cpu").strip().split("\\R");
        JsonNode ids = new ObjectMapper().readTree(beam[beam.length - 1]);
        assertThat(ids.get(0).asInt()).isZero(); // decoder_start_token_id
        assertThat(ids.size()).isBetween(2, greedy.size());
    }

    @Test
    void fineTunesWithTheSeq2SeqTaskAndReportsBleuAndRouge() throws Exception {
        Path train = Files.writeString(tmp.resolve("train.tsv"),
                "en\tde\nThe house is wonderful.\tDas Haus ist wunderbar.\nthe quick brown fox\tder schnelle Fuchs\n");
        Path out = tmp.resolve("run");
        CliTest.run("fine-tune", "--task", "seq2seq", "--model", T5.toString(), "--train", train.toString(),
                "--eval", train.toString(), "--task-option", "source_column=en", "--task-option", "target_column=de",
                "--task-option", "prefix=translate English to German: ", "--task-option", "max_new_tokens=6",
                "--max-steps", "2", "--batch-size", "2", "--learning-rate", "1e-3", "--output", out.toString(),
                "--no-progress", "--device", "cpu");
        JsonNode metrics = new ObjectMapper().readTree(out.resolve("metrics.json").toFile());
        assertThat(metrics.get("global_steps").asInt()).isEqualTo(2);
        assertThat(metrics.has("eval_bleu")).isTrue();
        assertThat(metrics.get("eval_rougeL").asDouble()).isBetween(0.0, 1.0);
        assertThat(metrics.get("eval_gen_len").asDouble()).isBetween(1.0, 6.0);
        JsonNode config = new ObjectMapper().readTree(out.resolve("config.json").toFile());
        assertThat(config.get("architectures").get(0).asText()).isEqualTo("T5ForConditionalGeneration");
        assertThat(config.get("attune").get("task").asText()).isEqualTo("seq2seq");
        assertThat(out.resolve("model.safetensors")).exists();
    }
}
