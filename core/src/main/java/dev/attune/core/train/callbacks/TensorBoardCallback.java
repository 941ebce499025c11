package dev.attune.core.train.callbacks;

import org.apiguardian.api.API;

import dev.attune.core.train.DefaultTrainer;
import dev.attune.core.train.TensorBoardWriter;
import dev.attune.error.AttuneException;
import dev.attune.train.TrainerCallback;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * Writes the logged numbers as TensorBoard scalars to an event file in {@code outputDir/runs} ({@code
 * tensorboard --logdir outputDir/runs}): {@code train/loss}, {@code train/learning_rate}, {@code
 * train/grad_norm} and {@code train/samples_per_second} of each training record, {@code
 * eval/<metric>} of each evaluation, at the record's step. Does nothing without an output folder or
 * with {@code tensorboard} off.
 */
@API(status = API.Status.EXPERIMENTAL, since = "0.1")
public final class TensorBoardCallback implements TrainerCallback, AutoCloseable {
    private static final List<String> TRAIN_KEYS = List.of("loss", "learning_rate", "grad_norm", "samples_per_second");
    private TensorBoardWriter writer;

    @Override
    public void onTrainBegin(Context context) {
        Path dir = context.config().outputDir();
        if (dir == null || !context.config().tensorboard()) {
            return;
        }
        Path runs = dir.resolve(DefaultTrainer.TENSORBOARD_DIR);
        try {
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
    public void close() throws IOException {
        if (writer != null) {
            TensorBoardWriter w = writer;
            writer = null;
            w.close();
        }
    }
}
