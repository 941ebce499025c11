package dev.attune.cli;

import dev.attune.train.TrainingControl;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;

/**
 * Ctrl-C and SIGTERM while a command trains. Without this, the JVM would run its exit sequence while
 * the training thread is inside libtorch, which then fails in native code (a SIGSEGV and an
 * hs_err file) and loses the work since the last checkpoint. Instead a shutdown hook asks the run to
 * stop after its current step, which writes a checkpoint there, and holds the exit until the command
 * has returned (at most {@link #WAIT_SECONDS_PROPERTY} seconds, default 600); the process then ends
 * with the signal's status (130 or 143). Commands that do not train are not held.
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
    private static volatile Consumer<TrainingControl> onNewControl = c -> { };

    private GracefulStop() {}

    /** Installs the shutdown hook; call once, from {@code main}. */
    static void install() {
        Runtime.getRuntime().addShutdownHook(new Thread(GracefulStop::onExit, "attune-graceful-stop"));
    }

    /** @return a control for the command's training, stopped by Ctrl-C or SIGTERM */
    static TrainingControl newControl() {
        TrainingControl control = new TrainingControl();
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

    /** The command has returned and released its resources: the exit may proceed. */
    static void finished() {
        FINISHED.countDown();
    }

    private static void onExit() {
        TrainingControl control = CURRENT.get();
        if (control == null || FINISHED.getCount() == 0) {
            return; // nothing trains, or the command has already returned (a normal exit)
        }
        control.requestStop(REASON);
        long wait = Long.getLong(WAIT_SECONDS_PROPERTY, 600);
        System.err.printf("attune: stopping after the current step and saving a checkpoint (waiting up to %d s;"
                + " kill -9 ends at once and loses the work since the last checkpoint)%n", wait);
        System.err.flush();
        try {
            if (!FINISHED.await(wait, TimeUnit.SECONDS)) {
                System.err.println("attune: the step did not end within " + wait + " s; exiting without a new checkpoint");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
