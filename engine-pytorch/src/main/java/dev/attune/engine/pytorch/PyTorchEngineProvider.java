package dev.attune.engine.pytorch;

import dev.attune.engine.Engine;
import dev.attune.engine.EngineProvider;

/** Registers the PyTorch engine under the name {@code pytorch}. */
public final class PyTorchEngineProvider implements EngineProvider {
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
