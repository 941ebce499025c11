package dev.attune.core.train;

import dev.attune.train.TrainingConfig;

import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.attune.error.InvalidDataException;
import dev.attune.task.Dataset;
import dev.attune.task.Example;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Empty data sets are rejected before training starts: before the model, the task or the engine
 * is touched (the model passed here is null, so any later check would fail differently).
 */
class TrainerInputTest {
    private static final Example ONE = () -> "train.tsv:2";

    @Test
    void anEmptyTrainingSetIsRejectedFirst() {
        DefaultTrainer trainer = new DefaultTrainer(TrainingConfig.builder().build());
        assertThatThrownBy(() -> trainer.train(null, new Dataset("train.tsv", List.of(), 3), null))
                .isInstanceOf(InvalidDataException.class)
                .hasMessage("train.tsv: the training set is empty; nothing to train on");
    }

    @Test
    void anEmptyEvaluationSetIsRejectedBeforeTraining() {
        DefaultTrainer trainer = new DefaultTrainer(TrainingConfig.builder().build());
        assertThatThrownBy(() -> trainer.train(null, new Dataset("train.tsv", List.of(ONE), 0),
                        new Dataset("dev.tsv", List.of(), 0)))
                .isInstanceOf(InvalidDataException.class)
                .hasMessageStartingWith("dev.tsv: the evaluation set is empty");
    }
}
