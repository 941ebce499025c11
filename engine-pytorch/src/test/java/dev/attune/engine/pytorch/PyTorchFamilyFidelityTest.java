package dev.attune.engine.pytorch;

import dev.attune.engine.Engine;
import dev.attune.testing.FamilyFidelitySuite;

/** The family-fidelity suite on the PyTorch engine, every fixture within the suite's default 1e-5. */
class PyTorchFamilyFidelityTest extends FamilyFidelitySuite {
    @Override
    protected Engine createEngine() {
        return new PyTorchEngineProvider().create();
    }
}
