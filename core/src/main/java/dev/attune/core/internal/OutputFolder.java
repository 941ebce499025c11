package dev.attune.core.internal;

import org.apiguardian.api.API;

import dev.attune.error.ConfigurationException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Which entries of an output folder Attune writes, so that a save, an export or a training run never
 * replaces or deletes a folder of the user's ({@code src/}, {@code .git/}, notes) by mistake: a folder
 * holding anything else is refused unless the caller says to write into it anyway ({@code
 * --overwrite-output-dir}, HuggingFace's name), and then its other entries are left alone.
 */
@API(status = API.Status.INTERNAL, since = "0.2")
public final class OutputFolder {
    /** The command-line option (and HuggingFace TrainingArguments name) that allows a foreign folder. */
    public static final String OVERWRITE_OPTION = "--overwrite-output-dir";

    private static final Set<String> NAMES = Set.of(
            // a HuggingFace model folder (any family, adapters, generation settings, tokenizers)
            "config.json", "generation_config.json", "model.safetensors", "model.safetensors.index.json",
            "pytorch_model.bin", "pytorch_model.bin.index.json", "adapter_config.json", "adapter_model.safetensors", "attune_adapter.json",
            "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json", "vocab.txt",
            "vocab.json", "merges.txt", "spiece.model", "tokenizer.model", "chat_template.jinja",
            // a training run
            "trainer_state.json", "trainer_log.jsonl", "runs", "metrics.json", "optimizer.safetensors",
            "train_loss.png", "eval_metrics.png", "all_results.json", "best.json",
            // exports: ONNX, TensorFlow SavedModel
            "model.onnx", "saved_model.pb", "fingerprint.pb", "variables", "assets",
            // attune tune
            "trials.jsonl", "tune_settings.json");
    private static final Pattern PATTERNS = Pattern.compile(
            "checkpoint-\\d+|trial-\\d+|model-\\d+-of-\\d+\\.safetensors|pytorch_model-\\d+-of-\\d+\\.bin"
                    + "|[^/]*\\.onnx(\\.data|_data)?|[^/]*\\.onnx\\.[^/]*\\.data"
                    // what an interrupted Attune write leaves (AtomicDirectory, Checkpoints.writeText, run files)
                    + "|\\..+\\.(writing|ready|old|inplace|replaced|deleting|tmp|previous)-[0-9a-f]+");

    /** The process's working folder (tests set another; the JVM cannot change its own). */
    static Path workingDirectory = Path.of("").toAbsolutePath().normalize();

    private OutputFolder() {}

    /**
     * @param entry an entry of an output folder
     * @return whether Attune writes an entry of that name there; a {@code README.md} counts only when
     *     it is Attune's model card (its front matter names {@code library_name: attune})
     */
    public static boolean isAttuneEntry(Path entry) {
        String name = entry.getFileName().toString();
        if (name.equals("README.md")) {
            return isModelCard(entry);
        }
        return NAMES.contains(name) || PATTERNS.matcher(name).matches();
    }

    private static boolean isModelCard(Path readme) {
        if (!Files.isRegularFile(readme, LinkOption.NOFOLLOW_LINKS)) {
            return false;
        }
        try (InputStream in = Files.newInputStream(readme)) {
            String head = new String(in.readNBytes(200), StandardCharsets.UTF_8);
            return head.startsWith("---\n") && head.contains("\nlibrary_name: attune\n");
        } catch (IOException e) {
            return false;
        }
    }

    /**
     * @param folder a folder (missing is fine)
     * @return the names of its entries that Attune does not write, sorted
     * @throws IOException when it cannot be listed
     */
    public static List<String> foreignEntries(Path folder) throws IOException {
        List<String> out = new ArrayList<>();
        if (!Files.isDirectory(folder)) {
            return out;
        }
        try (Stream<Path> entries = Files.list(folder)) {
            for (Path e : entries.toList()) {
                if (!isAttuneEntry(e)) {
                    out.add(e.getFileName().toString());
                }
            }
        }
        out.sort(null);
        return out;
    }

    /**
     * Refuses an output folder that exists and holds what Attune did not write, unless {@code
     * overwrite}; refuses a plain file in the folder's place always.
     *
     * @param folder the output folder
     * @param overwrite whether the caller allows writing into a folder of the user's
     * @param libraryName the library setting that allows it, for the message ({@code
     *     TrainingConfig.overwriteOutputDir})
     * @throws ConfigurationException naming the folder, some of its foreign entries and the option
     */
    public static void check(Path folder, boolean overwrite, String libraryName) {
        if (folder == null) {
            return;
        }
        Path abs = folder.toAbsolutePath().normalize();
        if (abs.getParent() == null) {
            throw new ConfigurationException("output folder " + folder + " is the file system's root; name a"
                    + " folder of its own for the model");
        }
        if (Files.exists(abs, LinkOption.NOFOLLOW_LINKS) && !Files.isDirectory(abs)) {
            throw new ConfigurationException("output folder " + folder + " is a file, not a folder; name a folder"
                    + " (Attune never replaces a file it did not write)");
        }
        if (overwrite) {
            return;
        }
        List<String> foreign;
        try {
            foreign = foreignEntries(abs);
        } catch (IOException e) {
            throw new ConfigurationException("cannot list output folder " + folder + ": " + e.getMessage(), e);
        }
        if (!foreign.isEmpty()) {
            throw refusal(folder, foreign, libraryName);
        }
    }

    /**
     * @param folder the output folder
     * @param foreign its entries Attune did not write
     * @param libraryName the library setting that allows it
     * @return the refusal, naming the folder, some of the entries and the option
     */
    static ConfigurationException refusal(Path folder, List<String> foreign, String libraryName) {
        List<String> shown = foreign.size() > 5 ? foreign.subList(0, 5) : foreign;
        return new ConfigurationException("output folder " + folder + " already holds files Attune did not write ("
                + String.join(", ", shown) + (foreign.size() > 5 ? ", ... " + foreign.size() + " in all" : "")
                + "); name a new or empty folder, or pass " + OVERWRITE_OPTION + " (" + libraryName
                + ") to write the model into it: its other files are then left as they are");
    }

    /**
     * @param folder an absolute, normalised folder
     * @return whether it is this process's working folder or holds it (renaming it would pull the
     *     folder away from under the user's shell)
     */
    static boolean holdsWorkingDirectory(Path folder) {
        return workingDirectory.startsWith(folder);
    }
}
