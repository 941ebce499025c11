package dev.attune.engine.onnx.internal;

import dev.attune.engine.Batch;
import dev.attune.engine.LoweredModel;
import dev.attune.engine.TrainingSession;
import dev.attune.error.EngineException;
import dev.attune.error.InvalidDataException;
import dev.attune.model.ModelDefinition;
import dev.attune.ops.Parameter;
import dev.attune.ops.TensorData;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;

/**
 * An encoder-decoder model (T5) run by ONNX Runtime as HuggingFace Optimum runs its seq2seq
 * exports: an encoder graph, a decoder graph for the first step and a decoder graph that continues
 * from past keys and values ({@link ModelDefinition.EncoderDecoder}). It answers batches of the whole
 * model's interface ({@code input_ids}, {@code attention_mask}, {@code decoder_input_ids}, optional
 * {@code encoder_hidden_states} and {@code past_key_values.*}), so the runtime's seq2seq generator
 * and the family-fidelity suite use it like any lowered model:
 *
 * <ul>
 *   <li>with past keys and values: the decoder with past runs the new decoder tokens; the
 *       cross-attention pasts come back unchanged as {@code present.N.encoder.*}, so a generator
 *       that feeds every present back as the next past keeps working;
 *   <li>without: the encoder runs (unless {@code encoder_hidden_states} is given), then the decoder;
 *       {@code encoder_last_hidden_state} is returned when the encoder ran.
 * </ul>
 *
 * <p>A {@code decoder_attention_mask} is accepted only when it masks nothing (Optimum's decoder graphs
 * take none: the decoder is causal and right padding does not reach earlier positions).
 */
public final class OrtSeq2SeqModel implements LoweredModel {
    private static final String PAST = "past_key_values.";
    private static final String PRESENT = "present.";

    private final ModelDefinition definition;
    private final OrtLoweredModel encoder;
    private final OrtLoweredModel decoder;
    private final OrtLoweredModel decoderWithPast;
    private final Function<Parameter, TensorData> parameters;

    /**
     * @param definition the whole model's interface
     * @param encoder the encoder graph, owned from now on
     * @param decoder the first-step decoder graph, owned from now on
     * @param decoderWithPast the decoder graph with past keys and values, owned from now on; null when
     *     the model was exported without (then every step runs the whole decoder sequence)
     * @param parameters parameter values for {@link #read}, or null when loaded from files
     */
    public OrtSeq2SeqModel(ModelDefinition definition, OrtLoweredModel encoder, OrtLoweredModel decoder,
            OrtLoweredModel decoderWithPast, Function<Parameter, TensorData> parameters) {
        this.definition = definition;
        this.encoder = encoder;
        this.decoder = decoder;
        this.decoderWithPast = decoderWithPast;
        this.parameters = parameters;
    }

    @Override
    public ModelDefinition definition() {
        return definition;
    }

    @Override
    public String device() {
        return "cpu";
    }

    @Override
    public Map<String, TensorData> predict(Batch batch) {
        TensorData decoderIds = batch.get("decoder_input_ids");
        if (decoderIds == null) {
            throw new InvalidDataException("an encoder-decoder model needs decoder_input_ids; the batch has "
                    + batch.tensors().keySet());
        }
        checkDecoderMask(batch.get("decoder_attention_mask"));
        boolean withPast = batch.tensors().keySet().stream().anyMatch(n -> n.startsWith(PAST));
        Map<String, TensorData> feed = new LinkedHashMap<>();
        feed.put("input_ids", decoderIds);
        Map<String, TensorData> out = new LinkedHashMap<>();
        if (withPast) {
            if (decoderWithPast == null) {
                throw new EngineException("this ONNX export of " + definition.architecture() + " has no decoder with"
                        + " past keys and values (exported with --no-past); generate without the cache");
            }
            TensorData firstCross = batch.get(PAST + "0.encoder.key");
            if (firstCross == null) {
                throw new InvalidDataException("past keys and values of an encoder-decoder need the cross-attention"
                        + " ones (past_key_values.N.encoder.key/value) too; the batch has " + batch.tensors().keySet());
            }
            feed.put("encoder_attention_mask", sourceMask(batch, firstCross.shape()[0], firstCross.shape()[2]));
            batch.tensors().forEach((name, t) -> {
                if (name.startsWith(PAST)) {
                    feed.put(name, t);
                }
            });
            out.putAll(decoderWithPast.predict(new Batch(feed, batch.size())));
            batch.tensors().forEach((name, t) -> {
                if (name.startsWith(PAST) && name.contains(".encoder.")) {
                    out.put(PRESENT + name.substring(PAST.length()), t);
                }
            });
            return out;
        }
        TensorData states = batch.get("encoder_hidden_states");
        boolean ranEncoder = states == null;
        if (ranEncoder) {
            TensorData ids = batch.get("input_ids");
            if (ids == null) {
                throw new InvalidDataException("an encoder-decoder model needs input_ids (or encoder_hidden_states);"
                        + " the batch has " + batch.tensors().keySet());
            }
            Map<String, TensorData> source = new LinkedHashMap<>();
            source.put("input_ids", ids);
            source.put("attention_mask", sourceMask(batch, ids.shape()[0], ids.shape()[1]));
            states = encoder.predict(new Batch(source, batch.size())).get("last_hidden_state");
        }
        feed.put("encoder_attention_mask", sourceMask(batch, states.shape()[0], states.shape()[1]));
        feed.put("encoder_hidden_states", states);
        out.putAll(decoder.predict(new Batch(feed, batch.size())));
        if (ranEncoder) {
            out.put("encoder_last_hidden_state", states);
        }
        return out;
    }

    /** @return the batch's {@code attention_mask}, or all ones [rows, length] */
    private static TensorData sourceMask(Batch batch, long rows, long length) {
        TensorData mask = batch.get("attention_mask");
        if (mask != null) {
            return mask;
        }
        long[] ones = new long[Math.toIntExact(rows * length)];
        java.util.Arrays.fill(ones, 1);
        return TensorData.ofLongs(new long[] {rows, length}, ones);
    }

    private void checkDecoderMask(TensorData mask) {
        if (mask == null) {
            return;
        }
        for (long v : mask.toLongArray()) {
            if (v != 1) {
                throw new InvalidDataException("the ONNX decoder of " + definition.architecture() + " takes no"
                        + " decoder_attention_mask (as Optimum exports it); pad decoder inputs on the right and leave"
                        + " the mask out");
            }
        }
    }

    @Override
    public TrainingSession startTraining(Set<String> frozen, List<String> slots) {
        throw new EngineException("the ONNX Runtime engine runs inference only; train on the pytorch engine and"
                + " export the result (attune export --format onnx)");
    }

    @Override
    public TensorData read(Parameter parameter) {
        if (parameters == null) {
            throw new EngineException("this ONNX model was loaded from files; its parameters are not available by"
                    + " name (" + parameter.name() + ")");
        }
        return parameters.apply(parameter).toFloat32();
    }

    @Override
    public void close() {
        RuntimeException first = null;
        for (OrtLoweredModel m : new OrtLoweredModel[] {encoder, decoder, decoderWithPast}) {
            if (m == null) {
                continue;
            }
            try {
                m.close();
            } catch (RuntimeException e) {
                first = first == null ? e : first;
            }
        }
        if (first != null) {
            throw first;
        }
    }
}
