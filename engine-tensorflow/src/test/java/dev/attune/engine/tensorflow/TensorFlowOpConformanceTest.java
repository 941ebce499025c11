package dev.attune.engine.tensorflow;

import dev.attune.engine.Engine;
import dev.attune.testing.OpConformanceSuite;

/** The op-conformance suite on the TensorFlow engine (each case traced into a graph with unknown dimensions). */
class TensorFlowOpConformanceTest extends OpConformanceSuite {
    @Override
    protected Engine createEngine() {
        return new TensorFlowEngineProvider().create();
    }
}
