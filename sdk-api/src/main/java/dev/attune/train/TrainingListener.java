package dev.attune.train;

import java.util.Map;

/**
 * Hears a training run's log as it is written: the records of {@code trainer_log.jsonl} (a logging
 * step's {@code step}, {@code epoch}, {@code loss}, {@code learning_rate}, {@code grad_norm}, {@code
 * samples_per_second}, {@code elapsed_seconds}; an evaluation's {@code step}, {@code epoch} and
 * {@code eval_*} metrics; an {@code error} or a {@code stopped} reason), whether or not the run has an
 * output folder. Called on the training thread, so it should return quickly; what it throws ends the
 * run. Register it with {@link TrainingControl#addListener}.
 */
@FunctionalInterface
public interface TrainingListener {
    /** @param record one log record (immutable; null values left out) */
    void onLog(Map<String, Object> record);
}
