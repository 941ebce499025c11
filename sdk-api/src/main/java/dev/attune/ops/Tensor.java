package dev.attune.ops;

import org.apiguardian.api.API;

/**
 * An engine's value inside a forward pass: an eager array on PyTorch, a graph node on TensorFlow,
 * a value name in an ONNX graph. Model code never looks inside; it only passes tensors to {@link
 * Ops}.
 */
@API(status = API.Status.STABLE, since = "0.1")
public interface Tensor {}
