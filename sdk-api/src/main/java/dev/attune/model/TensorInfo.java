package dev.attune.model;

import dev.attune.ops.DType;

/**
 * What a weight store says about one tensor, before reading it.
 *
 * @param name tensor name
 * @param dtype stored type
 * @param shape dimensions
 */
public record TensorInfo(String name, DType dtype, long[] shape) {}
