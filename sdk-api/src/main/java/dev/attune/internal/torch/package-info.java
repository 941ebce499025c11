/**
 * Reads PyTorch {@code torch.save} checkpoints ({@code pytorch_model.bin}: a zip archive holding a
 * pickle and raw storages) without running any of the pickle's code: a restricted unpickler knows
 * only the opcodes and the few globals a state dict of tensors needs, and rejects everything else.
 * {@link dev.attune.internal.torch.TorchArchiveWriter} writes the same zip container (the PyTorch
 * engine uses it for the TorchScript modules it composes).
 */
package dev.attune.internal.torch;
