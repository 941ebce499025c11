package dev.attune.model;

import org.apiguardian.api.API;

import dev.attune.model.HeadSpec.HeadKind;

import java.util.Set;

/**
 * SPI for an architecture family (BERT, DistilBERT, GPT-2, ...), found with {@link
 * java.util.ServiceLoader}. A family is one file in {@code models/} that builds definitions from a
 * HuggingFace config for the heads it supports.
 */
@API(status = API.Status.STABLE, since = "0.1")
public interface ModelFamily {
    /** @return the {@code model_type} of config.json this family reads ({@code bert}) */
    String modelType();

    /** @return heads this family can build */
    Set<HeadKind> supportedHeads();

    /**
     * @param config the checkpoint's config (with overrides applied)
     * @param head the head the task needs
     * @return the model definition
     * @throws dev.attune.error.UnsupportedArchitectureException when the head is not supported
     * @throws dev.attune.error.InvalidCheckpointException when the config lacks a required key
     */
    ModelDefinition define(ModelConfig config, HeadSpec head);
}
