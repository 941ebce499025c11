package dev.attune.formats.hf;

import org.apiguardian.api.API;

import dev.attune.error.InvalidCheckpointException;
import dev.attune.formats.torch.TorchPickleStore;
import dev.attune.model.ModelConfig;
import dev.attune.model.ModelSource;
import dev.attune.model.PretrainedModel;
import dev.attune.model.TextTokenizer;
import dev.attune.model.WeightStore;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Objects;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reads a HuggingFace model folder as {@code save_pretrained} or a Hub download leaves it:
 * config.json, safetensors weights (single file or sharded) or, failing those, a {@code
 * pytorch_model.bin} (read without executing its pickle), and tokenizer.json (or a BERT vocab.txt).
 */
@API(status = API.Status.INTERNAL, since = "0.1")
public final class HuggingFaceFolderSource implements ModelSource {
    /** The model configuration file of a HuggingFace folder. */
    public static final String CONFIG_JSON = "config.json";

    private static final Logger LOG = LoggerFactory.getLogger(HuggingFaceFolderSource.class);

    private final Path directory;

    /** @param directory the folder */
    public HuggingFaceFolderSource(Path directory) {
        this.directory = Objects.requireNonNull(directory, "directory");
    }

    @Override
    public PretrainedModel open(Map<String, String> configOverrides) {
        if (!Files.isDirectory(directory)) {
            throw new InvalidCheckpointException(directory + ": no such folder; pass the folder that holds the "
                    + "model's config.json, weights and tokenizer (e.g. from `huggingface-cli download <model> "
                    + "--local-dir <folder>`)");
        }
        ModelConfig config = readConfig(directory).withOverrides(configOverrides == null ? Map.of() : configOverrides);
        WeightStore weights = openWeights(directory);
        TextTokenizer tokenizer;
        try {
            tokenizer = HfTokenizer.load(directory);
        } catch (RuntimeException e) {
            weights.close();
            throw e;
        }
        LOG.debug("opened {}: model_type {}, {} tensors", directory, config.getString("model_type", "?"),
                weights.names().size());
        return new PretrainedModel(config, weights, tokenizer, directory.toString());
    }

    /**
     * Opens the folder's weights: safetensors (single file or sharded) when present, as HuggingFace
     * transformers prefers them, else a {@code pytorch_model.bin} read by the restricted unpickler.
     */
    static WeightStore openWeights(Path directory) {
        if (!SafetensorsStore.isPresent(directory) && Files.isRegularFile(directory.resolve(TorchPickleStore.SINGLE_FILE))) {
            return TorchPickleStore.open(directory.resolve(TorchPickleStore.SINGLE_FILE));
        }
        return SafetensorsStore.open(directory);
    }

    /**
     * @param directory a model folder
     * @return its config.json
     */
    static ModelConfig readConfig(Path directory) {
        Path file = directory.resolve(CONFIG_JSON);
        if (!Files.isRegularFile(file)) {
            throw new InvalidCheckpointException(file + " is missing; a HuggingFace model folder needs its "
                    + "config.json: download it with the weights, or save the model with save_pretrained");
        }
        String text;
        try {
            text = Files.readString(file, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new InvalidCheckpointException(file + ": cannot be read (" + e + "); check its permissions "
                    + "or re-download it", e);
        }
        return ModelConfig.parse(text, file.toString());
    }

    @Override
    public String describe() {
        return directory.toString();
    }
}
