package dev.attune.ops;

/**
 * An engine's value inside a forward pass: an eager array on PyTorch, a graph node on TensorFlow,
 * a value name in an ONNX graph. Model code never looks inside; it only passes tensors to {@link
 * Ops}.
 */
public interface Tensor {}
