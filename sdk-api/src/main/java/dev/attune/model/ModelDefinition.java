package dev.attune.model;

import org.apiguardian.api.API;

import dev.attune.ops.DType;

import dev.attune.ops.Ops;
import dev.attune.ops.ParameterSet;
import dev.attune.ops.Tensor;
import java.util.List;
import java.util.Map;
import java.util.Optional;

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
     * @return for an encoder-decoder model, its encoder and its decoder as definitions of their own
     *     over this model's parameters, so that an exporter writes them as separate graphs and a
     *     graph runtime runs the encoder once per source (as HuggingFace Optimum exports seq2seq
     *     models); empty for other models (the default)
     */
    default Optional<EncoderDecoder> encoderDecoder() {
        return Optional.empty();
    }

    /**
     * The parts of an encoder-decoder model, with the input and output names of HuggingFace
     * Optimum's seq2seq exports.
     *
     * @param encoder inputs {@code input_ids}, {@code attention_mask}; output {@code
     *     last_hidden_state} [batch, source, hidden]
     * @param decoder inputs {@code input_ids} (the decoder's), {@code encoder_attention_mask},
     *     {@code encoder_hidden_states}; outputs {@code logits} and every layer's {@code
     *     present.N.decoder.key/value} and {@code present.N.encoder.key/value}
     * @param decoderWithPast the decoder one step on: inputs {@code input_ids} (new tokens), {@code
     *     encoder_attention_mask} and every layer's {@code past_key_values.N.decoder.key/value} and
     *     {@code past_key_values.N.encoder.key/value}; outputs {@code logits} and {@code
     *     present.N.decoder.key/value} (the cross-attention keys and values stay those passed in)
     */
    @API(status = API.Status.EXPERIMENTAL, since = "0.2")
    record EncoderDecoder(ModelDefinition encoder, ModelDefinition decoder, ModelDefinition decoderWithPast) {}

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
