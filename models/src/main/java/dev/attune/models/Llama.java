package dev.attune.models;

import com.fasterxml.jackson.databind.JsonNode;
import dev.attune.error.InvalidCheckpointException;
import dev.attune.error.UnsupportedArchitectureException;
import dev.attune.model.HeadSpec.HeadKind;
import dev.attune.model.HeadSpec;
import dev.attune.model.ModelConfig;
import dev.attune.model.ModelDefinition.InputSpec;
import dev.attune.model.ModelDefinition;
import dev.attune.model.ModelFamily;
import dev.attune.models.nn.Activations.Activation;
import dev.attune.models.nn.Activations;
import dev.attune.models.nn.Embedding;
import dev.attune.models.nn.Linear;
import dev.attune.ops.DType;
import dev.attune.ops.Ops;
import dev.attune.ops.Parameter.Init;
import dev.attune.ops.Parameter;
import dev.attune.ops.ParameterSet.Scope;
import dev.attune.ops.ParameterSet;
import dev.attune.ops.Tensor;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * The Llama decoder as HuggingFace's {@code modeling_llama.py} defines it, and the families that
 * share its parameter tree: {@code model_type} {@code llama} (Llama 2, 3, 3.1, 3.2, SmolLM), {@code
 * mistral}, {@code qwen2} (Qwen 2 and 2.5: bias on q/k/v) and {@code qwen3} (RMSNorm on each
 * head's query and key, {@code head_dim} given apart from hidden size and heads). Token embeddings
 * ({@code model.embed_tokens}); pre-RMSNorm layers ({@code model.layers.N.input_layernorm}, {@code
 * self_attn.{q,k,v,o}_proj} with rotary position embeddings and grouped-query attention ({@code
 * num_key_value_heads}), {@code post_attention_layernorm}, the SwiGLU {@code mlp.{gate,up,down}_proj});
 * {@code model.norm}. Heads: {@code ...ForCausalLM} ({@code lm_head}, tied to the embeddings when
 * {@code tie_word_embeddings}) and {@code ...ForSequenceClassification} ({@code score}, read at the
 * last token that is not {@code pad_token_id}).
 *
 * <p>Rotary embeddings: {@code rope_parameters} (transformers 5) or {@code rope_theta} and {@code
 * rope_scaling} (transformers 4), rope types {@code default} and {@code llama3}; the inverse
 * frequencies are computed here in float32 as transformers computes them, the angles in the graph
 * ({@link Ops#cos}, {@link Ops#sin}).
 *
 * <p>Positions: without an attention mask, {@code past .. past + T - 1}; with one, each token's
 * position is the number of kept tokens before it ({@code cumsum(attention_mask) - 1}, as
 * transformers' {@code generate} computes them), so a left-padded batch gives every row the
 * positions it has alone; padding tokens keep their index (they are masked out as keys). For a
 * right-padded batch that is HuggingFace's forward pass ({@code 0 .. T - 1}) exactly.
 *
 * <p>Key/value cache as {@link Gpt2}'s: optional inputs {@code past_key_values.N.key/value} and
 * outputs {@code present.N.key/value}, {@code [B, num_key_value_heads, past + T, head_dim]}, keys
 * stored after rotation, as HuggingFace's cache holds them.
 *
 * <p>Mistral's {@code sliding_window} (Mistral 7B v0.1: 4096) narrows the causal mask: a token
 * attends to itself and the {@code sliding_window - 1} tokens before it, by index in the (padded)
 * row, as transformers' {@code sliding_window_overlay}; the cache keeps every key, masked.
 *
 * <p>Refused with the key named: rope types other than default and llama3, partial rotary
 * factors, Qwen's {@code use_sliding_window} (its windows apply from {@code max_window_layers} on),
 * mixtures of experts.
 */
public class Llama implements ModelFamily {
    private final String modelType;

    /** The {@code llama} family. */
    public Llama() {
        this("llama");
    }

    /** @param modelType the {@code model_type} this family reads */
    Llama(String modelType) {
        this.modelType = modelType;
    }

    /** {@code model_type} {@code mistral}: Llama's layers (no biases), possibly a sliding window. */
    public static final class Mistral extends Llama {
        /** The {@code mistral} family. */
        public Mistral() {
            super("mistral");
        }
    }

    /** {@code model_type} {@code qwen2} (Qwen 2, 2.5): bias on the query, key and value projections. */
    public static final class Qwen2 extends Llama {
        /** The {@code qwen2} family. */
        public Qwen2() {
            super("qwen2");
        }
    }

    /** {@code model_type} {@code qwen3}: RMSNorm on each head's query and key, {@code head_dim} apart. */
    public static final class Qwen3 extends Llama {
        /** The {@code qwen3} family. */
        public Qwen3() {
            super("qwen3");
        }
    }

    @Override
    public String modelType() {
        return modelType;
    }

    @Override
    public Set<HeadKind> supportedHeads() {
        return EnumSet.of(HeadKind.CAUSAL_LM, HeadKind.SEQUENCE_CLASSIFICATION);
    }

    @Override
    public ModelDefinition define(ModelConfig config, HeadSpec head) {
        Config c = new Config(config, modelType);
        return switch (head.kind()) {
            case CAUSAL_LM -> new ForCausalLM(c);
            case SEQUENCE_CLASSIFICATION -> new ForSequenceClassification(c, head.numLabels());
            default -> throw new UnsupportedArchitectureException(config.origin() + ": " + modelType + " has no "
                    + head.kind() + " head; supported: " + supportedHeads());
        };
    }

    /** The architecture name prefix of HuggingFace's classes ({@code Llama}, {@code Qwen2}, ...). */
    static String prefix(String modelType) {
        return switch (modelType) {
            case "mistral" -> "Mistral";
            case "qwen2" -> "Qwen2";
            case "qwen3" -> "Qwen3";
            default -> "Llama";
        };
    }

    /** The config keys these families read, with HuggingFace's defaults for the optional ones. */
    static final class Config {
        final ModelConfig raw;
        final String modelType;
        final int vocabSize;
        final int hidden;
        final int intermediate;
        final int layers;
        final int heads;
        final int kvHeads;
        final int headDim;
        final double eps;
        final double initRange;
        final float attnDropout;
        final Activation activation;
        final boolean tieWordEmbeddings;
        final boolean qkvBias;
        final boolean outputBias;
        final boolean mlpBias;
        final boolean qkNorm;
        final float[] invFreq;
        /** {@code pad_token_id}, or null when the config has none. */
        final Long padTokenId;
        /** Mistral's {@code sliding_window}: each token attends to itself and the window - 1 before it; 0 for none. */
        final int slidingWindow;

        Config(ModelConfig c, String modelType) {
            raw = c;
            this.modelType = modelType;
            String origin = c.origin();
            vocabSize = c.requireInt("vocab_size");
            hidden = c.requireInt("hidden_size");
            intermediate = c.requireInt("intermediate_size");
            layers = c.requireInt("num_hidden_layers");
            heads = c.requireInt("num_attention_heads");
            kvHeads = c.getInt("num_key_value_heads", heads);
            headDim = c.getInt("head_dim", modelType.equals("qwen3") ? 128 : hidden / Math.max(heads, 1));
            eps = c.getDouble("rms_norm_eps", 1e-6);
            initRange = c.getDouble("initializer_range", 0.02);
            attnDropout = (float) c.getDouble("attention_dropout", 0.0);
            activation = Activations.byName(c.getString("hidden_act", "silu"), origin);
            tieWordEmbeddings = c.getBoolean("tie_word_embeddings", false);
            boolean attentionBias = c.getBoolean("attention_bias", false);
            switch (modelType) {
                case "qwen2" -> {
                    qkvBias = true;
                    outputBias = false;
                    mlpBias = false;
                }
                case "mistral" -> {
                    qkvBias = false;
                    outputBias = false;
                    mlpBias = false;
                }
                case "qwen3" -> {
                    qkvBias = attentionBias;
                    outputBias = attentionBias;
                    mlpBias = false;
                }
                default -> {
                    qkvBias = attentionBias;
                    outputBias = attentionBias;
                    mlpBias = c.getBoolean("mlp_bias", false);
                }
            }
            qkNorm = modelType.equals("qwen3");
            slidingWindow = !modelType.equals("qwen2") && !modelType.equals("qwen3") && c.has("sliding_window")
                    ? c.requireInt("sliding_window") : 0;
            padTokenId = c.has("pad_token_id") ? (long) c.requireInt("pad_token_id") : null;
            if (heads < 1 || kvHeads < 1 || heads % kvHeads != 0) {
                throw new InvalidCheckpointException(origin + ": num_attention_heads " + heads
                        + " is not a multiple of num_key_value_heads " + kvHeads);
            }
            if (headDim % 2 != 0) {
                throw new InvalidCheckpointException(origin + ": head_dim " + headDim + " must be even for rotary embeddings");
            }
            refuseUnsupported(c, modelType);
            invFreq = inverseFrequencies(c, headDim);
        }

        private static void refuseUnsupported(ModelConfig c, String modelType) {
            String origin = c.origin();
            for (String moe : List.of("num_experts", "num_local_experts", "n_routed_experts")) {
                if (c.has(moe) && c.getInt(moe, 0) > 0) {
                    throw new UnsupportedArchitectureException(origin + ": '" + moe + "' = " + c.getInt(moe, 0)
                            + ": mixtures of experts are not supported; use a dense checkpoint");
                }
            }
            if (modelType.equals("qwen2") || modelType.equals("qwen3")) {
                if (c.getBoolean("use_sliding_window", false)) {
                    throw new UnsupportedArchitectureException(origin + ": 'use_sliding_window' is true: sliding-window"
                            + " attention is not supported; set it to false (--set use_sliding_window=false) if your"
                            + " sequences are shorter than 'sliding_window'");
                }
            } else if (c.has("sliding_window") && c.requireInt("sliding_window") < 1) {
                throw new InvalidCheckpointException(origin + ": 'sliding_window' " + c.requireInt("sliding_window")
                        + " must be at least 1 (or null for full attention)");
            }
            Optional<JsonNode> partial = c.raw("partial_rotary_factor");
            if (partial.isPresent() && partial.get().asDouble() != 1.0) {
                throw new UnsupportedArchitectureException(origin + ": 'partial_rotary_factor' " + partial.get()
                        + " is not supported (rotary embeddings on the whole head only)");
            }
        }
    }

    /**
     * HuggingFace's rotary inverse frequencies, {@code 1 / theta^(2i / d)}, in float32 as {@code
     * _compute_default_rope_parameters} computes them, then rescaled for {@code llama3}.
     *
     * @param c the config: {@code rope_parameters} (transformers 5) or {@code rope_theta} and {@code
     *     rope_scaling} (transformers 4)
     * @param dim the rotated dimension (head_dim)
     * @return {@code dim / 2} frequencies
     */
    static float[] inverseFrequencies(ModelConfig c, int dim) {
        String origin = c.origin();
        JsonNode params = c.raw("rope_parameters").orElse(null);
        String where = "rope_parameters";
        if (params == null || !params.isObject()) {
            params = c.raw("rope_scaling").orElse(null);
            where = "rope_scaling";
        }
        double theta = c.getDouble("rope_theta", 10000.0);
        String type = "default";
        if (params != null) {
            if (!params.isObject()) {
                throw new InvalidCheckpointException(origin + ": '" + where + "' must be an object, found " + params);
            }
            if (params.has("rope_theta")) {
                theta = params.get("rope_theta").asDouble();
            }
            JsonNode t = params.has("rope_type") ? params.get("rope_type") : params.get("type");
            if (t != null && !t.isNull()) {
                type = t.asText();
            }
            if (!params.has("rope_type") && !params.has("type") && !params.has("rope_theta")) {
                throw new UnsupportedArchitectureException(origin + ": '" + where + "' has no rope_type: " + params
                        + "; per-layer-type rotary parameters are not supported");
            }
        }
        int half = dim / 2;
        float[] inv = new float[half];
        float base = (float) theta;
        for (int i = 0; i < half; i++) {
            float exponent = (float) (2 * i) / (float) dim;
            inv[i] = 1f / (float) Math.pow(base, exponent);
        }
        switch (type) {
            case "default" -> {
                return inv;
            }
            case "llama3" -> {
                return llama3(inv, params, origin, where);
            }
            default -> throw new UnsupportedArchitectureException(origin + ": '" + where + ".rope_type' '" + type
                    + "' is not supported; supported: default, llama3");
        }
    }

    /** {@code _compute_llama3_parameters}: long wavelengths divided by {@code factor}, a smooth blend between. */
    private static float[] llama3(float[] inv, JsonNode p, String origin, String where) {
        float factor = number(p, "factor", origin, where);
        float low = number(p, "low_freq_factor", origin, where);
        float high = number(p, "high_freq_factor", origin, where);
        float oldContext = number(p, "original_max_position_embeddings", origin, where);
        float lowWavelen = oldContext / low;
        float highWavelen = oldContext / high;
        float[] out = new float[inv.length];
        for (int i = 0; i < inv.length; i++) {
            float wavelen = (float) (2 * Math.PI) / inv[i];
            float scaled = wavelen > lowWavelen ? inv[i] / factor : inv[i];
            float smooth = (oldContext / wavelen - low) / (high - low);
            float smoothed = (1 - smooth) * scaled / factor + smooth * scaled;
            boolean medium = !(wavelen < highWavelen) && !(wavelen > lowWavelen);
            out[i] = medium ? smoothed : scaled;
        }
        return out;
    }

    private static float number(JsonNode p, String key, String origin, String where) {
        JsonNode n = p.get(key);
        if (n == null || !n.isNumber()) {
            throw new InvalidCheckpointException(origin + ": '" + where + "." + key + "' must be a number for rope_type"
                    + " llama3, found " + n);
        }
        return n.floatValue();
    }

    /** {@code LlamaRMSNorm}: {@code weight * x / sqrt(mean(x^2) + eps)} over the last axis. */
    static final class RmsNorm {
        final Parameter weight;
        final float eps;

        RmsNorm(Scope s, long dim, double eps) {
            weight = s.param("weight", Init.ones(), false, dim);
            this.eps = (float) eps;
        }

        /**
         * The temporaries the backward pass does not keep are released as soon as they are used (an
         * eager engine would otherwise hold them until the whole forward pass ends): the square, the
         * variance terms and, when the weight is frozen (LoRA), the normalised input.
         */
        Tensor forward(Ops ops, Tensor x) {
            Tensor squared = ops.mul(x, x);
            Tensor variance = ops.mean(squared, -1, true);
            ops.release(squared);
            Tensor shifted = ops.add(variance, eps);
            ops.release(variance);
            Tensor inverse = ops.pow(shifted, -0.5f);
            ops.release(shifted);
            Tensor normed = ops.mul(x, inverse);
            ops.release(inverse);
            Tensor out = ops.mul(ops.parameter(weight), normed);
            ops.release(normed);
            return out;
        }
    }

    /** The rotary cos and sin of every (query) position, broadcastable to {@code [B, heads, T, head_dim]}. */
    record Rotary(Tensor cos, Tensor sin) {
        /** {@code x * cos + rotate_half(x) * sin}, with {@code rotate_half(x) = [-x2, x1]}. */
        Tensor apply(Ops ops, Tensor x, int headDim) {
            int half = headDim / 2;
            Tensor high = ops.slice(x, -1, half, headDim);
            Tensor negated = ops.neg(high);
            ops.release(high);
            Tensor low = ops.slice(x, -1, 0, half);
            Tensor rotated = ops.concat(-1, negated, low);
            ops.release(negated);
            ops.release(low);
            // the products keep only cos and sin for the backward pass: the rest goes as soon as it is summed
            Tensor straight = ops.mul(x, cos);
            Tensor turned = ops.mul(rotated, sin);
            ops.release(rotated);
            Tensor out = ops.add(straight, turned);
            ops.release(straight);
            ops.release(turned);
            return out;
        }
    }

    /** {@code LlamaAttention}: q/k/v projections, rotary embeddings, grouped-query attention, {@code o_proj}. */
    static final class Attention {
        final Linear q;
        final Linear k;
        final Linear v;
        final Linear o;
        final RmsNorm qNorm;
        final RmsNorm kNorm;
        final Config c;
        final float scaling;

        Attention(Scope s, Config c) {
            this.c = c;
            q = new Linear(s.child("q_proj"), c.hidden, (long) c.heads * c.headDim, c.qkvBias, c.initRange);
            k = new Linear(s.child("k_proj"), c.hidden, (long) c.kvHeads * c.headDim, c.qkvBias, c.initRange);
            v = new Linear(s.child("v_proj"), c.hidden, (long) c.kvHeads * c.headDim, c.qkvBias, c.initRange);
            o = new Linear(s.child("o_proj"), (long) c.heads * c.headDim, c.hidden, c.outputBias, c.initRange);
            qNorm = c.qkNorm ? new RmsNorm(s.child("q_norm"), c.headDim, c.eps) : null;
            kNorm = c.qkNorm ? new RmsNorm(s.child("k_norm"), c.headDim, c.eps) : null;
            scaling = (float) (1 / Math.sqrt(c.headDim));
        }

        /** [B, T, n * d] -> [B, n, T, d], with the per-head norm of qwen3. */
        private Tensor split(Ops ops, Tensor x, int n, RmsNorm norm) {
            Tensor heads = ops.reshape(x, 0, 0, n, c.headDim);
            if (norm != null) {
                heads = norm.forward(ops, heads);
            }
            return ops.transpose(heads, 0, 2, 1, 3);
        }

        /** HuggingFace's {@code repeat_kv}: each key/value head serves {@code heads / kvHeads} query heads. */
        private Tensor repeat(Ops ops, Tensor x) {
            int groups = c.heads / c.kvHeads;
            if (groups == 1) {
                return x;
            }
            Tensor one = ops.unsqueeze(x, 2);
            Tensor[] copies = new Tensor[groups];
            java.util.Arrays.fill(copies, one);
            return ops.reshape(ops.concat(2, copies), 0, c.heads, -1, c.headDim);
        }

        Tensor forward(Ops ops, Tensor x, Rotary rotary, Tensor maskBias, Gpt2.LayerCache cache) {
            Tensor query = rotary.apply(ops, split(ops, q.forward(ops, x), c.heads, qNorm), c.headDim);
            Tensor key = rotary.apply(ops, split(ops, k.forward(ops, x), c.kvHeads, kNorm), c.headDim);
            Tensor value = split(ops, v.forward(ops, x), c.kvHeads, null);
            if (cache.key != null) {
                key = ops.concat(2, cache.key, key);
                value = ops.concat(2, cache.value, value);
            }
            cache.key = key;
            cache.value = value;
            Tensor attended = ops.attention(query, repeat(ops, key), repeat(ops, value), maskBias, scaling,
                    c.attnDropout);
            Tensor context = ops.reshape(ops.transpose(attended, 0, 2, 1, 3), 0, 0, (long) c.heads * c.headDim);
            return o.forward(ops, context);
        }
    }

    /** {@code LlamaDecoderLayer}: RMSNorm, attention, residual; RMSNorm, SwiGLU MLP, residual. */
    static final class DecoderLayer {
        final RmsNorm inputNorm;
        final Attention attn;
        final RmsNorm postNorm;
        final Linear gate;
        final Linear up;
        final Linear down;
        final Activation activation;

        DecoderLayer(Scope s, Config c) {
            inputNorm = new RmsNorm(s.child("input_layernorm"), c.hidden, c.eps);
            attn = new Attention(s.child("self_attn"), c);
            postNorm = new RmsNorm(s.child("post_attention_layernorm"), c.hidden, c.eps);
            Scope mlp = s.child("mlp");
            gate = new Linear(mlp.child("gate_proj"), c.hidden, c.intermediate, c.mlpBias, c.initRange);
            up = new Linear(mlp.child("up_proj"), c.hidden, c.intermediate, c.mlpBias, c.initRange);
            down = new Linear(mlp.child("down_proj"), c.intermediate, c.hidden, c.mlpBias, c.initRange);
            activation = c.activation;
        }

        /** Each branch's output is released once added to the residual stream (a sum keeps nothing for backward). */
        Tensor forward(Ops ops, Tensor x, Rotary rotary, Tensor maskBias, Gpt2.LayerCache cache) {
            Tensor attended = attn.forward(ops, inputNorm.forward(ops, x), rotary, maskBias, cache);
            x = ops.add(x, attended);
            ops.release(attended);
            Tensor h = postNorm.forward(ops, x);
            Tensor m = down.forward(ops, ops.mul(activation.apply(ops, gate.forward(ops, h)), up.forward(ops, h)));
            Tensor out = ops.add(x, m);
            ops.release(m);
            return out;
        }
    }

    /** {@code LlamaModel}: {@code embed_tokens}, the layers {@code layers.N}, {@code norm}. */
    static final class Decoder {
        final Config c;
        final Embedding embedTokens;
        final List<DecoderLayer> layers = new ArrayList<>();
        final RmsNorm norm;

        Decoder(Scope s, Config c) {
            this.c = c;
            embedTokens = new Embedding(s.child("embed_tokens"), c.vocabSize, c.hidden, c.initRange);
            Scope l = s.child("layers");
            for (int i = 0; i < c.layers; i++) {
                layers.add(new DecoderLayer(l.child(i), c));
            }
            norm = new RmsNorm(s.child("norm"), c.hidden, c.eps);
        }

        /**
         * @param presents receives {@code present.N.key/value}, or null when not wanted
         * @return the last hidden state after {@code norm}, [B, T, hidden]
         */
        Tensor forward(Ops ops, Map<String, Tensor> inputs, Map<String, Tensor> presents) {
            Tensor ids = inputs.get("input_ids");
            Tensor mask = inputs.get("attention_mask");
            Tensor queryIndex = ops.range(ids, 1);
            Tensor keyIndex = queryIndex;
            Tensor firstPast = inputs.get(Gpt2.pastKeyName(0));
            if (firstPast != null) {
                // the past length as an INT64 scalar from the (dynamic) key axis, as Gpt2 computes it
                Tensor pastIndex = ops.range(firstPast, 2);
                Tensor pastLength = ops.sum(ops.cast(ops.notEqual(pastIndex, -1), DType.INT64), 0, false);
                queryIndex = ops.add(queryIndex, pastLength);
                keyIndex = ops.concat(0, pastIndex, queryIndex);
            }
            Rotary rotary = rotary(ops, ids, mask, queryIndex, keyIndex);
            Tensor bias = c.slidingWindow > 0 ? slidingWindowMaskBias(ops, queryIndex, keyIndex, mask, c.slidingWindow)
                    : Gpt2.causalMaskBias(ops, queryIndex, keyIndex, mask);
            Tensor x = embedTokens.forward(ops, ids);
            for (int i = 0; i < layers.size(); i++) {
                Gpt2.LayerCache cache = new Gpt2.LayerCache();
                cache.key = inputs.get(Gpt2.pastKeyName(i));
                cache.value = inputs.get(Gpt2.pastValueName(i));
                if ((cache.key == null) != (firstPast == null) || (cache.key == null) != (cache.value == null)) {
                    throw new IllegalArgumentException(
                            "the decoder needs past key and value for every layer or for none; layer " + i + " differs");
                }
                DecoderLayer layer = layers.get(i);
                // a recomputed layer's key and value would outlive their recomputation: no presents then, and each
                // run of the layer gets a cache of its own (the layer writes its key and value into it)
                x = presents == null && cache.key == null
                        ? ops.checkpoint((o, h) -> layer.forward(o, h, rotary, bias, new Gpt2.LayerCache()), x)
                        : layer.forward(ops, x, rotary, bias, cache);
                if (presents != null) {
                    presents.put(Gpt2.presentKeyName(i), cache.key);
                    presents.put(Gpt2.presentValueName(i), cache.value);
                }
            }
            return norm.forward(ops, x);
        }

        /**
         * {@link Gpt2#causalMaskBias} narrowed to a sliding window, as transformers'
         * {@code sliding_window_overlay}: a query at index q (its place in the padded row, past
         * included) keeps the keys at indices q - window + 1 .. q that the attention mask keeps.
         * The keep masks are multiplied before the one scaling, so a row that keeps nothing stays
         * finite as in the causal mask.
         */
        static Tensor slidingWindowMaskBias(Ops ops, Tensor queryIndex, Tensor keyIndex, Tensor attentionMask,
                int window) {
            Tensor q = ops.unsqueeze(queryIndex, 1);
            Tensor k = ops.unsqueeze(keyIndex, 0);
            Tensor future = ops.cast(ops.greater(k, q), DType.FLOAT32);
            Tensor far = ops.cast(ops.greater(ops.cast(ops.sub(q, k), DType.FLOAT32), ops.scalar(window - 1f)),
                    DType.FLOAT32);
            Tensor keep = ops.mul(ops.sub(ops.scalar(1f), future), ops.sub(ops.scalar(1f), far));
            if (attentionMask != null) {
                Tensor keys = ops.unsqueeze(ops.unsqueeze(ops.cast(attentionMask, DType.FLOAT32), 1), 1);
                keep = ops.mul(keep, keys);
            }
            return ops.mul(ops.sub(ops.scalar(1f), keep), -Float.MAX_VALUE);
        }

        /**
         * Positions (float32) of the new tokens: their index without a mask ([T]); with one, the count
         * of kept tokens before each ({@code cumsum(mask) - 1}) where the mask keeps it and the index
         * elsewhere ([B, T]). Then the angles {@code position * inv_freq}, duplicated to head_dim.
         */
        private Rotary rotary(Ops ops, Tensor ids, Tensor mask, Tensor queryIndex, Tensor keyIndex) {
            Tensor positions;
            if (mask == null) {
                positions = ops.cast(queryIndex, DType.FLOAT32);
            } else {
                Tensor kept = ops.notEqual(mask, 0);
                Tensor counted = ops.sub(ops.cumsum(ops.cast(kept, DType.INT64), 1), ops.cast(ops.scalar(1f), DType.INT64));
                Tensor all = ops.cast(ops.where(kept, counted, ops.add(ops.mul(ops.cast(mask, DType.INT64),
                        ops.cast(ops.scalar(0f), DType.INT64)), keyIndex)), DType.FLOAT32);
                // the last T of the [B, past + T] positions: gathered at the query indices
                Tensor rows = ops.add(ops.mul(ops.cast(ids, DType.INT64), ops.cast(ops.scalar(0f), DType.INT64)),
                        queryIndex);
                positions = ops.gather(all, 1, rows);
            }
            Tensor inv = ops.constant(new long[] {c.invFreq.length}, c.invFreq);
            Tensor freqs = ops.mul(ops.unsqueeze(positions, -1), inv);
            Tensor angles = ops.concat(-1, freqs, freqs);
            Tensor cos = ops.cos(angles);
            Tensor sin = ops.sin(angles);
            if (mask != null) { // [B, T, d] -> [B, 1, T, d]
                cos = ops.unsqueeze(cos, 1);
                sin = ops.unsqueeze(sin, 1);
            }
            return new Rotary(cos, sin);
        }
    }

    /** Shared plumbing of the head models. */
    abstract static class Head implements ModelDefinition {
        final Config config;
        final ParameterSet params = new ParameterSet();
        final Decoder model;

        Head(Config config) {
            this.config = config;
            this.model = new Decoder(Scope.root(params).child("model"), config);
        }

        @Override
        public ModelConfig config() {
            return config.raw;
        }

        @Override
        public String baseModelPrefix() {
            return "model";
        }

        @Override
        public ParameterSet parameters() {
            return params;
        }

        @Override
        public List<InputSpec> inputs() {
            return List.of(
                    new InputSpec("input_ids", DType.INT64, 2, false),
                    new InputSpec("attention_mask", DType.INT64, 2, true));
        }

        @Override
        public List<String> outputs() {
            return List.of("logits");
        }
    }

    /** {@code LlamaForCausalLM} (and Mistral's, Qwen's): {@code lm_head} without bias. */
    static final class ForCausalLM extends Head {
        final Parameter lmHead;

        ForCausalLM(Config c) {
            super(c);
            Scope head = Scope.root(params).child("lm_head");
            if (c.tieWordEmbeddings) {
                lmHead = model.embedTokens.weight();
                params.tie(head.qualify("weight"), lmHead);
            } else {
                lmHead = head.param("weight", Init.normal(c.initRange), true, c.vocabSize, c.hidden);
            }
        }

        @Override
        public String architecture() {
            return prefix(config.modelType) + "ForCausalLM";
        }

        /** Adds the optional past key/value inputs of every layer. */
        @Override
        public List<InputSpec> inputs() {
            List<InputSpec> all = new ArrayList<>(super.inputs());
            for (int i = 0; i < config.layers; i++) {
                all.add(new InputSpec(Gpt2.pastKeyName(i), DType.FLOAT32, 4, true));
                all.add(new InputSpec(Gpt2.pastValueName(i), DType.FLOAT32, 4, true));
            }
            return List.copyOf(all);
        }

        /** @return {@code logits} and every layer's present key and value */
        @Override
        public List<String> outputs() {
            List<String> all = new ArrayList<>(List.of("logits"));
            for (int i = 0; i < config.layers; i++) {
                all.add(Gpt2.presentKeyName(i));
                all.add(Gpt2.presentValueName(i));
            }
            return List.copyOf(all);
        }

        /**
         * @return {@code logits} [B, T, vocab_size], then {@code present.N.key} and {@code
         *     present.N.value} [B, kv_heads, past + T, head_dim]
         *     (not while training, so each layer can be checkpointed)
         */
        @Override
        public Map<String, Tensor> forward(Ops ops, Map<String, Tensor> inputs) {
            // training reads no key/value cache, and asking for it keeps every layer out of gradient checkpointing
            Map<String, Tensor> presents = ops.isTraining() ? null : new LinkedHashMap<>();
            Tensor hidden = model.forward(ops, inputs, presents);
            Map<String, Tensor> out = new LinkedHashMap<>();
            out.put("logits", ops.linear(hidden, ops.parameter(lmHead), null));
            if (presents != null) {
                out.putAll(presents);
            }
            return out;
        }
    }

    /**
     * {@code LlamaForSequenceClassification}: {@code score} (no bias) on every token, read at the
     * rightmost token that is not {@code pad_token_id} (without one, at the last token the attention
     * mask keeps).
     */
    static final class ForSequenceClassification extends Head {
        final Linear score;

        ForSequenceClassification(Config c, int numLabels) {
            super(c);
            if (numLabels < 1) {
                throw new IllegalArgumentException("a classifier needs at least one label");
            }
            score = new Linear(Scope.root(params).child("score"), c.hidden, numLabels, false, c.initRange);
        }

        @Override
        public String architecture() {
            return prefix(config.modelType) + "ForSequenceClassification";
        }

        /** @return {@code logits} [B, numLabels] */
        @Override
        public Map<String, Tensor> forward(Ops ops, Map<String, Tensor> inputs) {
            Tensor ids = inputs.get("input_ids");
            Tensor logits = score.forward(ops, model.forward(ops, inputs, null));
            Tensor positions = ops.range(ids, 1);
            Tensor notPad = config.padTokenId != null
                    ? ops.cast(ops.notEqual(ids, config.padTokenId), DType.INT64)
                    : inputs.get("attention_mask");
            Tensor last = notPad == null
                    ? ops.max(positions, 0, true)
                    : ops.max(ops.mul(positions, ops.cast(notPad, DType.INT64)), 1, true);
            Tensor pick = ops.cast(ops.equal(positions, last), DType.FLOAT32);
            Map<String, Tensor> out = new LinkedHashMap<>();
            out.put("logits", ops.sum(ops.mul(logits, ops.unsqueeze(pick, -1)), 1, false));
            return out;
        }
    }
}
