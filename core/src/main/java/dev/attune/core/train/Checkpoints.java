package dev.attune.core.train;

import org.apiguardian.api.API;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.attune.model.FineTunedModel;
import dev.attune.error.AttuneException;
import dev.attune.error.InvalidCheckpointException;
import dev.attune.core.internal.AtomicDirectory;
import dev.attune.core.internal.FileFaults;
import dev.attune.core.DefaultFineTunedModel;
import dev.attune.core.lora.LoraDefinition;
import dev.attune.core.lora.PeftFolder;
import dev.attune.formats.hf.SafetensorsStore;
import dev.attune.formats.hf.SafetensorsWriter;
import dev.attune.ops.TensorData;
import dev.attune.train.TrainerState;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Training checkpoints: folders {@code checkpoint-N} in the output folder holding a complete
 * HuggingFace model (config.json, model.safetensors, tokenizer), the optimizer state
 * (optimizer.safetensors, moments under torch's names) and trainer_state.json (step, epoch, position
 * in the data, shuffling and random state, metrics, best checkpoint, early-stopping count).
 *
 * <p>Crash safety: each file is written and forced to disk inside a hidden sibling folder, which is
 * renamed to {@code checkpoint-N} only when everything is there, and the parent folder is synced
 * after the rename. So a folder named {@code checkpoint-N} is always complete; a kill during the
 * write leaves only a hidden {@code .checkpoint-N.writing-*} folder, which {@link #cleanPartial}
 * removes and {@link #latest} never returns.
 */
@API(status = API.Status.INTERNAL, since = "0.1")
public final class Checkpoints {
    private static final Logger LOG = LoggerFactory.getLogger(Checkpoints.class);
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
    private static final Pattern NAME = Pattern.compile(Pattern.quote(DefaultTrainer.CHECKPOINT_PREFIX) + "(\\d+)");
    private static final Pattern LEFTOVER = Pattern.compile(
            "\\.(" + Pattern.quote(DefaultTrainer.CHECKPOINT_PREFIX) + "\\d+)\\.([a-z]+)-[0-9a-f]+");
    /** The trainer's state inside a checkpoint, written last. */
    public static final String STATE_FILE = "trainer_state.json";
    /** The model's weights inside a checkpoint of a full fine-tune. */
    public static final String MODEL_FILE = "model.safetensors";
    /** The optimizer's tensors inside a checkpoint. */
    public static final String OPTIMIZER_FILE = "optimizer.safetensors";

    private Checkpoints() {}

    /**
     * @param outputDir the run's output folder
     * @param step the global step
     * @return the checkpoint folder for that step
     */
    public static Path folder(Path outputDir, long step) {
        return outputDir.resolve(DefaultTrainer.CHECKPOINT_PREFIX + step);
    }

    /**
     * Writes a checkpoint atomically.
     *
     * @param target the checkpoint folder (replaced if it exists)
     * @param model the model whose weights, config and tokenizer are saved
     * @param optimizer the optimizer state
     * @param state the trainer state (with the optimizer's step count), saved as trainer_state.json
     */
    public static void write(Path target, FineTunedModel model, OptimizerState optimizer, TrainerState state) {
        try {
            AtomicDirectory.write(target, tmp -> {
                FileFaults.at("checkpoint:write");
                java.util.Optional<LoraDefinition> lora = LoraDefinition.find(model.lowered().definition());
                if (lora.isPresent() && model instanceof DefaultFineTunedModel m) {
                    // an adapter run keeps what trains only: the adapter and the modules to save, as PEFT saves them
                    m.writeAdapter(tmp, lora.get().adapter());
                } else {
                    // float32, so a resume is exact; config.json says so even when the run began from float16
                    java.util.Map<String, dev.attune.ops.TensorData> weights = model.stateDict();
                    writeForced(tmp.resolve("config.json"), dev.attune.formats.hf.HfExporter.withDtype(
                            model.savedConfig(), weights).toJson().getBytes(StandardCharsets.UTF_8));
                    SafetensorsWriter.write(tmp.resolve(MODEL_FILE), weights);
                    model.tokenizer().saveTo(tmp);
                }
                SafetensorsWriter.write(tmp.resolve(OPTIMIZER_FILE), optimizer.tensors());
                writeForced(tmp.resolve(STATE_FILE), (state.toJson() + "\n").getBytes(StandardCharsets.UTF_8));
                syncDirectory(tmp);
            });
            syncDirectory(target.toAbsolutePath().getParent());
        } catch (IOException e) {
            throw new AttuneException("could not write checkpoint " + target + ": " + e.getMessage()
                    + "; check free space and permissions (earlier checkpoints are intact)", e);
        }
    }

    /**
     * Replaces a JSON file atomically (written aside, forced, renamed).
     *
     * @param file the file
     * @param value what Jackson serialises
     */
    public static void writeJson(Path file, Object value) {
        try {
            writeText(file, JSON.writeValueAsString(value) + "\n");
        } catch (IOException e) {
            throw new AttuneException("cannot write " + file + ": " + e.getMessage(), e);
        }
    }

    /**
     * Replaces a text file atomically (written aside, forced, renamed).
     *
     * @param file the file
     * @param text its content
     */
    public static void writeText(Path file, String text) {
        Path abs = file.toAbsolutePath();
        Path tmp = abs.resolveSibling("." + abs.getFileName() + ".tmp-" + System.nanoTime());
        try {
            writeForced(tmp, text.getBytes(StandardCharsets.UTF_8));
            Files.move(tmp, abs, java.nio.file.StandardCopyOption.ATOMIC_MOVE,
                    java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            try {
                Files.deleteIfExists(tmp);
            } catch (IOException ignored) {
                // best effort
            }
            throw new AttuneException("cannot write " + file + ": " + e.getMessage() + "; check free space and permissions", e);
        }
    }

    private static void writeForced(Path file, byte[] bytes) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            ByteBuffer b = ByteBuffer.wrap(bytes);
            while (b.hasRemaining()) {
                ch.write(b);
            }
            ch.force(true);
        }
    }

    private static void syncDirectory(Path dir) {
        try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
            ch.force(true);
        } catch (IOException | UnsupportedOperationException e) {
            LOG.debug("could not sync folder {}: {}", dir, e.toString());
        }
    }

    /**
     * @param outputDir a run's output folder
     * @return the complete checkpoints there, oldest (lowest step) first
     */
    public static List<Path> list(Path outputDir) {
        List<Path> out = new ArrayList<>();
        if (outputDir == null || !Files.isDirectory(outputDir)) {
            return out;
        }
        try (Stream<Path> s = Files.list(outputDir)) {
            s.filter(p -> NAME.matcher(p.getFileName().toString()).matches())
                    .filter(p -> Files.isRegularFile(p.resolve(STATE_FILE)))
                    .sorted(Comparator.comparingLong(Checkpoints::step))
                    .forEach(out::add);
        } catch (IOException e) {
            throw new AttuneException("cannot list checkpoints in " + outputDir + ": " + e.getMessage(), e);
        }
        return out;
    }

    /**
     * @param outputDir a run's output folder
     * @return its newest complete checkpoint
     */
    public static Optional<Path> latest(Path outputDir) {
        // a run killed during its final save or a checkpoint's rename: put the complete folders back first
        cleanPartial(outputDir);
        List<Path> all = list(outputDir);
        return all.isEmpty() ? Optional.empty() : Optional.of(all.get(all.size() - 1));
    }

    /**
     * @param checkpoint a checkpoint folder
     * @return its step, from the name
     */
    public static long step(Path checkpoint) {
        Matcher m = NAME.matcher(checkpoint.getFileName().toString());
        if (!m.matches()) {
            throw new InvalidCheckpointException(checkpoint + " is not a checkpoint folder (expected checkpoint-<step>)");
        }
        return Long.parseLong(m.group(1));
    }

    /**
     * Finishes or removes what a killed run left half-done: a folder swap of the output folder itself
     * (its final save) is completed or undone ({@link AtomicDirectory#recover}, keeping the run's
     * files), a checkpoint written completely is put in place, partial ones and checkpoints being
     * deleted by rotation are removed.
     *
     * @param outputDir a run's output folder
     */
    public static void cleanPartial(Path outputDir) {
        if (outputDir == null) {
            return;
        }
        try {
            AtomicDirectory.recover(outputDir, DefaultTrainer::isRunFile);
            if (!Files.isDirectory(outputDir)) {
                return;
            }
            List<String> swapped = new ArrayList<>();
            try (Stream<Path> s = Files.list(outputDir)) {
                for (Path p : s.toList()) {
                    Matcher m = LEFTOVER.matcher(p.getFileName().toString());
                    if (!m.matches()) {
                        continue;
                    }
                    if (m.group(2).equals("deleting")) {
                        LOG.info("removing the rotated-out checkpoint {}", p);
                        AtomicDirectory.deleteTree(p);
                    } else if (!swapped.contains(m.group(1))) {
                        swapped.add(m.group(1));
                    }
                }
            }
            for (String checkpoint : swapped) {
                LOG.info("finishing the interrupted write of {}", outputDir.resolve(checkpoint));
                AtomicDirectory.recover(outputDir.resolve(checkpoint), name -> false);
            }
        } catch (IOException e) {
            throw new AttuneException("cannot clean " + outputDir + ": " + e.getMessage(), e);
        }
    }

    /**
     * Keeps the newest {@code keep} checkpoints and the best one; deletes the rest.
     *
     * @param outputDir a run's output folder
     * @param keep how many to keep; 0 keeps all
     * @param best the best checkpoint's folder name, or null
     */
    public static void rotate(Path outputDir, int keep, String best) {
        if (keep <= 0) {
            return;
        }
        List<Path> all = list(outputDir);
        int surplus = all.size() - keep;
        for (Path p : all) {
            if (surplus <= 0) {
                break;
            }
            if (p.getFileName().toString().equals(best)) {
                continue;
            }
            try {
                // rename first so a kill mid-delete never leaves a checkpoint-N folder missing files
                Path doomed = p.resolveSibling("." + p.getFileName() + ".deleting-" + Long.toHexString(System.nanoTime()));
                Files.move(p, doomed);
                AtomicDirectory.deleteTree(doomed);
            } catch (IOException e) {
                throw new AttuneException("cannot delete old checkpoint " + p + ": " + e.getMessage(), e);
            }
            surplus--;
        }
    }

    /**
     * @param checkpoint a checkpoint folder
     * @return its trainer_state.json (of any layout the trainer wrote)
     * @throws InvalidCheckpointException when it is missing or broken
     */
    public static TrainerState readState(Path checkpoint) {
        return TrainerState.read(checkpoint.resolve(STATE_FILE));
    }

    /**
     * @param checkpoint a checkpoint folder
     * @return the model's weights in it by parameter name: all of them (model.safetensors), or for an
     *     adapter run the adapter's and the saved modules' (adapter_model.safetensors)
     */
    public static Map<String, TensorData> readWeights(Path checkpoint) {
        if (Files.isRegularFile(checkpoint.resolve(PeftFolder.WEIGHTS_FILE))) {
            Map<String, TensorData> out = new LinkedHashMap<>();
            readTensors(checkpoint, PeftFolder.WEIGHTS_FILE).forEach((k, v) ->
                    out.put(k.startsWith(PeftFolder.PREFIX) ? k.substring(PeftFolder.PREFIX.length()) : k, v));
            return out;
        }
        return readTensors(checkpoint, MODEL_FILE);
    }

    /**
     * @param checkpoint a checkpoint folder
     * @param file model.safetensors or optimizer.safetensors
     * @return every tensor of the file, by name
     */
    public static Map<String, TensorData> readTensors(Path checkpoint, String file) {
        Path path = checkpoint.resolve(file);
        if (!Files.isRegularFile(path)) {
            throw new InvalidCheckpointException(path + " is missing; resume from an earlier checkpoint");
        }
        Map<String, TensorData> out = new LinkedHashMap<>();
        try (SafetensorsStore store = SafetensorsStore.openFile(path)) {
            for (String name : store.names()) {
                out.put(name, store.read(name));
            }
        }
        return out;
    }
}
