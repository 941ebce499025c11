package dev.attune.cli;

import dev.attune.error.AttuneException;
import dev.attune.train.TrainingControl;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;

/**
 * Ctrl-C and SIGTERM while a command runs. Without this, the JVM would run its exit sequence while
 * the command's thread is inside libtorch, which then fails in native code (a SIGSEGV and an
 * hs_err file) and, in training, loses the work since the last checkpoint. Instead a shutdown hook
 * asks the command to stop at its next safe point and holds the exit until the command has returned
 * (at most {@link #WAIT_SECONDS_PROPERTY} seconds, default 600); the process then ends with the
 * signal's status (130 or 143). Training stops after its current step and writes a checkpoint there;
 * {@code predict}, {@code logits}, {@code generate} and the benchmarks stop after the current batch,
 * row or token ({@link #checkInterrupted()}), keeping what they have already written; a command with
 * no such point (export) is let finish.
 *
 * <p>The hook exists only in a real {@code attune} process ({@link AttuneCli#main}); commands run
 * in-process by tests each get a fresh control that nothing stops.
 */
final class GracefulStop {
    /** System property: the longest the exit waits for the step in progress and its checkpoint, in seconds. */
    static final String WAIT_SECONDS_PROPERTY = "attune.stopWaitSeconds";
    static final String REASON = "interrupted (Ctrl-C or SIGTERM)";

    private static final AtomicReference<TrainingControl> CURRENT = new AtomicReference<>();
    private static final CountDownLatch FINISHED = new CountDownLatch(1);
    private static volatile boolean interrupted;
    private static volatile Consumer<TrainingControl> onNewControl = c -> { };

    private GracefulStop() {}

    /** Installs the shutdown hook; call once, from {@code main}. */
    static void install() {
        Runtime.getRuntime().addShutdownHook(new Thread(GracefulStop::onExit, "attune-graceful-stop"));
    }

    /** @return a control for the command's training, stopped by Ctrl-C or SIGTERM */
    static TrainingControl newControl() {
        TrainingControl control = new TrainingControl();
        if (interrupted) { // Ctrl-C came while the command was still loading: stop before the first step
            control.requestStop(REASON);
        }
        CURRENT.set(control);
        onNewControl.accept(control);
        return control;
    }

    /**
     * @param hook sees each control a command creates, before the command trains (tests attach
     *     listeners with it); null removes it
     */
    static void onNewControl(Consumer<TrainingControl> hook) {
        onNewControl = hook == null ? c -> { } : hook;
    }

    /**
     * A safe point of a command that does not train: between batches or generated tokens.
     *
     * @throws CommandInterruptedException after Ctrl-C or SIGTERM
     */
    static void checkInterrupted() {
        if (interrupted) {
            throw new CommandInterruptedException();
        }
    }

    /**
     * A safe point of a command that trains, between loading steps (model, data) before the first
     * training step.
     *
     * @param control the command's control
     * @param done what has been loaded, for the message
     * @throws dev.attune.error.TrainingStoppedException after Ctrl-C or SIGTERM
     */
    static void checkStopped(TrainingControl control, String done) {
        if (control.isStopRequested()) {
            throw new dev.attune.error.TrainingStoppedException(control.stopReason() + ": stopped after " + done
                    + ", before training began; nothing was written", 0, null);
        }
    }

    /** Ctrl-C or SIGTERM ended a command at a safe point, before it had done all its work. */
    static final class CommandInterruptedException extends AttuneException {
        private static final long serialVersionUID = 1L;

        CommandInterruptedException() {
            super(REASON + ": stopped before the end; what was printed or written so far is complete");
        }
    }

    /** The command has returned and released its resources: the exit may proceed. */
    static void finished() {
        FINISHED.countDown();
    }

    private static void onExit() {
        if (FINISHED.getCount() == 0) {
            return; // the command has already returned (a normal exit)
        }
        interrupted = true;
        TrainingControl control = CURRENT.get();
        long wait = Long.getLong(WAIT_SECONDS_PROPERTY, 600);
        if (control != null) {
            control.requestStop(REASON);
            System.err.printf("attune: stopping after the current step and saving a checkpoint, or at once while"
                    + " loading or tokenizing (waiting up to %d s; kill -9 ends at once and loses the work since the"
                    + " last checkpoint)%n", wait);
        } else {
            System.err.printf("attune: stopping after the current batch (waiting up to %d s)%n", wait);
        }
        System.err.flush();
        try {
            if (!FINISHED.await(wait, TimeUnit.SECONDS)) {
                System.err.println("attune: the command did not stop within " + wait + " s; exiting"
                        + (control != null ? " without a new checkpoint" : ""));
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
