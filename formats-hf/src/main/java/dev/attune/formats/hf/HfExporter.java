package dev.attune.formats.hf;

import org.apiguardian.api.API;

import dev.attune.error.ConfigurationException;
import dev.attune.model.Exporter;
import dev.attune.model.FineTunedModel;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
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
        Files.writeString(directory.resolve(HuggingFaceFolderSource.CONFIG_JSON), model.savedConfig().toJson(),
                StandardCharsets.UTF_8);
        SafetensorsWriter.write(directory.resolve(SafetensorsStore.SINGLE_FILE), model.stateDict());
        model.tokenizer().saveTo(directory);
    }
}
