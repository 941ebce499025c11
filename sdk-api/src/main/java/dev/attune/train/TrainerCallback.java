package dev.attune.train;

import static org.apiguardian.api.API.Status.EXPERIMENTAL;
import static org.apiguardian.api.API.Status.STABLE;

import dev.attune.model.FineTunedModel;
import dev.attune.task.Dataset;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;
import org.apiguardian.api.API;

/**
 * Watches a training run at its events and steers it through {@link Control} flags, as
 * HuggingFace's {@code TrainerCallback}. Every event has a no-op default, so a callback overrides
 * only the events it needs. The trainer calls its callbacks in order on the training thread; an
 * exception a callback throws ends the run.
 *
 * <p>Each event gets a read-only {@link Context}: the run's settings, a snapshot of its {@link
 * TrainerState}, the model, the data and the {@link Control} whose flags a callback may set. Events
 * that carry data get it as a second, typed argument (the metrics of an evaluation, the folder of a
 * checkpoint, a log record). The events of one optimizer step come in this order: {@link
 * #onStepBegin}, {@link #onStepEnd}, then {@link #onLog} if the step logs, {@link #onLog} and {@link
 * #onEvaluate} if it evaluates, {@link #onSave} if it saves.
 *
 * <p>The trainer's own behaviour is built from callbacks in {@code dev.attune.core.train.callbacks}
 * (the default flow of logging and evaluation, the {@code trainer_log.jsonl} log, TensorBoard, the
 * progress bar, early stopping, checkpoints, plots and the model card): every run gets them unless
 * its {@link TrainingConfig} removes them ({@link TrainingConfig.Builder#withoutDefault}), and the
 * config adds its own ({@link TrainingConfig.Builder#callbacks}).
 *
 * <p>A callback that implements {@link AutoCloseable} is closed when the run ends, however it ends
 * (normally, stopped or failed); {@link #onTrainEnd} comes only after a run that completed. A
 * callback instance is used by every run of the configs that hold it: one that keeps state should
 * serve one run at a time.
 */
@API(status = EXPERIMENTAL, since = "0.1")
public interface TrainerCallback {
    /**
     * Before the first step (after a resumed run has restored its state and before an {@code
     * evalOnStart} evaluation).
     *
     * @param context the run
     */
    default void onTrainBegin(Context context) {}

    /**
     * After the last step of a run that completed (its steps done, or stopped by {@link
     * Control#shouldTrainingStop}), after the best checkpoint's weights were loaded back where the
     * settings ask for it. Not called when the run failed or was stopped through {@link
     * TrainingControl}.
     *
     * @param context the run
     */
    default void onTrainEnd(Context context) {}

    /**
     * At the start of an epoch, also of the epoch a resumed run continues part-way through.
     *
     * @param context the run ({@link TrainerState#epoch()} is the epoch starting, from 0)
     */
    default void onEpochBegin(Context context) {}

    /**
     * At the end of an epoch, before its evaluation and checkpoint: a callback sets {@link
     * Control#shouldEvaluate} or {@link Control#shouldSave} to have them.
     *
     * @param context the run ({@link TrainerState#epoch()} counts the epochs completed)
     */
    default void onEpochEnd(Context context) {}

    /**
     * Before the forward passes of one optimizer step (all of its gradient-accumulation batches).
     *
     * @param context the run
     */
    default void onStepBegin(Context context) {}

    /**
     * After an optimizer step; a callback sets {@link Control#shouldLog}, {@link
     * Control#shouldEvaluate} or {@link Control#shouldSave} to have them at this step.
     *
     * @param context the run ({@link TrainerState#globalStep()} counts the step just taken)
     */
    default void onStepEnd(Context context) {}

    /**
     * After an evaluation (its record was logged first).
     *
     * @param context the run
     * @param metrics the evaluation's metrics by name, without the {@code eval_} prefix
     */
    default void onEvaluate(Context context, Map<String, Double> metrics) {}

    /**
     * After a checkpoint was written.
     *
     * @param context the run
     * @param checkpoint the complete checkpoint folder ({@code outputDir/checkpoint-N})
     */
    default void onSave(Context context, Path checkpoint) {}

    /**
     * After the run logged a record: a training step's {@code step}, {@code epoch}, {@code loss},
     * {@code learning_rate}, {@code grad_norm}, {@code samples_per_second}, {@code elapsed_seconds};
     * an evaluation's {@code step}, {@code epoch} and {@code eval_*} metrics; an {@code error} or a
     * {@code stopped} reason.
     *
     * @param context the run
     * @param record the record (immutable; values may be null)
     */
    default void onLog(Context context, Map<String, Object> record) {}

    /** What an event sees of the run; the trainer implements it. */
    @API(status = EXPERIMENTAL, since = "0.1")
    interface Context {
        /** @return the run's settings */
        TrainingConfig config();

        /** @return the run's progress at this event (a snapshot: it does not change afterwards) */
        TrainerState state();

        /** @return the model being trained */
        FineTunedModel model();

        /** @return the training data */
        Dataset train();

        /** @return the evaluation data, if the run has any */
        Optional<Dataset> eval();

        /** @return the flags a callback sets to steer the run */
        Control control();
    }

    /**
     * Flags that callbacks set to steer the run, as HuggingFace's {@code TrainerControl}. The
     * trainer acts on a flag after the event that set it, at the next point where it can, and then
     * clears it: {@code shouldLog}, {@code shouldEvaluate} and {@code shouldSave} are cleared before
     * every step and after the trainer acted on them, {@code shouldEpochStop} at the start of every
     * epoch; {@code shouldTrainingStop} stays set. Not thread-safe: set flags from the events, on the
     * training thread (to stop a run from another thread use {@link TrainingControl}).
     */
    @API(status = STABLE, since = "0.1")
    final class Control {
        private boolean trainingStop;
        private boolean epochStop;
        private boolean save;
        private boolean evaluate;
        private boolean log;

        /** A control with no flag set. */
        public Control() {}

        /** @return whether the run ends after the current step (and its log, evaluation and save) */
        public boolean shouldTrainingStop() {
            return trainingStop;
        }

        /**
         * Ends the run after the current step, its log, evaluation and checkpoint: no further epoch-end
         * evaluation, then {@link #onTrainEnd}. The run completes normally (early stopping does this).
         *
         * @param value the flag
         * @return this control
         */
        public Control shouldTrainingStop(boolean value) {
            trainingStop = value;
            return this;
        }

        /** @return whether the current epoch ends after the current step */
        public boolean shouldEpochStop() {
            return epochStop;
        }

        /**
         * @param value end the current epoch after the current step (its remaining batches skipped)
         * @return this control
         */
        public Control shouldEpochStop(boolean value) {
            epochStop = value;
            return this;
        }

        /** @return whether the trainer writes a checkpoint at this point */
        public boolean shouldSave() {
            return save;
        }

        /**
         * @param value write a checkpoint at this point (the run needs an output folder)
         * @return this control
         */
        public Control shouldSave(boolean value) {
            save = value;
            return this;
        }

        /** @return whether the trainer evaluates at this point */
        public boolean shouldEvaluate() {
            return evaluate;
        }

        /**
         * @param value evaluate at this point (the run needs evaluation data)
         * @return this control
         */
        public Control shouldEvaluate(boolean value) {
            evaluate = value;
            return this;
        }

        /** @return whether the trainer logs the training loss at this point */
        public boolean shouldLog() {
            return log;
        }

        /**
         * @param value log a training record (mean loss since the last one, learning rate, ...) at
         *     this step
         * @return this control
         */
        public Control shouldLog(boolean value) {
            log = value;
            return this;
        }

        @Override
        public String toString() {
            return "Control[trainingStop=" + trainingStop + ", epochStop=" + epochStop + ", save=" + save
                    + ", evaluate=" + evaluate + ", log=" + log + "]";
        }
    }
}
