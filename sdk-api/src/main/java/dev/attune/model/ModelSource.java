package dev.attune.model;

import dev.attune.internal.hf.HuggingFaceFolderSource;
import java.nio.file.Path;
import java.util.Map;

/** Where a checkpoint comes from: a HuggingFace folder (later: Hub id, TF Hub SavedModel, ONNX). */
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
     * @param directory a folder with config.json, model.safetensors (or a sharded index) and
     *     tokenizer.json or vocab.txt
     * @return a source reading it
     */
    static ModelSource huggingFace(Path directory) {
        return new HuggingFaceFolderSource(directory);
    }
}
