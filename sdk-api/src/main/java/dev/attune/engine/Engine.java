package dev.attune.engine;

import dev.attune.model.ModelDefinition;

/** A started engine: lowers model definitions onto a device. */
public interface Engine extends AutoCloseable {
    /** @return the engine's name */
    String name();

    /** @return a short description of the runtime and its version, for logs and model cards */
    String describe();

    /**
     * Lowers a definition and fills its parameters.
     *
     * @param definition the model
     * @param values initial parameter values (from the checkpoint or freshly initialised)
     * @param options device, threads and seed
     * @return the runnable model
     */
    LoweredModel lower(ModelDefinition definition, ParameterSource values, EngineOptions options);

    @Override
    void close();
}
