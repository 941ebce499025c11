package dev.attune.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.attune.core.tune.HyperparameterSearch;
import dev.attune.testing.SharedFiles;
import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
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
        return Files.writeString(tmp.resolve("train.tsv"), CliTest.reviews(24, i -> i % 2 != 0));
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
        // an evaluation at each of the two epoch ends, at whole steps (3 and 6), not 3.0
        assertThat(metrics.get("eval_history")).hasSize(2);
        assertThat(metrics.get("eval_history").get(1).get("step").isIntegralNumber()).isTrue();
        assertThat(metrics.get("eval_history").get(1).get("step").asLong()).isEqualTo(6);
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
    void balancedClassWeightsAreFixedFromTheTrainingDataAndSavedWithTheModel() throws Exception {
        Path train = Files.writeString(tmp.resolve("imbalanced.tsv"), CliTest.reviews(24, i -> i % 4 == 0));
        Path out = tmp.resolve("weighted");
        CliTest.run("fine-tune", "--model", FIXTURE.toString(), "--train", train.toString(), "--eval", train.toString(),
                "--text-column", "sentence", "--label-column", "sentiment", "--class-weights", "balanced",
                "--epochs", "1", "--batch-size", "8", "--learning-rate", "5e-3", "--max-length", "16",
                "--output", out.toString(), "--no-progress", "--device", "cpu", "--no-model-card");
        JsonNode options = new ObjectMapper().readTree(out.resolve("config.json").toFile()).path("attune").path("task_options");
        // 24 / (2 * 6) for neg and 24 / (2 * 18) for pos
        assertThat(options.path("class_weights").asText()).isEqualTo("neg=2.0,pos=" + (24f / 36f));
        assertThat(new ObjectMapper().readTree(out.resolve("metrics.json").toFile()).path("eval_loss").asDouble()).isPositive();
    }

    /** A 3-trial random search of 2 steps per trial, one trial at a time. */
    static List<String> threeTrialSearch(Path train, Path out) {
        return List.of("tune", "--model", FIXTURE.toString(), "--train", train.toString(), "--eval",
                train.toString(), "--text-column", "sentence", "--label-column", "sentiment", "--trials", "3",
                "--parallel", "1", "--max-steps", "2", "--max-length", "16", "--batch-size", "8",
                "--output", out.toString(), "--device", "cpu");
    }

    @Test
    void anInterruptedSearchResumesReusingItsRecordedTrials() throws Exception {
        Path train = data();
        Path out = tmp.resolve("resume");
        List<String> args = threeTrialSearch(train, out);
        CliTest.run(args.toArray(String[]::new));
        List<String> full = Files.readAllLines(out.resolve("trials.jsonl"));
        assertThat(full).hasSize(3);

        // as if killed while writing the third record, before the report
        Files.writeString(out.resolve("trials.jsonl"), full.get(0) + "\n" + full.get(1) + "\n" + full.get(2).substring(0, 20));
        Files.delete(out.resolve("tune_report.md"));
        List<String> resumed = new java.util.ArrayList<>(args);
        resumed.add("--resume");
        String best = CliTest.run(resumed.toArray(String[]::new));

        List<String> after = Files.readAllLines(out.resolve("trials.jsonl"));
        assertThat(after).hasSize(3);
        ObjectMapper json = new ObjectMapper();
        // the first two are the recorded ones (same seconds: not run again); the third ran again, same settings
        assertThat(json.readTree(after.get(0))).isEqualTo(json.readTree(full.get(0)));
        assertThat(json.readTree(after.get(1))).isEqualTo(json.readTree(full.get(1)));
        assertThat(json.readTree(after.get(2)).get("hyperparameters")).isEqualTo(json.readTree(full.get(2)).get("hyperparameters"));
        assertThat(json.readTree(after.get(2)).get("seconds")).isNotEqualTo(json.readTree(full.get(2)).get("seconds"));
        assertThat(json.readTree(best).get("trials").asInt()).isEqualTo(3);
        assertThat(out.resolve("tune_report.md")).isRegularFile();

        // other settings: refused, naming what differs, and the records stay
        List<String> other = new java.util.ArrayList<>(resumed);
        other.set(other.indexOf("--max-steps") + 1, "3");
        assertThat(AttuneCli.execute(other.toArray(String[]::new))).isNotZero();
        assertThat(Files.readAllLines(out.resolve("trials.jsonl"))).hasSize(3);
    }

    @Test
    void aStoppedSearchKeepsItsFinishedTrialsAndResumesWithTheRest() throws Exception {
        Path train = data();
        Path out = tmp.resolve("stopped");
        List<String> args = threeTrialSearch(train, out);
        // as Ctrl-C would, once the first trial has logged its last step: that trial ends, the others do not start
        GracefulStop.onNewControl(control -> control.addListener(record -> {
            if (record.containsKey("loss")) {
                control.requestStop(GracefulStop.REASON);
            }
        }));
        String err;
        try {
            err = CliTest.runRefused(args.toArray(String[]::new));
        } finally {
            GracefulStop.onNewControl(null);
        }
        assertThat(err)
                .contains("interrupted (Ctrl-C or SIGTERM): the search stopped; 1 finished trial(s) are recorded")
                .contains("--resume");
        assertThat(Files.readAllLines(out.resolve("trials.jsonl"))).hasSize(1);
        assertThat(out.resolve("tune_report.md")).doesNotExist();

        List<String> resumed = new java.util.ArrayList<>(args);
        resumed.add("--resume");
        String best = CliTest.run(resumed.toArray(String[]::new));
        assertThat(Files.readAllLines(out.resolve("trials.jsonl"))).hasSize(3);
        assertThat(new ObjectMapper().readTree(best).get("trials").asInt()).isEqualTo(3);
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
        for (String p : HyperparameterSearch.PARAMS) {
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
    @Test
    void pairTasksAndEvalFilesWithOtherColumnsTuneWithTheTaskOptionsOfFineTune() throws Exception {
        StringBuilder train = new StringBuilder("a\tb\tquality\n");
        StringBuilder eval = new StringBuilder("first\tsecond\tquality\n");
        for (int i = 0; i < 12; i++) {
            String row = i % 2 == 0 ? "the movie was wonderful\tthe film was great\tsame\n"
                    : "the movie was wonderful\tterrible plot and boring\tdiff\n";
            train.append(row);
            eval.append(row);
        }
        Path trainFile = Files.writeString(tmp.resolve("pairs.tsv"), train.toString());
        Path evalFile = Files.writeString(tmp.resolve("pairs-eval.tsv"), eval.toString());
        Path out = tmp.resolve("pair-tune");
        List<String> search = new ArrayList<>(List.of("tune", "--model", FIXTURE.toString(),
                "--task", "text-pair-classification", "--train", trainFile.toString(), "--eval", evalFile.toString(),
                "--text-column", "a", "--text-pair-column", "b", "--label-column", "quality",
                "--eval-task-option", "text_column=first", "--eval-task-option", "text_pair_column=second",
                "--trials", "2", "--parallel", "1", "--max-steps", "2", "--max-length", "16", "--batch-size", "4",
                "--output", out.toString(), "--device", "cpu"));
        CliTest.run(search.toArray(String[]::new));
        List<String> trials = Files.readAllLines(out.resolve("trials.jsonl"));
        assertThat(trials).hasSize(2);
        for (String t : trials) {
            assertThat(new ObjectMapper().readTree(t).get("eval_metrics").get("accuracy").asDouble()).isBetween(0.0, 1.0);
        }
        JsonNode settings = new ObjectMapper().readTree(out.resolve(HyperparameterSearch.SETTINGS_FILE).toFile());
        assertThat(settings.get("text_pair_column").asText()).isEqualTo("b");
        assertThat(settings.get("eval_task_options").get("text_pair_column").asText()).isEqualTo("second");

        // without the eval options the eval file's columns are not found, and the error names them
        Path plain = tmp.resolve("pair-tune-plain");
        List<String> without = new ArrayList<>(search);
        int i = without.indexOf("--eval-task-option");
        without.subList(i, i + 4).clear();
        without.set(without.indexOf(out.toString()), plain.toString());
        assertThat(CliTest.runRefused(without.toArray(String[]::new))).contains(evalFile.getFileName().toString());

        // resuming with other eval options is refused, naming the setting
        List<String> other = new ArrayList<>(search);
        other.set(other.indexOf("text_pair_column=second"), "text_pair_column=first");
        other.add("--resume");
        assertThat(CliTest.runRefused(other.toArray(String[]::new))).contains("eval_task_options");
    }
}
