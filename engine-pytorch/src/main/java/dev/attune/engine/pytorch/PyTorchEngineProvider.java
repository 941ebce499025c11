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
}
