package dev.attune.samples.callbacks;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.attune.Attune;
import dev.attune.core.train.callbacks.PlotsCallback;
import dev.attune.engine.EngineOptions.DeviceSpec;
import dev.attune.model.PretrainedModel;
import dev.attune.task.Dataset;
import dev.attune.task.Task;
import dev.attune.testing.SharedFiles;
import dev.attune.train.TrainingConfig;
import dev.attune.train.Trainer.TrainingResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The sample callback on short fine-tunes of the fixture BERT: the events it sees, and its stop. */
class StopAtLossTest {
    static Attune attune;
    static PretrainedModel base;

    @TempDir
    Path tmp;
    Task task;
    Dataset data;

    @BeforeAll
    static void start() {
        attune = Attune.builder().device(DeviceSpec.CPU).seed(42).build();
        base = attune.load(SharedFiles.path("fixtures/hf/bert-seqcls"));
    }

    @AfterAll
    static void stop() {
        base.close();
        attune.close();
    }

    @BeforeEach
    void data() throws Exception {
        StringBuilder rows = new StringBuilder("sentence\tsentiment\n");
        for (int i = 0; i < 24; i++) {
            rows.append(i % 2 == 0 ? "the movie was wonderful\tpos\n" : "terrible plot and boring\tneg\n");
        }
        task = attune.task("text-classification", Map.of("text_column", "sentence", "label_column", "sentiment"));
        data = task.read(Files.writeString(tmp.resolve("reviews.tsv"), rows.toString()));
    }

    /** 24 rows in batches of 8: three steps an epoch, each logged. */
    TrainingConfig.Builder config(Path out, StopAtLoss callback) {
        return TrainingConfig.builder().outputDir(out).learningRate(5e-3).perDeviceTrainBatchSize(8).maxLength(16)
                .loggingSteps(1).disableTqdm(true).callbacks(callback);
    }

    @Test
    void aRunThatNeverReachesTheTargetShowsEveryEventInOrder() throws Exception {
        StopAtLoss journal = new StopAtLoss(-1);
        Path out = tmp.resolve("full");
        Attune.Result result = attune.fineTune(base, task, data, data, config(out, journal).numTrainEpochs(1).build());
        result.model().close();
        TrainingResult r = result.training();
        assertThat(journal.journal()).containsExactly(
                "train_begin step 0 of 3",
                "epoch_begin 0",
                "step_begin 1", "step_end 1", "log 1",
                "step_begin 2", "step_end 2", "log 2",
                "step_begin 3", "step_end 3", "log 3",
                "epoch_end 1",
                "log eval 3", "evaluate 3",
                "train_end step 3");
        assertThat(r.globalSteps()).isEqualTo(3);
        // the built-in callbacks ran beside it
        assertThat(out.resolve("trainer_log.jsonl")).isRegularFile();
        assertThat(out.resolve("README.md")).isRegularFile();
        assertThat(out.resolve(PlotsCallback.TRAIN_LOSS)).isRegularFile();
    }

    @Test
    void reachingTheTargetSavesThereAndEndsTheRunNormally() throws Exception {
        StopAtLoss stop = new StopAtLoss(100); // any loss reaches it: the first logged step ends the run
        Path out = tmp.resolve("stopped");
        Attune.Result result = attune.fineTune(base, task, data, data, config(out, stop).numTrainEpochs(2)
                .withoutDefault(PlotsCallback.class).build());
        result.model().close();
        assertThat(stop.journal()).containsExactly(
                "train_begin step 0 of 6",
                "epoch_begin 0",
                "step_begin 1", "step_end 1", "log 1", "target reached",
                "save checkpoint-1",
                "epoch_end 1", // no evaluation: the run was stopped
                "train_end step 1");
        TrainingResult r = result.training();
        assertThat(r.globalSteps()).isEqualTo(1);
        assertThat(r.evalHistory()).isEmpty();
        assertThat(out.resolve("checkpoint-1/model.safetensors")).isRegularFile();
        assertThat(new ObjectMapper().readTree(out.resolve("trainer_state.json").toFile()).get("stopped_early")
                .asBoolean()).isTrue();
        // the plots were left out; the model card, still there, shows none
        assertThat(out.resolve(PlotsCallback.TRAIN_LOSS)).doesNotExist();
        assertThat(Files.readString(out.resolve("README.md"))).contains("| global_steps | 1 |").doesNotContain(".png");
        assertThat(List.of(out.toFile().list())).doesNotContain(PlotsCallback.EVAL_METRICS);
    }
}
