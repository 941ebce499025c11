package dev.attune.model;

import java.util.Map;
import java.util.Optional;
import org.apiguardian.api.API;

/**
 * Where a checkpoint comes from: a HuggingFace folder or Hub model, a TF Hub SavedModel, an ONNX
 * file. {@link SourceProvider}s recognise locations and return sources.
 */
@API(status = API.Status.STABLE, since = "0.1")
public interface ModelSource {
    /**
     * Opens the checkpoint.
     *
     * @param configOverrides {@code key=value} overrides applied to config.json (e.g. {@code
     *     hidden_dropout_prob=0})
     * @return the loaded model
     * @throws dev.attune.error.InvalidCheckpointException on a missing, corrupt or inconsistent file
     */
    PretrainedModel open(Map<String, String> configOverrides);

    /** @return a description for messages */
    String describe();

    /**
     * @return the engine that runs this checkpoint as it is stored ({@code onnx} for an ONNX file),
     *     for tools that choose an engine when the user names none; empty when any engine does
     */
    @API(status = API.Status.EXPERIMENTAL, since = "0.1")
    default Optional<String> preferredEngine() {
        return Optional.empty();
    }
}
