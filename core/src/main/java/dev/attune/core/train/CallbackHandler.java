package dev.attune.core.train;

import dev.attune.core.train.callbacks.CheckpointCallback;
import dev.attune.core.train.callbacks.DefaultFlowCallback;
import dev.attune.core.train.callbacks.EarlyStoppingCallback;
import dev.attune.core.train.callbacks.JsonlLogCallback;
import dev.attune.core.train.callbacks.ModelCardCallback;
import dev.attune.core.train.callbacks.PlotsCallback;
import dev.attune.core.train.callbacks.ProgressBarCallback;
import dev.attune.core.train.callbacks.TensorBoardCallback;
import dev.attune.error.ConfigurationException;
import dev.attune.model.FineTunedModel;
import dev.attune.task.Dataset;
import dev.attune.train.TrainerCallback;
import dev.attune.train.TrainerState;
import dev.attune.train.TrainingConfig;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Collectors;

/**
 * Calls a run's callbacks in order, each event with the same snapshot of the run's state, and
 * closes those that are {@link AutoCloseable} at the end. Also the context the events see.
 */
final class CallbackHandler implements TrainerCallback.Context {
    private final List<TrainerCallback> callbacks;
    private final TrainingConfig config;
    private final RunState run;
    private final FineTunedModel model;
    private final Dataset train;
    private final Dataset eval;
    private final TrainerCallback.Control control = new TrainerCallback.Control();
    private TrainerState snapshot;

    CallbackHandler(List<TrainerCallback> callbacks, TrainingConfig config, RunState run, FineTunedModel model,
            Dataset train, Dataset eval) {
        this.callbacks = List.copyOf(callbacks);
        this.config = config;
        this.run = run;
        this.model = model;
        this.train = train;
        this.eval = eval;
    }

    /**
     * The callbacks of a run of this config: the built-in ones, less those it leaves out, with its
     * own after them (one of a built-in's class takes that one's place).
     *
     * @param config the run's settings
     * @return new built-in instances and the config's own, in calling order
     * @throws ConfigurationException when the config leaves out a class that is no built-in callback
     */
    static List<TrainerCallback> forRun(TrainingConfig config) {
        List<TrainerCallback> defaults = new ArrayList<>(List.of(new DefaultFlowCallback(), new JsonlLogCallback(),
                new TensorBoardCallback(), new ProgressBarCallback(), new EarlyStoppingCallback(),
                new CheckpointCallback(), new PlotsCallback(), new ModelCardCallback()));
        for (Class<? extends TrainerCallback> type : config.withoutDefaults()) {
            if (defaults.stream().noneMatch(d -> d.getClass() == type)) {
                throw new ConfigurationException("withoutDefault(" + type.getName() + "): not a built-in callback; the"
                        + " built-in ones are " + defaults.stream().map(d -> d.getClass().getSimpleName())
                                .collect(Collectors.joining(", ")));
            }
        }
        defaults.removeIf(d -> config.withoutDefaults().contains(d.getClass()));
        List<TrainerCallback> out = new ArrayList<>(defaults);
        for (TrainerCallback own : config.callbacks()) {
            int i = indexOfClass(out, own.getClass(), defaults);
            if (i >= 0) {
                out.set(i, own);
            } else {
                out.add(own);
            }
        }
        return out;
    }

    private static int indexOfClass(List<TrainerCallback> list, Class<?> type, List<TrainerCallback> defaults) {
        for (int i = 0; i < list.size(); i++) {
            TrainerCallback c = list.get(i);
            if (c.getClass() == type && defaults.contains(c)) {
                return i;
            }
        }
        return -1;
    }

    /** @return the callbacks, in calling order */
    List<TrainerCallback> callbacks() {
        return callbacks;
    }

    @Override
    public TrainingConfig config() {
        return config;
    }

    @Override
    public TrainerState state() {
        if (snapshot == null) {
            snapshot = run.snapshot(null, null, null);
        }
        return snapshot;
    }

    @Override
    public FineTunedModel model() {
        return model;
    }

    @Override
    public Dataset train() {
        return train;
    }

    @Override
    public Optional<Dataset> eval() {
        return Optional.ofNullable(eval);
    }

    @Override
    public TrainerCallback.Control control() {
        return control;
    }

    /** Each event sees the state as it is when the event starts. */
    private void fresh() {
        snapshot = null;
    }

    void onTrainBegin() {
        control.shouldTrainingStop(false);
        fresh();
        for (TrainerCallback c : callbacks) {
            c.onTrainBegin(this);
        }
    }

    void onTrainEnd() {
        fresh();
        for (TrainerCallback c : callbacks) {
            c.onTrainEnd(this);
        }
    }

    void onEpochBegin() {
        control.shouldEpochStop(false);
        fresh();
        for (TrainerCallback c : callbacks) {
            c.onEpochBegin(this);
        }
    }

    void onEpochEnd() {
        fresh();
        for (TrainerCallback c : callbacks) {
            c.onEpochEnd(this);
        }
    }

    void onStepBegin() {
        control.shouldLog(false).shouldEvaluate(false).shouldSave(false);
        fresh();
        for (TrainerCallback c : callbacks) {
            c.onStepBegin(this);
        }
    }

    void onStepEnd() {
        fresh();
        for (TrainerCallback c : callbacks) {
            c.onStepEnd(this);
        }
    }

    void onEvaluate(Map<String, Double> metrics) {
        control.shouldEvaluate(false);
        fresh();
        Map<String, Double> view = Collections.unmodifiableMap(new LinkedHashMap<>(metrics));
        for (TrainerCallback c : callbacks) {
            c.onEvaluate(this, view);
        }
    }

    void onSave(Path checkpoint) {
        control.shouldSave(false);
        fresh();
        for (TrainerCallback c : callbacks) {
            c.onSave(this, checkpoint);
        }
    }

    void onLog(Map<String, Object> record) {
        control.shouldLog(false);
        fresh();
        Map<String, Object> view = Collections.unmodifiableMap(new LinkedHashMap<>(record));
        for (TrainerCallback c : callbacks) {
            c.onLog(this, view);
        }
    }

    /**
     * Closes the callbacks that hold resources, last first; the first failure is thrown once all
     * were closed, later ones added to it.
     *
     * @param pending the failure that ended the run, or null: close failures are added to it instead
     */
    void close(Throwable pending) {
        RuntimeException failure = null;
        if (pending != null && !(pending instanceof dev.attune.error.TrainingStoppedException)) {
            // a failed run (a full disk, an error) takes back the run files it wrote, last callback first
            for (int i = callbacks.size() - 1; i >= 0; i--) {
                if (callbacks.get(i) instanceof RunFiles.Undoable undoable) {
                    try {
                        undoable.undo();
                    } catch (RuntimeException e) {
                        pending.addSuppressed(e);
                    }
                }
            }
        }
        for (int i = callbacks.size() - 1; i >= 0; i--) {
            if (callbacks.get(i) instanceof AutoCloseable closeable) {
                try {
                    closeable.close();
                } catch (Exception e) {
                    if (pending != null) {
                        pending.addSuppressed(e);
                    } else if (failure == null) {
                        failure = e instanceof RuntimeException r ? r
                                : new dev.attune.error.AttuneException("could not close the training callback "
                                        + callbacks.get(i).getClass().getName() + ": " + e.getMessage(), e);
                    } else {
                        failure.addSuppressed(e);
                    }
                }
            }
        }
        if (failure != null) {
            throw failure;
        }
    }
}
