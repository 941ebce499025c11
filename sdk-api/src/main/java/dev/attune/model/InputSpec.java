package dev.attune.model;

import dev.attune.ops.DType;

/**
 * A named input of a model definition, with dynamic batch and sequence axes.
 *
 * @param name HuggingFace input name ({@code input_ids}, {@code attention_mask}, ...)
 * @param dtype element type
 * @param rank number of axes ({@code 2} for {@code [batch, sequence]})
 * @param optional whether the forward pass runs without it (labels at inference time)
 */
public record InputSpec(String name, DType dtype, int rank, boolean optional) {}
