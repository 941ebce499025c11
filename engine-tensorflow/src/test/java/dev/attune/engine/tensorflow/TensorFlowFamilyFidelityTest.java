package dev.attune.engine.tensorflow;

import dev.attune.engine.Engine;
import dev.attune.testing.FamilyFidelitySuite;

/**
 * The family-fidelity suite on the TensorFlow engine (each fixture traced into a graph), every
 * fixture within the suite's default 1e-5 of HuggingFace's outputs: the largest difference seen is
 * about 1.5e-6 (T5's logits), so the 1e-4 the TensorFlow tests allowed before was loose.
 */
class TensorFlowFamilyFidelityTest extends FamilyFidelitySuite {
    @Override
    protected Engine createEngine() {
        return new TensorFlowEngineProvider().create();
    }
}
