package dev.attune.core.train.callbacks;

import org.apiguardian.api.API;

import dev.attune.train.TrainerCallback;
import dev.attune.train.TrainerState;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

/**
 * A console progress bar on standard error (me.tongfei progressbar): steps done of the run's total,
 * the mean loss since the last log record, throughput in samples per second, and the time left.
 * Shown when {@code disableTqdm} is false; not shown when it is true; when it is unset (the default),
 * shown only if standard error is a terminal, so logs and CI output get no bar.
 */
@API(status = API.Status.EXPERIMENTAL, since = "0.1")
public final class ProgressBarCallback implements TrainerCallback, AutoCloseable {
    private ProgressBar bar;
    private long start;
    private long samplesBefore;

    /**
     * @return whether standard error is an interactive terminal: the JVM has a console (standard input
     *     and output are terminals) and, where the system shows it ({@code /proc/self/fd/2}), standard
     *     error is a terminal device too
     */
    public static boolean stderrIsTerminal() {
        if (System.console() == null) {
            return false;
        }
        Path fd = Path.of("/proc/self/fd/2");
        try {
            if (Files.isSymbolicLink(fd)) {
                String target = Files.readSymbolicLink(fd).toString();
                return target.startsWith("/dev/pts/") || target.startsWith("/dev/tty");
            }
        } catch (IOException | UnsupportedOperationException | SecurityException e) {
            // cannot tell: the console decides
        }
        return true;
    }

    @Override
    public void onTrainBegin(Context context) {
        Boolean disabled = context.config().disableTqdm();
        if (disabled == null ? !stderrIsTerminal() : disabled) {
            return;
        }
        TrainerState state = context.state();
        if (System.getProperty("org.jline.terminal.jni") == null) {
            // JLine's JNI terminal extracts a native library into the temporary folder and leaves it
            System.setProperty("org.jline.terminal.jni", "false");
        }
        bar = new ProgressBarBuilder()
                .setTaskName("train")
                .setInitialMax(state.maxSteps())
                .setUnit(" steps", 1)
                .setStyle(ProgressBarStyle.ASCII)
                .setUpdateIntervalMillis(500)
                .continuousUpdate()
                .build();
        if (state.globalStep() > 0) {
            bar.stepTo(state.globalStep());
        }
        start = System.nanoTime();
        samplesBefore = state.samples();
    }

    @Override
    public void onStepEnd(Context context) {
        if (bar == null) {
            return;
        }
        TrainerState state = context.state();
        double seconds = Math.max(1e-9, (System.nanoTime() - start) / 1e9);
        bar.stepTo(state.globalStep());
        bar.setExtraMessage(String.format(Locale.ROOT, "loss %.4f  %.1f samples/s",
                state.windowCount() == 0 ? Double.NaN : state.windowLoss() / state.windowCount(),
                (state.samples() - samplesBefore) / seconds));
    }

    /** @return whether a bar is shown (between the start and the end of a run) */
    boolean showing() {
        return bar != null;
    }

    @Override
    public void close() {
        if (bar != null) {
            ProgressBar b = bar;
            bar = null;
            b.close();
        }
    }
}
