package dev.attune.engine.pytorch;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.attune.Attune;
import dev.attune.core.train.DefaultTrainer;
import dev.attune.engine.EngineOptions.DeviceSpec;
import dev.attune.error.EngineException;
import dev.attune.model.FineTunedModel;
import dev.attune.model.PretrainedModel;
import dev.attune.task.Dataset;
import dev.attune.task.Task;
import dev.attune.train.Trainer.TrainingResult;
import dev.attune.train.TrainingConfig;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code autoFindBatchSize}: a training pass that runs out of memory (libtorch's allocator failure,
 * injected at the engine for passes of more than two examples, so the very first batch fails) is
 * retried from the same state in passes of half the examples, and training finishes; without the
 * setting the same failure ends the run with {@link EngineException.OutOfMemory}.
 */
class AutoFindBatchSizeTest {
    static Attune attune;
    static PretrainedModel base;
    @TempDir Path tmp;
    final List<Integer> passes = Collections.synchronizedList(new ArrayList<>());

    @BeforeAll
    static void start() {
        attune = Attune.builder().device(DeviceSpec.CPU).build();
        base = attune.load(FineTuneTest.FIXTURE);
    }

    @AfterAll
    static void stop() {
        base.close();
        attune.close();
    }

    @AfterEach
    void clearFault() {
        PtTrainingSession.allocationFault = null;
    }

    private TrainingResult fit(boolean autoFind) throws IOException {
        Task t = attune.task("text-classification", Map.of("positive_label", "spam"));
        Dataset train = t.read(FineTuneTest.spamData(tmp, "train.tsv", 8, 1));
        Task task = t.withLabels(t.inferLabels(train));
        TrainingConfig config = TrainingConfig.builder().maxSteps(2).perDeviceTrainBatchSize(4).maxLength(16)
                .shuffle(false).disableTqdm(true).evalStrategy(TrainingConfig.EvalStrategy.NO)
                .autoFindBatchSize(autoFind).build();
        PtTrainingSession.allocationFault = rows -> {
            passes.add(rows);
            return rows > 2;
        };
        try (FineTunedModel m = attune.prepare(base, task, 16, 1)) {
            return new DefaultTrainer(config).train(m, train, null);
        }
    }

    @Test
    void anOutOfMemoryAtTheFirstBatchIsRetriedInHalfBatches() throws IOException {
        TrainingResult result = fit(true);
        assertThat(result.globalSteps()).isEqualTo(2);
        assertThat(result.trainLoss()).isFinite();
        // the first pass of 4 failed; from then on every batch of 4 ran as two passes of 2
        assertThat(passes).containsExactly(4, 2, 2, 2, 2);
    }

    @Test
    void withoutTheSettingTheOutOfMemoryEndsTheRunWithATypedError() {
        assertThatThrownBy(() -> fit(false))
                .isInstanceOf(EngineException.OutOfMemory.class)
                .hasMessageContaining("batch of 4 rows")
                .hasMessageContaining("--auto-find-batch-size");
        assertThat(passes).containsExactly(4);
    }
}
