package dev.attune.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.attune.testing.SharedFiles;
import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The model card, plots and kept checkpoints of fine-tune, and the tune command, on the tiny fixture BERT. */
class TuneAndModelCardTest {
    static final Path FIXTURE = SharedFiles.path("fixtures/hf/bert-seqcls");

    @TempDir
    Path tmp;

    Path data() throws Exception {
        StringBuilder data = new StringBuilder("sentence\tsentiment\n");
        for (int i = 0; i < 24; i++) {
            data.append(i % 2 == 0 ? "the movie was wonderful\tpos\n" : "terrible plot and boring\tneg\n");
        }
        return Files.writeString(tmp.resolve("train.tsv"), data.toString());
    }

    @Test
    void fineTuneWritesAModelCardPlotsAndKeepsItsCheckpoints() throws Exception {
        Path train = data();
        Path out = tmp.resolve("model");
        CliTest.run("fine-tune", "--model", FIXTURE.toString(), "--train", train.toString(), "--eval", train.toString(),
                "--text-column", "sentence", "--label-column", "sentiment", "--epochs", "2", "--batch-size", "8",
                "--learning-rate", "5e-3", "--max-length", "16", "--logging-steps", "1", "--save-steps", "3",
                "--save-total-limit", "1", "--lr-scheduler-type", "slanted_triangular", "--group-by-length",
                "--output", out.toString(), "--no-progress", "--device", "cpu");
        String card = Files.readString(out.resolve("README.md"));
        assertThat(card).contains("## Data", "## Results", "eval_accuracy", "## Training settings", "learningRate | 0.005",
                "lrSchedulerType | SLANTED_TRIANGULAR", "## Reproduce", "./attune fine-tune --model " + FIXTURE,
                "train_loss.png");
        JsonNode metrics = new ObjectMapper().readTree(out.resolve("metrics.json").toFile());
        assertThat(card).contains(String.format(java.util.Locale.ROOT, "%.4f", metrics.get("eval_accuracy").asDouble()));
        for (String png : List.of("train_loss.png", "eval_metrics.png")) {
            BufferedImage img = ImageIO.read(out.resolve(png).toFile());
            assertThat(img).as(png).isNotNull();
            assertThat(img.getWidth()).isEqualTo(900);
        }
        // the final save keeps the run's files: newest checkpoint, log, TensorBoard events
        assertThat(out.resolve("checkpoint-6/trainer_state.json")).isRegularFile();
        assertThat(out.resolve("checkpoint-3")).doesNotExist();
        assertThat(out.resolve("trainer_log.jsonl")).isRegularFile();
        assertThat(Files.list(out.resolve("runs")).toList()).hasSize(1);
        assertThat(out.resolve("model.safetensors")).isRegularFile();
    }

    @Test
    void randomSearchAndSuccessiveHalvingRecordEveryTrialAndReportSensitivity() throws Exception {
        Path train = data();
        Path out = tmp.resolve("tune");
        String best = CliTest.run("tune", "--model", FIXTURE.toString(), "--train", train.toString(), "--eval",
                train.toString(), "--text-column", "sentence", "--label-column", "sentiment", "--search", "random",
                "--trials", "3", "--parallel", "2", "--threads", "2", "--max-steps", "2", "--max-length", "16",
                "--learning-rate", "1e-4:1e-2", "--batch-size", "4,8", "--objective", "eval_accuracy",
                "--output", out.toString(), "--device", "cpu");
        List<String> trials = Files.readAllLines(out.resolve("trials.jsonl"));
        assertThat(trials).hasSize(3);
        for (String t : trials) {
            JsonNode n = new ObjectMapper().readTree(t);
            double lr = n.get("hyperparameters").get("learning_rate").asDouble();
            assertThat(lr).isBetween(1e-4, 1e-2);
            assertThat(n.get("global_steps").asInt()).isEqualTo(2);
            assertThat(n.get("objective").asDouble()).isEqualTo(n.get("eval_metrics").get("accuracy").asDouble());
        }
        JsonNode summary = new ObjectMapper().readTree(best);
        assertThat(summary.get("trials").asInt()).isEqualTo(3);
        String report = Files.readString(out.resolve("tune_report.md"));
        assertThat(report).contains("| trial |", "## Sensitivity", "learning_rate", "weight_decay");
        for (String p : TuneCommand.PARAMS) {
            assertThat(ImageIO.read(out.resolve("sensitivity_" + p + ".png").toFile())).isNotNull();
        }

        Path halving = tmp.resolve("halving");
        CliTest.run("tune", "--model", FIXTURE.toString(), "--train", train.toString(), "--eval", train.toString(),
                "--text-column", "sentence", "--label-column", "sentiment", "--search", "halving", "--trials", "4",
                "--halving-factor", "2", "--parallel", "2", "--epochs", "2", "--batch-size", "8", "--max-length", "16",
                "--output", halving.toString(), "--device", "cpu");
        // rungs of 4, 2 and 1 candidates with 1/4, 1/2 and all of the epochs
        List<String> rungs = Files.readAllLines(halving.resolve("trials.jsonl"));
        assertThat(rungs).hasSize(7);
        assertThat(new ObjectMapper().readTree(rungs.get(6)).get("budget").asDouble()).isEqualTo(1.0);
        assertThat(new ObjectMapper().readTree(rungs.get(0)).get("budget").asDouble()).isEqualTo(0.25);
    }
}
