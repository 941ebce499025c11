package dev.attune.model;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;
import org.apiguardian.api.API;

/**
 * SPI of an export format, found with {@link java.util.ServiceLoader} (list the class in {@code
 * META-INF/services/dev.attune.model.Exporter}): {@link FineTunedModel#export(String, Path, Map)}
 * and {@code attune export --format NAME} look exporters up by {@link #format()}. Built in: {@code
 * hf} (a HuggingFace folder, what {@link FineTunedModel#save} writes), {@code onnx} (with {@code
 * attune-engine-onnx}) and {@code savedmodel} (with {@code attune-engine-tensorflow}).
 *
 * <p>The runtime writes every export atomically: it hands the exporter an empty temporary folder
 * and renames it into place once {@link #export} returns, so an exporter just writes files and
 * needs nothing but the API.
 */
@API(status = API.Status.EXPERIMENTAL, since = "0.1")
public interface Exporter {
    /** @return the format's name, in lower case ({@code onnx}) */
    String format();

    /**
     * Writes a model into an empty folder.
     *
     * @param model the model and its current weights
     * @param directory an empty folder to fill
     * @param options format-specific settings ({@code fp16=true} for ONNX); an exporter refuses
     *     keys it does not know with a {@link dev.attune.error.ConfigurationException} that lists
     *     the keys it knows
     * @throws IOException when writing fails (the runtime then removes the folder)
     */
    void export(FineTunedModel model, Path directory, Map<String, String> options) throws IOException;
}
