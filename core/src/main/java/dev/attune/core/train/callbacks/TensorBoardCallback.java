package dev.attune.core.train.callbacks;

import org.apiguardian.api.API;

import dev.attune.core.internal.FileFaults;
import dev.attune.core.train.DefaultTrainer;
import dev.attune.core.train.RunFiles;
import dev.attune.core.train.TensorBoardWriter;
import dev.attune.error.AttuneException;
import dev.attune.train.TrainerCallback;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.stream.Stream;
import java.util.List;
import java.util.Map;

/**
 * Writes the logged numbers as TensorBoard scalars to an event file in {@code outputDir/runs} ({@code
 * tensorboard --logdir outputDir/runs}): {@code train/loss}, {@code train/learning_rate}, {@code
 * train/grad_norm} and {@code train/samples_per_second} of each training record, {@code
 * eval/<metric>} of each evaluation, at the record's step. Does nothing without an output folder or
 * with {@code tensorboard} off. A run that fails before it wrote a checkpoint removes its event file;
 * a {@code runs} that is a symbolic link is refused, never written through.
 */
@API(status = API.Status.EXPERIMENTAL, since = "0.1")
public final class TensorBoardCallback implements TrainerCallback, RunFiles.Undoable, AutoCloseable {
    private static final List<String> TRAIN_KEYS = List.of("loss", "learning_rate", "grad_norm", "samples_per_second");
    private TensorBoardWriter writer;
    private Path runs;
    private boolean createdRuns;
    private boolean checkpointed;

    @Override
    public void onTrainBegin(Context context) {
        Path dir = context.config().outputDir();
        if (dir == null || !context.config().tensorboard()) {
            return;
        }
        runs = dir.resolve(DefaultTrainer.TENSORBOARD_DIR);
        RunFiles.refuseLink(runs);
        try {
            createdRuns = !Files.exists(runs, LinkOption.NOFOLLOW_LINKS);
            FileFaults.at("events:open");
            writer = TensorBoardWriter.create(runs);
        } catch (IOException e) {
            throw new AttuneException("cannot create a TensorBoard event file in " + runs + ": " + e.getMessage()
                    + "; check permissions or turn tensorboard off", e);
        }
    }

    @Override
    public void onLog(Context context, Map<String, Object> record) {
        if (writer == null || !(record.get("step") instanceof Number step)) {
            return;
        }
        try {
            if (record.containsKey("loss")) {
                for (String key : TRAIN_KEYS) {
                    if (record.get(key) instanceof Number n) {
                        writer.scalar("train/" + key, n.doubleValue(), step.longValue());
                    }
                }
            }
            for (Map.Entry<String, Object> e : record.entrySet()) {
                if (e.getKey().startsWith("eval_") && e.getValue() instanceof Number n) {
                    writer.scalar("eval/" + e.getKey().substring(5), n.doubleValue(), step.longValue());
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Override
    public void onSave(Context context, Path checkpoint) {
        checkpointed = true;
    }

    /** A run that failed before any checkpoint leaves no event file (and no runs/ folder it made). */
    @Override
    public void undo() {
        if (runs == null || checkpointed) {
            return;
        }
        try {
            if (writer != null) {
                TensorBoardWriter w = writer;
                writer = null;
                try {
                    w.close();
                } catch (IOException e) {
                    // the file goes anyway
                }
                Files.deleteIfExists(w.file());
            }
            if (createdRuns) {
                try (Stream<Path> left = Files.list(runs)) {
                    if (left.findAny().isEmpty()) {
                        Files.delete(runs);
                    }
                }
            }
        } catch (IOException e) {
            throw new AttuneException("could not remove the failed run's event file in " + runs + ": " + e.getMessage(), e);
        }
    }

    @Override
    public void close() throws IOException {
        if (writer != null) {
            TensorBoardWriter w = writer;
            writer = null;
            w.close();
        }
    }
}
