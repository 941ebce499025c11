package dev.attune.model;

import org.apiguardian.api.API;

import java.util.Objects;

/**
 * A checkpoint as published: its config, its weights (lazy) and its tokenizer.
 *
 * @param config config.json, with load-time overrides applied
 * @param weights the tensors, by HuggingFace name
 * @param tokenizer the tokenizer
 * @param origin where it was loaded from
 */
@API(status = API.Status.STABLE, since = "0.1")
public record PretrainedModel(ModelConfig config, WeightStore weights, TextTokenizer tokenizer, String origin)
        implements AutoCloseable {
    /** Validates. */
    public PretrainedModel {
        Objects.requireNonNull(config);
        Objects.requireNonNull(weights);
        Objects.requireNonNull(tokenizer);
    }

    /**
     * @param newConfig replacement config
     * @return the same weights and tokenizer with another config
     */
    public PretrainedModel withConfig(ModelConfig newConfig) {
        return new PretrainedModel(newConfig, weights, tokenizer, origin);
    }

    @Override
    public void close() {
        weights.close();
        tokenizer.close();
    }
}
