package dev.attune.core.train.callbacks;

import org.apiguardian.api.API;

import dev.attune.train.TrainerCallback;
import dev.attune.train.TrainerState;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Stops the run (normally: {@link Control#shouldTrainingStop}) once {@code metricForBestModel} has
 * not improved by more than {@code earlyStoppingThreshold} for {@code earlyStoppingPatience}
 * evaluations in a row, as HuggingFace's {@code EarlyStoppingCallback}. The trainer counts those
 * evaluations in {@link TrainerState#evalsWithoutImprovement()}, so the count survives a resume; an
 * {@code evalOnStart} evaluation does not count. Does nothing when the patience is 0.
 */
@API(status = API.Status.EXPERIMENTAL, since = "0.1")
public final class EarlyStoppingCallback implements TrainerCallback {
    private static final Logger LOG = LoggerFactory.getLogger(EarlyStoppingCallback.class);

    @Override
    public void onEvaluate(Context context, Map<String, Double> metrics) {
        int patience = context.config().earlyStoppingPatience();
        TrainerState state = context.state();
        if (patience > 0 && state.evalsWithoutImprovement() >= patience && !context.control().shouldTrainingStop()) {
            LOG.info("early stopping at step {}: {} has not improved on {} for {} evaluations", state.globalStep(),
                    context.config().metricForBestModel(context.model().task()), state.earlyStoppingBest(),
                    state.evalsWithoutImprovement());
            context.control().shouldTrainingStop(true);
        }
    }
}
