package dev.attune.error;

import org.apiguardian.api.API;

import java.nio.file.Path;
import java.util.Optional;

/**
 * A training run ended early because a stop was requested through its {@link
 * dev.attune.train.TrainingControl} (the command line requests one on Ctrl-C or SIGTERM). The run's
 * progress is in {@link #checkpoint()} when it had an output folder.
 */
@API(status = API.Status.STABLE, since = "0.1")
public class TrainingStoppedException extends AttuneException {
    private static final long serialVersionUID = 1L;

    private final long step;
    private final transient Path checkpoint;

    /**
     * @param message what happened and how to continue
     * @param step optimizer steps completed when the run stopped
     * @param checkpoint the checkpoint that holds them, or null when none was written
     */
    public TrainingStoppedException(String message, long step, Path checkpoint) {
        super(message);
        this.step = step;
        this.checkpoint = checkpoint;
    }

    /** @return optimizer steps completed when the run stopped */
    public long step() {
        return step;
    }

    /** @return the checkpoint holding the run's progress, if one was written */
    public Optional<Path> checkpoint() {
        return Optional.ofNullable(checkpoint);
    }
}
