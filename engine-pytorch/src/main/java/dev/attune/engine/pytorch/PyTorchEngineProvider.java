package dev.attune.engine.pytorch;

import dev.attune.engine.Engine;
import dev.attune.engine.EngineProvider;

/** Registers the PyTorch engine under the name {@code pytorch}. */
public final class PyTorchEngineProvider implements EngineProvider {
    /**
     * System property that, set to {@code true}, makes inference use the composite attention of the
     * ops contract instead of libtorch's fused kernel; read on each attention call.
     */
    public static final String DISABLE_FUSED_ATTENTION = "attune.pytorch.disableFusedAttention";

    /**
     * System property that, set to {@code true} before the engine starts, lets CUDA matrix products of
     * float32 tensors use TF32 tensor cores (Ampere and newer GPUs), as PyTorch's {@code
     * torch.backends.cuda.matmul.allow_tf32 = True}; the command line's {@code --tf32}. DJL has no call
     * for it, so the engine sets libtorch's {@code TORCH_ALLOW_TF32_CUBLAS_OVERRIDE=1} in the process
     * environment before libtorch's first CUDA matmul. On the CPU it changes nothing.
     */
    public static final String TF32 = "attune.pytorch.tf32";

    /** Creates the provider; natives load only in {@link #create()}. */
    public PyTorchEngineProvider() {}

    @Override
    public String name() {
        return "pytorch";
    }

    @Override
    public int rank() {
        return 10;
    }

    @Override
    public Engine create() {
        return new PyTorchEngine();
    }

    /** Starts the engine with the libtorch build the requested device needs (CPU or CUDA). */
    @Override
    public Engine create(dev.attune.engine.EngineOptions options) {
        return new PyTorchEngine(options);
    }
}
