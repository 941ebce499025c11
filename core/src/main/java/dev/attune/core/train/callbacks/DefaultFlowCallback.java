package dev.attune.core.train.callbacks;

import org.apiguardian.api.API;

import dev.attune.train.TrainerCallback;
import dev.attune.train.TrainerState;
import dev.attune.train.TrainingConfig;
import dev.attune.train.TrainingConfig.EvalStrategy;

/**
 * When the run logs and evaluates, from its settings, as HuggingFace's {@code DefaultFlowCallback}: a
 * log record every {@code loggingSteps} steps and at the last step; an evaluation every {@code
 * evalSteps} steps (or {@code loggingSteps} when 0) and at the last step under {@link
 * EvalStrategy#STEPS}, or at every epoch end under {@link EvalStrategy#EPOCH} unless a callback
 * stopped the run. Runs without evaluation data are not evaluated. Checkpoints are {@link
 * CheckpointCallback}'s.
 */
@API(status = API.Status.EXPERIMENTAL, since = "0.1")
public final class DefaultFlowCallback implements TrainerCallback {
    @Override
    public void onStepEnd(Context context) {
        TrainingConfig config = context.config();
        TrainerState state = context.state();
        long step = state.globalStep();
        boolean last = step >= state.maxSteps();
        if (step % config.loggingSteps() == 0 || last) {
            context.control().shouldLog(true);
        }
        if (config.evalStrategy() == EvalStrategy.STEPS && context.eval().isPresent()) {
            int every = config.evalSteps() > 0 ? config.evalSteps() : config.loggingSteps();
            if (step % every == 0 || last) {
                context.control().shouldEvaluate(true);
            }
        }
    }

    @Override
    public void onEpochEnd(Context context) {
        if (context.config().evalStrategy() == EvalStrategy.EPOCH && context.eval().isPresent()
                && !context.control().shouldTrainingStop()) {
            context.control().shouldEvaluate(true);
        }
    }
}
