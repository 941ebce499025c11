package dev.attune.train;

import static org.apiguardian.api.API.Status.STABLE;

import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import org.apiguardian.api.API;

/**
 * A handle on a training run for code outside its loop: it stops the run cleanly and hears what the
 * run logs. Thread-safe: a user interface, a shutdown hook or a listener may call {@link
 * #requestStop} from any thread while {@link Trainer#train} runs on another.
 *
 * <p>A stop takes effect after the optimizer step in progress (and an evaluation that step started):
 * the trainer writes a checkpoint there when the run has an output folder (unless {@link
 * #checkpointOnStop} turned that off), so {@code
 * resumeFromCheckpoint} (or {@code ./attune fine-tune --resume}) continues from that step and ends
 * where the uninterrupted run would have, and then throws {@link dev.attune.error.TrainingStoppedException}.
 * One control may serve several runs (the trials of a search): a request stops all of them.
 *
 * <p>A {@link TrainerCallback} steers a run from inside its events instead (its {@link
 * TrainerCallback.Control} flags); this handle is for code outside the run.
 */
@API(status = STABLE, since = "0.1")
public final class TrainingControl {
    private volatile String stopReason;
    private volatile boolean checkpointOnStop = true;
    private final List<Listener> listeners = new CopyOnWriteArrayList<>();

    /** Asks the runs under this control to stop after their current step; later calls change nothing. */
    public void requestStop() {
        requestStop("stop requested");
    }

    /**
     * Asks the runs under this control to stop after their current step.
     *
     * @param reason why, for the exception's message (the first reason given is kept)
     */
    public synchronized void requestStop(String reason) {
        if (stopReason == null) {
            stopReason = reason == null || reason.isBlank() ? "stop requested" : reason;
        }
    }

    /** @return whether a stop was requested */
    public boolean isStopRequested() {
        return stopReason != null;
    }

    /** @return why the stop was requested, or null when it was not */
    public String stopReason() {
        return stopReason;
    }

    /**
     * @param value whether a stopped run writes a checkpoint at the step where it stopped (default true;
     *     only runs with an output folder write one)
     * @return this control
     */
    public TrainingControl checkpointOnStop(boolean value) {
        checkpointOnStop = value;
        return this;
    }

    /** @return whether a stopped run writes a checkpoint where it stopped */
    public boolean checkpointsOnStop() {
        return checkpointOnStop;
    }

    /**
     * @param listener told of every record the runs log
     * @return this control
     */
    public TrainingControl addListener(Listener listener) {
        listeners.add(java.util.Objects.requireNonNull(listener, "listener"));
        return this;
    }

    /**
     * Hands a log record to the listeners (the trainer calls this for every record it logs).
     *
     * @param record the record; null values are left out of what listeners see
     */
    public void publish(Map<String, Object> record) {
        if (listeners.isEmpty()) {
            return;
        }
        Map<String, Object> copy = Map.copyOf(withoutNulls(record));
        for (Listener l : listeners) {
            l.onLog(copy);
        }
    }

    private static Map<String, Object> withoutNulls(Map<String, Object> record) {
        Map<String, Object> m = new java.util.LinkedHashMap<>();
        record.forEach((k, v) -> {
            if (v != null) {
                m.put(k, v);
            }
        });
        return m;
    }

    /**
     * Hears a training run's log as it is written: the records of {@code trainer_log.jsonl} (a logging
     * step's {@code step}, {@code epoch}, {@code loss}, {@code learning_rate}, {@code grad_norm}, {@code
     * samples_per_second}, {@code elapsed_seconds}; an evaluation's {@code step}, {@code epoch} and
     * {@code eval_*} metrics; an {@code error} or a {@code stopped} reason), whether or not the run has
     * an output folder. Called on the training thread, so it should return quickly; what it throws ends
     * the run. Register it with {@link TrainingControl#addListener}.
     */
    @API(status = STABLE, since = "0.1")
    @FunctionalInterface
    public interface Listener {
        /** @param record one log record (immutable; null values left out) */
        void onLog(Map<String, Object> record);
    }
}
