package dev.attune.formats.hf;

import org.apiguardian.api.API;

import dev.attune.error.ConfigurationException;
import dev.attune.model.Exporter;
import dev.attune.model.FineTunedModel;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import dev.attune.model.ModelConfig;
import dev.attune.ops.DType;
import dev.attune.ops.TensorData;
import java.util.Map;

/**
 * The {@code hf} export format, which is what {@link FineTunedModel#save} writes: a HuggingFace
 * folder that Python {@code transformers} loads unchanged. config.json ({@link
 * FineTunedModel#savedConfig()}: {@code architectures}, {@code id2label}, Attune's task settings),
 * model.safetensors ({@link FineTunedModel#stateDict()}) and the tokenizer files. Takes no options.
 */
@API(status = API.Status.INTERNAL, since = "0.1")
public final class HfExporter implements Exporter {
    /** The format's name. */
    public static final String FORMAT = "hf";

    /** Creates the exporter (found with {@link java.util.ServiceLoader}). */
    public HfExporter() {}

    @Override
    public String format() {
        return FORMAT;
    }

    @Override
    public void export(FineTunedModel model, Path directory, Map<String, String> options) throws IOException {
        if (!options.isEmpty()) {
            throw new ConfigurationException("the hf export format takes no options; given: " + options.keySet());
        }
        Map<String, TensorData> tensors = model.stateDict();
        Files.writeString(directory.resolve(HuggingFaceFolderSource.CONFIG_JSON),
                withDtype(model.savedConfig(), tensors).toJson(), StandardCharsets.UTF_8);
        SafetensorsWriter.write(directory.resolve(SafetensorsStore.SINGLE_FILE), tensors);
        model.tokenizer().saveTo(directory);
    }

    /**
     * States the dtype of the tensors written, which transformers loads by default: {@code dtype}
     * (transformers 5), and {@code torch_dtype} where the config has it (transformers 4). A config
     * read from a float16 checkpoint says float16; the tensors Attune writes are its own, float32 when
     * it trained in float32.
     *
     * @param config the config to save
     * @param tensors the tensors written
     * @return the config with the dtype of its floating-point tensors (unchanged if there are none)
     */
    static ModelConfig withDtype(ModelConfig config, Map<String, TensorData> tensors) {
        DType floating = null;
        for (TensorData t : tensors.values()) {
            DType d = t.dtype();
            if (d == DType.FLOAT32 || d == DType.FLOAT16 || d == DType.BFLOAT16) {
                if (floating == null || d == DType.FLOAT32) {
                    floating = d; // mixed precision is saved and loaded as float32
                }
            }
        }
        if (floating == null) {
            return config;
        }
        String name = switch (floating) {
            case FLOAT16 -> "float16";
            case BFLOAT16 -> "bfloat16";
            default -> "float32";
        };
        ModelConfig c = config.with("dtype", name);
        return config.has("torch_dtype") ? c.with("torch_dtype", name) : c;
    }
}
