package dev.attune.model;

import org.apiguardian.api.API;

import dev.attune.ops.DType;

import dev.attune.ops.Ops;
import dev.attune.ops.ParameterSet;
import dev.attune.ops.Tensor;
import java.util.List;
import java.util.Map;

/**
 * An engine-neutral model: HuggingFace-named parameters and a forward pass written against {@link
 * Ops}. Engines lower it (run it eagerly, trace it into a graph, emit ONNX nodes).
 */
@API(status = API.Status.STABLE, since = "0.1")
public interface ModelDefinition {
    /** @return the config the definition was built from (with labels, overrides) */
    ModelConfig config();

    /** @return HuggingFace class name saved in config.json {@code architectures} */
    String architecture();

    /**
     * @return attribute name of the base model inside the head model ({@code bert} in
     *     BertForSequenceClassification), so that a bare base checkpoint can be loaded into it
     */
    String baseModelPrefix();

    /** @return every trainable parameter, under HuggingFace names */
    ParameterSet parameters();

    /** @return the inputs the forward pass reads */
    List<InputSpec> inputs();

    /** @return the names of the outputs the forward pass returns ({@code logits}, ...) */
    List<String> outputs();

    /**
     * Runs the model.
     *
     * @param ops the engine's ops
     * @param inputs tensors by input name (optional inputs may be absent)
     * @return outputs by name
     */
    Map<String, Tensor> forward(Ops ops, Map<String, Tensor> inputs);

    /**
     * @return the definition for inference and export: this one, or, for a definition that wraps a
     *     model to add what only training needs (a task's label inputs and loss), the wrapped model,
     *     so exporters write the model's own inputs and outputs
     */
    default ModelDefinition inference() {
        return this;
    }

    /**
     * A named input of a model definition, with dynamic batch and sequence axes.
     *
     * @param name HuggingFace input name ({@code input_ids}, {@code attention_mask}, ...)
     * @param dtype element type
     * @param rank number of axes ({@code 2} for {@code [batch, sequence]})
     * @param optional whether the forward pass runs without it (labels at inference time)
     */
    @API(status = API.Status.STABLE, since = "0.1")
    public record InputSpec(String name, DType dtype, int rank, boolean optional) {}
}
