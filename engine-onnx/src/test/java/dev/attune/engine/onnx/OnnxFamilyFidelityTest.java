package dev.attune.engine.onnx;

import dev.attune.engine.Engine;
import dev.attune.testing.FamilyFidelitySuite;

/**
 * The family-fidelity suite on the ONNX Runtime engine, whose lowering exports the definition to
 * ONNX and opens an ONNX Runtime session on it with every graph optimization on: every fixture
 * within the suite's default 1e-5 of HuggingFace's outputs. The encoder-decoder (T5) runs as its
 * export does, an encoder graph and decoder graphs with and without past keys and values.
 */
class OnnxFamilyFidelityTest extends FamilyFidelitySuite {
    @Override
    protected Engine createEngine() {
        return new OnnxRuntimeEngineProvider().create();
    }
}
