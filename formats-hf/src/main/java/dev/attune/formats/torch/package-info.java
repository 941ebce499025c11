/**
 * Reads PyTorch {@code torch.save} checkpoints ({@code pytorch_model.bin}: a zip archive holding a
 * pickle and raw storages) without running any of the pickle's code: a restricted unpickler knows
 * only the opcodes and the few globals a state dict of tensors needs, and rejects everything else.
 */
package dev.attune.formats.torch;
