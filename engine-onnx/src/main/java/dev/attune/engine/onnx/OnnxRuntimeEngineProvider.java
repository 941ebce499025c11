package dev.attune.engine.onnx;

import dev.attune.engine.Engine;
import dev.attune.engine.EngineProvider;

/**
 * Registers the ONNX Runtime engine under the name {@code onnx}: inference only, ranked after the
 * training engines so it is used when named ({@code --engine onnx}).
 */
public final class OnnxRuntimeEngineProvider implements EngineProvider {
    /** Creates the provider; natives load only in {@link #create()}. */
    public OnnxRuntimeEngineProvider() {}

    @Override
    public String name() {
        return "onnx";
    }

    @Override
    public int rank() {
        return 50;
    }

    @Override
    public boolean canTrain() {
        return false;
    }

    @Override
    public Engine create() {
        return new OnnxRuntimeEngine();
    }
}
