package dev.attune.core.train.callbacks;

import org.apiguardian.api.API;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.attune.core.internal.FileFaults;
import dev.attune.core.train.RunFiles;
import dev.attune.core.train.DefaultTrainer;
import dev.attune.error.AttuneException;
import dev.attune.train.TrainerCallback;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.LinkOption;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.stream.Stream;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Writes every log record as one JSON line to {@code outputDir/trainer_log.jsonl}, flushed at once so
 * a killed run loses no record. A resumed run keeps the records up to its checkpoint's step (those
 * after it, and an error record, came from the run that was interrupted) and appends its own. The
 * previous log is set aside while the run lasts: a run that fails before it wrote a checkpoint (a full
 * disk) puts it back, so the folder's log is as it was. The log is never written through a symbolic
 * link planted at its name. Does
 * nothing without an output folder. ({@link dev.attune.train.TrainingControl}'s listeners hear the
 * same records whether or not this callback runs.)
 */
@API(status = API.Status.EXPERIMENTAL, since = "0.1")
public final class JsonlLogCallback implements TrainerCallback, RunFiles.Undoable, AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();
    private BufferedWriter out;
    private Path file;
    /** The log this run replaced, set aside until the run ends: a failed run puts it back. */
    private Path previous;
    private boolean checkpointed;
    private boolean created;

    @Override
    public void onTrainBegin(Context context) {
        Path dir = context.config().outputDir();
        if (dir == null) {
            return;
        }
        try {
            Files.createDirectories(dir);
            file = dir.resolve(DefaultTrainer.LOG_FILE);
            RunFiles.refuseLink(file);
            restoreSetAside(dir, file);
            FileFaults.at("log:open");
            List<String> kept = new ArrayList<>();
            if (Files.exists(file, LinkOption.NOFOLLOW_LINKS)) {
                if (context.config().resumeFromCheckpoint() != null) {
                    long resumedStep = context.state().globalStep();
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
                }
                previous = dir.resolve("." + DefaultTrainer.LOG_FILE + ".previous-"
                        + Long.toHexString(System.nanoTime()));
                Files.move(file, previous, StandardCopyOption.ATOMIC_MOVE);
            }
            // CREATE_NEW: never opens a file or link that appeared at the name meanwhile
            out = Files.newBufferedWriter(file, StandardCharsets.UTF_8, StandardOpenOption.CREATE_NEW,
                    StandardOpenOption.WRITE);
            created = true;
            for (String line : kept) {
                out.write(line);
                out.newLine();
            }
            out.flush();
            FileFaults.at("log:opened");
        } catch (IOException e) {
            throw new AttuneException("cannot write the training log in " + dir + ": " + e.getMessage()
                    + "; check free space and permissions", e);
        }
    }

    /**
     * A run killed while its log was set aside left {@code .trainer_log.jsonl.previous-*}: the log
     * beside it is that run's (newer, what a resume continues), else the set-aside one is put back.
     */
    private static void restoreSetAside(Path dir, Path file) throws IOException {
        try (Stream<Path> entries = Files.list(dir)) {
            for (Path p : entries.filter(p -> p.getFileName().toString()
                    .startsWith("." + DefaultTrainer.LOG_FILE + ".previous-")).sorted().toList()) {
                if (Files.exists(file, LinkOption.NOFOLLOW_LINKS)) {
                    Files.delete(p);
                } else {
                    Files.move(p, file, StandardCopyOption.ATOMIC_MOVE);
                }
            }
        }
    }

    @Override
    public void onSave(Context context, Path checkpoint) {
        checkpointed = true;
    }

    @Override
    public void onLog(Context context, Map<String, Object> record) {
        if (out == null) {
            return;
        }
        try {
            FileFaults.at("log:record");
            out.write(JSON.writeValueAsString(record));
            out.newLine();
            out.flush();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Override
    public void undo() {
        if (file == null || checkpointed) {
            return;
        }
        try {
            closeWriter();
        } catch (IOException e) {
            // the file goes anyway
        }
        try {
            if (created) {
                Files.deleteIfExists(file);
                created = false;
            }
            if (previous != null) {
                Files.move(previous, file, StandardCopyOption.ATOMIC_MOVE);
                previous = null;
            }
        } catch (IOException e) {
            throw new AttuneException("could not put back the previous training log " + previous + " as " + file
                    + ": " + e.getMessage() + "; rename it by hand", e);
        }
    }

    @Override
    public void close() throws IOException {
        closeWriter();
        if (previous != null) {
            Path p = previous;
            previous = null;
            Files.deleteIfExists(p);
        }
    }

    private void closeWriter() throws IOException {
        if (out != null) {
            BufferedWriter w = out;
            out = null;
            w.close();
        }
    }
}
