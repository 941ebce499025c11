package dev.attune.engine;

import dev.attune.model.ModelDefinition;
import dev.attune.ops.Parameter;
import dev.attune.ops.TensorData;
import java.util.Map;

/** A definition lowered onto an engine and device, holding its parameter values. */
public interface LoweredModel extends AutoCloseable {
    /** @return the definition */
    ModelDefinition definition();

    /** @return the device the model runs on, as the engine names it */
    String device();

    /**
     * Runs inference (no dropout, no gradients).
     *
     * @param batch inputs
     * @return every output of the definition, on the host
     */
    Map<String, TensorData> predict(Batch batch);

    /**
     * Prepares training: gradients, optimizer state.
     *
     * @param settings optimizer settings
     * @return the session; only one may be open at a time
     */
    TrainingSession startTraining(OptimizerSettings settings);

    /**
     * @param parameter a declared parameter
     * @return its current value (FLOAT32) on the host
     */
    TensorData read(Parameter parameter);

    @Override
    void close();
}
