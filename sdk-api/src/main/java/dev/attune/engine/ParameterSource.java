package dev.attune.engine;

import dev.attune.ops.Parameter;
import dev.attune.ops.TensorData;

/** Supplies the initial value of each parameter when an engine lowers a definition. */
@FunctionalInterface
public interface ParameterSource {
    /**
     * @param parameter a declared parameter
     * @return its value, FLOAT32 or FLOAT16, shaped as declared
     */
    TensorData valueOf(Parameter parameter);
}
