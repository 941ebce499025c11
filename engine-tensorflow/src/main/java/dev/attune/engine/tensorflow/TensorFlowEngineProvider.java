package dev.attune.engine.tensorflow;

import dev.attune.engine.Engine;
import dev.attune.engine.EngineProvider;

/**
 * Registers the TensorFlow engine under the name {@code tensorflow}. Its rank (20) is above
 * PyTorch's (10), so PyTorch stays the default when both engines are on the classpath and {@code
 * --engine tensorflow} (or {@code Attune.builder().engine("tensorflow")}) chooses this one.
 */
public final class TensorFlowEngineProvider implements EngineProvider {
    /** Creates the provider; natives are extracted and loaded only in {@link #create()}. */
    public TensorFlowEngineProvider() {}

    @Override
    public String name() {
        return "tensorflow";
    }

    @Override
    public int rank() {
        return 20;
    }

    @Override
    public Engine create() {
        return new TensorFlowEngine();
    }
}
