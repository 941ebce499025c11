package dev.attune.engine.tensorflow;

import dev.attune.engine.Engine;
import dev.attune.testing.GradientConformanceSuite;

/** The gradient-conformance suite on the TensorFlow engine (gradients from {@code Graph.addGradients}). */
class TensorFlowGradientConformanceTest extends GradientConformanceSuite {
    @Override
    protected Engine createEngine() {
        return new TensorFlowEngineProvider().create();
    }
}
