package dev.attune.core.train.callbacks;

import org.apiguardian.api.API;

import dev.attune.core.train.Checkpoints;
import dev.attune.train.TrainerCallback;
import dev.attune.train.TrainingConfig;
import java.nio.file.Path;

/**
 * When the run writes checkpoints and which it keeps: one every {@code saveSteps} steps and, with
 * {@code saveOnEpochEnd}, at every epoch end (at most one per step); after each, only the newest
 * {@code saveTotalLimit} checkpoints stay, plus the best one by {@code metricForBestModel} ({@link
 * dev.attune.train.TrainerState#bestModelCheckpoint()}, which the trainer tracks when it saves).
 * Without this callback the run writes a checkpoint only where a stop through {@link
 * dev.attune.train.TrainingControl} ends it, and where another callback asks for one.
 */
@API(status = API.Status.EXPERIMENTAL, since = "0.1")
public final class CheckpointCallback implements TrainerCallback {
    @Override
    public void onStepEnd(Context context) {
        TrainingConfig config = context.config();
        if (config.outputDir() != null && config.saveSteps() > 0
                && context.state().globalStep() % config.saveSteps() == 0) {
            context.control().shouldSave(true);
        }
    }

    @Override
    public void onEpochEnd(Context context) {
        if (context.config().outputDir() != null && context.config().saveOnEpochEnd()) {
            context.control().shouldSave(true);
        }
    }

    @Override
    public void onSave(Context context, Path checkpoint) {
        Checkpoints.rotate(checkpoint.toAbsolutePath().getParent(), context.config().saveTotalLimit(),
                context.state().bestModelCheckpoint());
    }
}
