package dev.attune.engine.pytorch;

import dev.attune.engine.Engine;
import dev.attune.testing.GradientConformanceSuite;

/** The gradient-conformance suite on the PyTorch engine (autograd). */
class PyTorchGradientConformanceTest extends GradientConformanceSuite {
    @Override
    protected Engine createEngine() {
        return new PyTorchEngineProvider().create();
    }
}
