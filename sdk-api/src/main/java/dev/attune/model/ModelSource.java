package dev.attune.model;

import java.util.Map;

/** Where a checkpoint comes from: a HuggingFace folder or a HuggingFace Hub model id (later: TF Hub SavedModel, ONNX). */
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
}
