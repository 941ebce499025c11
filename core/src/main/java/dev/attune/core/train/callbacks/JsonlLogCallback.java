package dev.attune.core.train.callbacks;

import org.apiguardian.api.API;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.attune.core.train.Checkpoints;
import dev.attune.core.train.DefaultTrainer;
import dev.attune.error.AttuneException;
import dev.attune.train.TrainerCallback;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Writes every log record as one JSON line to {@code outputDir/trainer_log.jsonl}, flushed at once so
 * a killed run loses no record. A resumed run keeps the records up to its checkpoint's step (those
 * after it, and an error record, came from the run that was interrupted) and appends its own. Does
 * nothing without an output folder. ({@link dev.attune.train.TrainingControl}'s listeners hear the
 * same records whether or not this callback runs.)
 */
@API(status = API.Status.EXPERIMENTAL, since = "0.1")
public final class JsonlLogCallback implements TrainerCallback, AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();
    private BufferedWriter out;

    @Override
    public void onTrainBegin(Context context) {
        Path dir = context.config().outputDir();
        if (dir == null) {
            return;
        }
        try {
            Files.createDirectories(dir);
            Path file = dir.resolve(DefaultTrainer.LOG_FILE);
            if (context.config().resumeFromCheckpoint() != null && Files.exists(file)) {
                long resumedStep = context.state().globalStep();
                List<String> kept = new ArrayList<>();
                for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
                    try {
                        JsonNode n = JSON.readTree(line);
                        if (n.path("step").asDouble() <= resumedStep && !n.has("error")) {
                            kept.add(line);
                        }
                    } catch (IOException torn) {
                        // a line cut by the crash; drop it
                    }
                }
                Checkpoints.writeText(file, kept.isEmpty() ? "" : String.join("\n", kept) + "\n");
                out = Files.newBufferedWriter(file, StandardCharsets.UTF_8, StandardOpenOption.CREATE,
                        StandardOpenOption.APPEND, StandardOpenOption.WRITE);
            } else {
                out = Files.newBufferedWriter(file, StandardCharsets.UTF_8, StandardOpenOption.CREATE,
                        StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.WRITE);
            }
        } catch (IOException e) {
            throw new AttuneException("cannot write the training log in " + dir + ": " + e.getMessage()
                    + "; check free space and permissions", e);
        }
    }

    @Override
    public void onLog(Context context, Map<String, Object> record) {
        if (out == null) {
            return;
        }
        try {
            out.write(JSON.writeValueAsString(record));
            out.newLine();
            out.flush();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Override
    public void close() throws IOException {
        if (out != null) {
            BufferedWriter w = out;
            out = null;
            w.close();
        }
    }
}
