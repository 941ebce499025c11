package dev.attune.engine;

import org.apiguardian.api.API;

import dev.attune.ops.Parameter;
import dev.attune.ops.TensorData;

import dev.attune.model.ModelDefinition;
import dev.attune.model.PretrainedModel;
import java.util.Optional;

/** A started engine: lowers model definitions onto a device. */
@API(status = API.Status.EXPERIMENTAL, since = "0.1")
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

    /**
     * Runs a checkpoint as it is stored, when this engine can run its file itself rather than a
     * definition built from its weights: the {@code onnx} engine serves an ONNX file's own graph (a
     * file made by Attune, {@code torch.onnx.export} or Optimum). Opening a saved model ({@code
     * Attune.open}) asks the engine first and lowers a definition only when the answer is empty.
     *
     * @param checkpoint a checkpoint opened by a {@link dev.attune.model.SourceProvider}'s source
     * @param options device, threads and seed
     * @return the running model, or empty when this engine does not run that checkpoint's file
     */
    default Optional<LoweredModel> serve(PretrainedModel checkpoint, EngineOptions options) {
        return Optional.empty();
    }

    @Override
    void close();

    /** Supplies the initial value of each parameter when an engine lowers a definition. */
    @FunctionalInterface
    @API(status = API.Status.EXPERIMENTAL, since = "0.1")
    public interface ParameterSource {
        /**
         * @param parameter a declared parameter
         * @return its value, FLOAT32 or FLOAT16, shaped as declared
         */
        TensorData valueOf(Parameter parameter);
    }
}
