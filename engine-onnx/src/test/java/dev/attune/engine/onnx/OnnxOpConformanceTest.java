package dev.attune.engine.onnx;

import dev.attune.engine.Engine;
import dev.attune.testing.OpConformanceSuite;

/**
 * The op-conformance suite on the ONNX Runtime engine: each case exported to an ONNX graph in memory
 * and run by an ONNX Runtime session with every graph optimization on.
 */
class OnnxOpConformanceTest extends OpConformanceSuite {
    @Override
    protected Engine createEngine() {
        return new OnnxRuntimeEngineProvider().create();
    }
}
