package dev.attune.models;

import dev.attune.error.InvalidCheckpointException;
import dev.attune.error.UnsupportedArchitectureException;
import dev.attune.model.HeadSpec.HeadKind;
import dev.attune.model.HeadSpec;
import dev.attune.model.ModelDefinition.InputSpec;
import dev.attune.model.ModelConfig;
import dev.attune.model.ModelDefinition;
import dev.attune.model.ModelFamily;
import dev.attune.models.nn.Activations;
import dev.attune.models.nn.Activations.Activation;
import dev.attune.models.nn.Linear;
import dev.attune.ops.DType;
import dev.attune.ops.Parameter.Init;
import dev.attune.ops.Ops;
import dev.attune.ops.Parameter;
import dev.attune.ops.ParameterSet;
import dev.attune.ops.ParameterSet.Scope;
import dev.attune.ops.Tensor;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * T5 as HuggingFace's {@code modeling_t5.py} defines {@code T5ForConditionalGeneration}: one token
 * table {@code shared} used by the encoder, the decoder and (tied) the language-model head; encoder
 * and decoder stacks of pre-norm blocks ({@code block.N.layer.M}) with T5's RMS layer norm (a weight,
 * no bias, no mean subtraction); relative position buckets instead of position embeddings, computed
 * by the first block's {@code relative_attention_bias} (bidirectional in the encoder, causal in the
 * decoder) and shared by every block of the stack; unscaled attention scores; cross-attention from
 * the decoder to the encoder ({@code EncDecAttention}); ReLU or gated feed-forward layers per {@code
 * feed_forward_proj} ({@code relu}, {@code gated-gelu}, {@code gated-silu}, ...).
 *
 * <p>Language-model head: original T5 ties {@code lm_head} to {@code shared} and multiplies the
 * decoder output by {@code d_model ** -0.5} first. T5 v1.1 / Flan-T5 keep a separate {@code
 * lm_head.weight} and do not scale. transformers 4 tells them apart by {@code tie_word_embeddings}
 * (false for v1.1); transformers 5 always writes {@code tie_word_embeddings: true}, ties the head
 * (so its files have no {@code lm_head.weight}) and records the difference as {@code
 * scale_decoder_outputs}. Here {@code tie_word_embeddings} (default true) decides tying, and {@code
 * scale_decoder_outputs} scaling, else {@code tie_word_embeddings} does.
 *
 * <p>Inputs: {@code input_ids} and {@code attention_mask} (encoder), {@code decoder_input_ids} and an
 * optional {@code decoder_attention_mask} (decoder). Training takes {@code decoder_input_ids} as the
 * labels shifted right behind {@code decoder_start_token_id}; the task builds them.
 *
 * <p>Key/value cache, with the names of HuggingFace's ONNX exports: optional inputs {@code
 * past_key_values.N.decoder.key / .value} (self-attention, [B, heads, past, d_kv]) and {@code
 * past_key_values.N.encoder.key / .value} (cross-attention, [B, heads, S, d_kv]); outputs {@code
 * present.N.decoder.*} (past + new keys) and {@code present.N.encoder.*}. When the cross-attention
 * keys and values come in, the encoder does not run and cross-attention reuses them, so a generator
 * computes them once per source. An {@code encoder_hidden_states} input ([B, S, d_model]) also skips
 * the encoder. Outputs: {@code logits} [B, T, vocab_size], {@code encoder_last_hidden_state} (when
 * the encoder ran) and the presents.
 *
 * <p>{@link ModelDefinition#encoderDecoder()} splits the model as HuggingFace Optimum exports it: an
 * encoder ({@code input_ids}, {@code attention_mask} to {@code last_hidden_state}), a decoder ({@code
 * input_ids}, {@code encoder_attention_mask}, {@code encoder_hidden_states} to {@code logits} and the
 * presents of both kinds) and the decoder with past (the pasts of both kinds instead of the encoder
 * states, to {@code logits} and the self-attention presents).
 */
public final class T5 implements ModelFamily {

    @Override
    public String modelType() {
        return "t5";
    }

    @Override
    public Set<HeadKind> supportedHeads() {
        return EnumSet.of(HeadKind.SEQ2SEQ_LM);
    }

    @Override
    public ModelDefinition define(ModelConfig config, HeadSpec head) {
        if (head.kind() != HeadKind.SEQ2SEQ_LM) {
            throw new UnsupportedArchitectureException(
                    config.origin() + ": T5 has no " + head.kind() + " head; supported: " + supportedHeads());
        }
        return new ForConditionalGeneration(new Config(config));
    }

    /** The config keys T5 reads, with HuggingFace's defaults for the optional ones. */
    static final class Config {
        final ModelConfig raw;
        final int vocabSize;
        final int dModel;
        final int dKv;
        final int dFf;
        final int encoderLayers;
        final int decoderLayers;
        final int heads;
        final int numBuckets;
        final int maxDistance;
        final float dropout;
        final double eps;
        final double factor;
        final boolean gated;
        final Activation activation;
        final boolean scaleDecoderOutputs;
        final boolean tieWordEmbeddings;
        final long decoderStartTokenId;

        Config(ModelConfig c) {
            raw = c;
            vocabSize = c.getInt("vocab_size", 32128);
            dModel = c.getInt("d_model", 512);
            dKv = c.getInt("d_kv", 64);
            dFf = c.getInt("d_ff", 2048);
            encoderLayers = c.getInt("num_layers", 6);
            decoderLayers = c.getInt("num_decoder_layers", encoderLayers);
            heads = c.getInt("num_heads", 8);
            numBuckets = c.getInt("relative_attention_num_buckets", 32);
            maxDistance = c.getInt("relative_attention_max_distance", 128);
            dropout = (float) c.getDouble("dropout_rate", 0.1);
            eps = c.getDouble("layer_norm_epsilon", 1e-6);
            factor = c.getDouble("initializer_factor", 1.0);
            String proj = c.getString("feed_forward_proj", "relu");
            String[] parts = proj.split("-");
            if (parts.length > 2 || (parts.length == 2 && !parts[0].equals("gated"))) {
                throw new InvalidCheckpointException(c.origin() + ": feed_forward_proj '" + proj
                        + "' is not 'ACT' or 'gated-ACT' (for example relu, gated-gelu)");
            }
            gated = parts.length == 2;
            // HuggingFace's backward-compatible reading: gated-gelu means the tanh approximation
            String act = proj.equals("gated-gelu") ? "gelu_new" : parts[parts.length - 1];
            activation = Activations.byName(act, c.origin());
            tieWordEmbeddings = c.getBoolean("tie_word_embeddings", true);
            scaleDecoderOutputs = c.has("scale_decoder_outputs")
                    ? c.getBoolean("scale_decoder_outputs", true)
                    : tieWordEmbeddings;
            decoderStartTokenId = c.getInt("decoder_start_token_id", c.getInt("pad_token_id", 0));
            if (numBuckets < 4 || maxDistance < numBuckets / 2) {
                throw new InvalidCheckpointException(c.origin() + ": relative_attention_num_buckets " + numBuckets
                        + " and relative_attention_max_distance " + maxDistance + " do not make valid buckets");
            }
        }
    }

    /** {@code T5LayerNorm}: {@code weight * x / sqrt(mean(x^2) + eps)}; no bias, no mean subtraction. */
    static final class RmsNorm {
        final Parameter weight;
        final float eps;

        RmsNorm(Scope s, long dim, double eps) {
            weight = s.param("weight", Init.ones(), false, dim);
            this.eps = (float) eps;
        }

        Tensor forward(Ops ops, Tensor x) {
            Tensor variance = ops.mean(ops.mul(x, x), -1, true);
            return ops.mul(ops.parameter(weight), ops.div(x, ops.sqrt(ops.add(variance, eps))));
        }
    }

    /**
     * HuggingFace's {@code _relative_position_bucket} (from Mesh TensorFlow) on float32 values, with
     * the same operation order so that truncation lands in the same bucket: half the buckets (of each
     * direction when bidirectional) are exact distances, the rest grow logarithmically up to {@code
     * maxDistance}, beyond which all share the last bucket.
     *
     * @param relative key position minus query position, FLOAT32 holding integers
     * @return bucket indices, FLOAT32 holding integers
     */
    static Tensor relativePositionBucket(Ops ops, Tensor relative, boolean bidirectional, int numBuckets,
            int maxDistance) {
        Tensor buckets = null;
        Tensor distance;
        if (bidirectional) {
            numBuckets /= 2;
            buckets = ops.mul(ops.cast(ops.greater(relative, ops.scalar(0f)), DType.FLOAT32), (float) numBuckets);
            distance = ops.sub(ops.mul(ops.relu(relative), 2f), relative); // |relative|
        } else {
            distance = ops.relu(ops.neg(relative)); // -min(relative, 0)
        }
        int maxExact = numBuckets / 2;
        Tensor exact = ops.scalar(maxExact);
        Tensor isSmall = ops.greater(exact, distance);
        Tensor safe = ops.where(isSmall, exact, distance); // keeps log() finite where the result is unused
        Tensor scaled = ops.mul(
                ops.div(ops.log(ops.div(safe, exact)), ops.scalar((float) Math.log((double) maxDistance / maxExact))),
                (float) (numBuckets - maxExact));
        Tensor large = ops.add(ops.cast(ops.cast(scaled, DType.INT64), DType.FLOAT32), (float) maxExact);
        Tensor last = ops.scalar(numBuckets - 1);
        large = ops.where(ops.greater(large, last), last, large);
        Tensor bucket = ops.where(isSmall, distance, large);
        return buckets == null ? bucket : ops.add(buckets, bucket);
    }

    /** {@code T5Attention}: q, k, v, o without bias; scores not scaled; optional relative bias table. */
    static final class Attention {
        final Linear q;
        final Linear k;
        final Linear v;
        final Linear o;
        final Parameter relativeBias;
        final Config c;

        Attention(Scope s, Config c, boolean hasRelativeBias) {
            this.c = c;
            long inner = (long) c.heads * c.dKv;
            q = new Linear(s.child("q"), c.dModel, inner, false, c.factor * Math.pow((double) c.dModel * c.dKv, -0.5));
            k = new Linear(s.child("k"), c.dModel, inner, false, c.factor * Math.pow(c.dModel, -0.5));
            v = new Linear(s.child("v"), c.dModel, inner, false, c.factor * Math.pow(c.dModel, -0.5));
            o = new Linear(s.child("o"), inner, c.dModel, false, c.factor * Math.pow(inner, -0.5));
            relativeBias = hasRelativeBias
                    ? s.child("relative_attention_bias").param("weight", Init.normal(c.factor * Math.pow(c.dModel, -0.5)),
                            true, c.numBuckets, c.heads)
                    : null;
        }

        /** [B, T, heads * d_kv] -> [B, heads, T, d_kv]. */
        Tensor split(Ops ops, Tensor x) {
            return ops.transpose(ops.reshape(x, 0, 0, c.heads, c.dKv), 0, 2, 1, 3);
        }

        /**
         * The position bias [1, heads, T, S] of the given query and key positions (INT64 vectors).
         */
        Tensor positionBias(Ops ops, Tensor queryPositions, Tensor keyPositions, boolean bidirectional) {
            Tensor relative = ops.sub(ops.unsqueeze(ops.cast(keyPositions, DType.FLOAT32), 0),
                    ops.unsqueeze(ops.cast(queryPositions, DType.FLOAT32), 1));
            Tensor bucket = relativePositionBucket(ops, relative, bidirectional, c.numBuckets, c.maxDistance);
            Tensor values = ops.embedding(ops.parameter(relativeBias), ops.cast(bucket, DType.INT64)); // [T, S, heads]
            return ops.unsqueeze(ops.transpose(values, 2, 0, 1), 0);
        }

        /**
         * @param x queries' hidden states (normalised) [B, T, d_model]
         * @param keyValueSource hidden states the keys and values come from ({@code x} for
         *     self-attention, the encoder output for cross-attention); unused when {@code cache}
         *     holds complete keys ({@code reuse})
         * @param bias position bias plus mask, broadcastable to [B, heads, T, S]
         * @param cache past keys and values in, present ones out; null for none
         * @param reuse whether the cache's keys and values are complete (cross-attention after the
         *     first step) rather than a past to extend
         */
        Tensor forward(Ops ops, Tensor x, Tensor keyValueSource, Tensor bias, LayerCache cache, boolean reuse) {
            Tensor query = split(ops, q.forward(ops, x));
            Tensor key;
            Tensor value;
            if (reuse) {
                key = cache.key;
                value = cache.value;
            } else {
                key = split(ops, k.forward(ops, keyValueSource));
                value = split(ops, v.forward(ops, keyValueSource));
                if (cache != null && cache.key != null) {
                    key = ops.concat(2, cache.key, key);
                    value = ops.concat(2, cache.value, value);
                }
            }
            if (cache != null) {
                cache.key = key;
                cache.value = value;
            }
            Tensor attended = ops.attention(query, key, value, bias, 1f, c.dropout);
            Tensor context = ops.reshape(ops.transpose(attended, 0, 2, 1, 3), 0, 0, (long) c.heads * c.dKv);
            return o.forward(ops, context);
        }
    }

    /** {@code T5LayerFF}: norm, {@code DenseReluDense} (plain or gated), dropout, residual. */
    static final class FeedForward {
        final RmsNorm norm;
        final Linear wi;
        final Linear wi0;
        final Linear wi1;
        final Linear wo;
        final Config c;

        FeedForward(Scope s, Config c) {
            this.c = c;
            Scope dense = s.child("DenseReluDense");
            double inStd = c.factor * Math.pow(c.dModel, -0.5);
            if (c.gated) {
                wi = null;
                wi0 = new Linear(dense.child("wi_0"), c.dModel, c.dFf, false, inStd);
                wi1 = new Linear(dense.child("wi_1"), c.dModel, c.dFf, false, inStd);
            } else {
                wi = new Linear(dense.child("wi"), c.dModel, c.dFf, false, inStd);
                wi0 = null;
                wi1 = null;
            }
            wo = new Linear(dense.child("wo"), c.dFf, c.dModel, false, c.factor * Math.pow(c.dFf, -0.5));
            norm = new RmsNorm(s.child("layer_norm"), c.dModel, c.eps);
        }

        Tensor forward(Ops ops, Tensor x) {
            Tensor h = norm.forward(ops, x);
            Tensor inner = c.gated
                    ? ops.mul(c.activation.apply(ops, wi0.forward(ops, h)), wi1.forward(ops, h))
                    : c.activation.apply(ops, wi.forward(ops, h));
            Tensor out = wo.forward(ops, ops.dropout(inner, c.dropout));
            return ops.add(x, ops.dropout(out, c.dropout));
        }
    }

    /** One layer's keys and values: the past ones on the way in, the present ones on the way out. */
    static final class LayerCache {
        Tensor key;
        Tensor value;
    }

    /** {@code T5Block}: self-attention, (decoder) cross-attention, feed-forward; each pre-norm + residual. */
    static final class Block {
        final RmsNorm selfNorm;
        final Attention self;
        final RmsNorm crossNorm;
        final Attention cross;
        final FeedForward ff;
        final float dropout;

        Block(Scope s, Config c, boolean decoder, boolean first) {
            Scope layer = s.child("layer");
            self = new Attention(layer.child(0).child("SelfAttention"), c, first);
            selfNorm = new RmsNorm(layer.child(0).child("layer_norm"), c.dModel, c.eps);
            if (decoder) {
                cross = new Attention(layer.child(1).child("EncDecAttention"), c, false);
                crossNorm = new RmsNorm(layer.child(1).child("layer_norm"), c.dModel, c.eps);
                ff = new FeedForward(layer.child(2), c);
            } else {
                cross = null;
                crossNorm = null;
                ff = new FeedForward(layer.child(1), c);
            }
            dropout = c.dropout;
        }

        Tensor forward(Ops ops, Tensor x, Tensor selfBias, LayerCache selfCache, Tensor encoder, Tensor crossBias,
                LayerCache crossCache, boolean reuseCross) {
            Tensor h = selfNorm.forward(ops, x);
            x = ops.add(x, ops.dropout(self.forward(ops, h, h, selfBias, selfCache, false), dropout));
            if (cross != null) {
                Tensor hc = crossNorm.forward(ops, x);
                x = ops.add(x, ops.dropout(cross.forward(ops, hc, encoder, crossBias, crossCache, reuseCross), dropout));
            }
            return ff.forward(ops, x);
        }
    }

    /** @return the additive mask [B, 1, 1, S] for padding keys (0 kept, most negative float dropped) */
    static Tensor paddingMaskBias(Ops ops, Tensor attentionMask) {
        Tensor keep = ops.unsqueeze(ops.unsqueeze(ops.cast(attentionMask, DType.FLOAT32), 1), 1);
        return ops.mul(ops.sub(ops.scalar(1f), keep), -Float.MAX_VALUE);
    }

    /** @return the input name of layer {@code i}'s past self-attention ({@code decoder}) or cross-attention ({@code encoder}) keys */
    static String pastKeyName(int i, String kind) {
        return "past_key_values." + i + "." + kind + ".key";
    }

    /** @return the input name of layer {@code i}'s past values of the given kind */
    static String pastValueName(int i, String kind) {
        return "past_key_values." + i + "." + kind + ".value";
    }

    /** @return the output name of layer {@code i}'s present keys of the given kind */
    static String presentKeyName(int i, String kind) {
        return "present." + i + "." + kind + ".key";
    }

    /** @return the output name of layer {@code i}'s present values of the given kind */
    static String presentValueName(int i, String kind) {
        return "present." + i + "." + kind + ".value";
    }

    /** {@code T5Stack} as encoder: embeddings, blocks with a shared bidirectional bias, final norm. */
    static final class Encoder {
        final List<Block> blocks = new ArrayList<>();
        final RmsNorm finalNorm;
        final Config c;

        Encoder(Scope s, Config c) {
            this.c = c;
            for (int i = 0; i < c.encoderLayers; i++) {
                blocks.add(new Block(s.child("block").child(i), c, false, i == 0));
            }
            finalNorm = new RmsNorm(s.child("final_layer_norm"), c.dModel, c.eps);
        }

        Tensor forward(Ops ops, Tensor embedded, Tensor positionsLike, Tensor attentionMask) {
            Tensor positions = ops.range(positionsLike, 1);
            Tensor bias = blocks.get(0).self.positionBias(ops, positions, positions, true);
            if (attentionMask != null) {
                bias = ops.add(bias, paddingMaskBias(ops, attentionMask));
            }
            Tensor x = ops.dropout(embedded, c.dropout);
            final Tensor shared = bias;
            for (Block b : blocks) {
                x = ops.checkpoint((o, h) -> b.forward(o, h, shared, null, null, null, null, false), x);
            }
            return ops.dropout(finalNorm.forward(ops, x), c.dropout);
        }
    }

    /** {@code T5Stack} as decoder: causal self-attention with a shared causal bias, cross-attention. */
    static final class Decoder {
        final List<Block> blocks = new ArrayList<>();
        final RmsNorm finalNorm;
        final Config c;

        Decoder(Scope s, Config c) {
            this.c = c;
            for (int i = 0; i < c.decoderLayers; i++) {
                blocks.add(new Block(s.child("block").child(i), c, true, i == 0));
            }
            finalNorm = new RmsNorm(s.child("final_layer_norm"), c.dModel, c.eps);
        }

        Tensor forward(Ops ops, Tensor embedded, Map<String, Tensor> inputs, Tensor encoder, Tensor crossBias,
                Map<String, Tensor> presents) {
            Tensor ids = inputs.get("decoder_input_ids");
            Tensor queryPositions = ops.range(ids, 1);
            Tensor keyPositions = queryPositions;
            Tensor firstPast = inputs.get(pastKeyName(0, "decoder"));
            if (firstPast != null) {
                // past length as an INT64 scalar derived from the dynamic key axis (graph-friendly)
                Tensor pastPositions = ops.range(firstPast, 2);
                Tensor pastLength = ops.sum(ops.cast(ops.notEqual(pastPositions, -1), DType.INT64), 0, false);
                queryPositions = ops.add(queryPositions, pastLength);
                keyPositions = ops.concat(0, pastPositions, queryPositions);
            }
            Tensor selfBias = ops.add(blocks.get(0).self.positionBias(ops, queryPositions, keyPositions, false),
                    Gpt2.causalMaskBias(ops, queryPositions, keyPositions, inputs.get("decoder_attention_mask")));
            boolean reuseCross = inputs.containsKey(pastKeyName(0, "encoder"));
            Tensor x = ops.dropout(embedded, c.dropout);
            for (int i = 0; i < blocks.size(); i++) {
                LayerCache self = new LayerCache();
                self.key = inputs.get(pastKeyName(i, "decoder"));
                self.value = inputs.get(pastValueName(i, "decoder"));
                LayerCache cross = new LayerCache();
                cross.key = inputs.get(pastKeyName(i, "encoder"));
                cross.value = inputs.get(pastValueName(i, "encoder"));
                if ((self.key == null) != (firstPast == null) || (self.key == null) != (self.value == null)
                        || (cross.key == null) == reuseCross || (cross.key == null) != (cross.value == null)) {
                    throw new IllegalArgumentException("T5 needs past keys and values of one kind for every layer or"
                            + " for none; layer " + i + " differs");
                }
                x = blocks.get(i).forward(ops, x, selfBias, self, encoder, crossBias, cross, reuseCross);
                presents.put(presentKeyName(i, "decoder"), self.key);
                presents.put(presentValueName(i, "decoder"), self.value);
                presents.put(presentKeyName(i, "encoder"), cross.key);
                presents.put(presentValueName(i, "encoder"), cross.value);
            }
            return ops.dropout(finalNorm.forward(ops, x), c.dropout);
        }
    }

    /** One part of {@link ForConditionalGeneration#encoderDecoder()}, over the whole model's parameters. */
    static final class Part implements ModelDefinition {
        enum Kind { ENCODER, DECODER, DECODER_WITH_PAST }

        final ForConditionalGeneration model;
        final Kind kind;

        Part(ForConditionalGeneration model, Kind kind) {
            this.model = model;
            this.kind = kind;
        }

        @Override
        public ModelConfig config() {
            return model.config();
        }

        @Override
        public String architecture() {
            return model.architecture();
        }

        @Override
        public String baseModelPrefix() {
            return model.baseModelPrefix();
        }

        @Override
        public ParameterSet parameters() {
            return model.parameters();
        }

        @Override
        public List<InputSpec> inputs() {
            if (kind == Kind.ENCODER) {
                return List.of(new InputSpec("input_ids", DType.INT64, 2, false),
                        new InputSpec("attention_mask", DType.INT64, 2, false));
            }
            List<InputSpec> all = new ArrayList<>(List.of(new InputSpec("input_ids", DType.INT64, 2, false),
                    new InputSpec("encoder_attention_mask", DType.INT64, 2, false)));
            if (kind == Kind.DECODER) {
                all.add(new InputSpec("encoder_hidden_states", DType.FLOAT32, 3, false));
            } else {
                for (int i = 0; i < model.c.decoderLayers; i++) {
                    for (String k : List.of("decoder", "encoder")) {
                        all.add(new InputSpec(pastKeyName(i, k), DType.FLOAT32, 4, false));
                        all.add(new InputSpec(pastValueName(i, k), DType.FLOAT32, 4, false));
                    }
                }
            }
            return List.copyOf(all);
        }

        @Override
        public List<String> outputs() {
            if (kind == Kind.ENCODER) {
                return List.of("last_hidden_state");
            }
            List<String> all = new ArrayList<>(List.of("logits"));
            for (int i = 0; i < model.c.decoderLayers; i++) {
                for (String k : kind == Kind.DECODER ? List.of("decoder", "encoder") : List.of("decoder")) {
                    all.add(presentKeyName(i, k));
                    all.add(presentValueName(i, k));
                }
            }
            return List.copyOf(all);
        }

        @Override
        public Map<String, Tensor> forward(Ops ops, Map<String, Tensor> inputs) {
            Map<String, Tensor> out = new LinkedHashMap<>();
            if (kind == Kind.ENCODER) {
                Tensor ids = inputs.get("input_ids");
                out.put("last_hidden_state", model.encoder.forward(ops, ops.embedding(ops.parameter(model.shared), ids),
                        ids, inputs.get("attention_mask")));
                return out;
            }
            Map<String, Tensor> whole = new LinkedHashMap<>();
            inputs.forEach((name, t) -> {
                switch (name) {
                    case "input_ids" -> whole.put("decoder_input_ids", t);
                    case "encoder_attention_mask" -> whole.put("attention_mask", t);
                    default -> whole.put(name, t);
                }
            });
            Map<String, Tensor> all = model.forward(ops, whole);
            for (String name : outputs()) {
                out.put(name, all.get(name));
            }
            return out;
        }
    }

    /** {@code T5ForConditionalGeneration}. */
    static final class ForConditionalGeneration implements ModelDefinition {
        final Config c;
        final ParameterSet params = new ParameterSet();
        final Parameter shared;
        final Encoder encoder;
        final Decoder decoder;
        final Parameter lmHead;

        ForConditionalGeneration(Config c) {
            this.c = c;
            Scope root = Scope.root(params);
            shared = root.child("shared").param("weight", Init.normal(c.factor), true, c.vocabSize, c.dModel);
            encoder = new Encoder(root.child("encoder"), c);
            decoder = new Decoder(root.child("decoder"), c);
            params.tie("encoder.embed_tokens.weight", shared);
            params.tie("decoder.embed_tokens.weight", shared);
            if (c.tieWordEmbeddings) {
                lmHead = shared;
                params.tie("lm_head.weight", shared);
            } else {
                lmHead = root.child("lm_head").param("weight", Init.normal(c.factor), true, c.vocabSize, c.dModel);
            }
        }

        @Override
        public ModelConfig config() {
            return c.raw;
        }

        @Override
        public String architecture() {
            return "T5ForConditionalGeneration";
        }

        @Override
        public String baseModelPrefix() {
            return "";
        }

        @Override
        public ParameterSet parameters() {
            return params;
        }

        @Override
        public List<InputSpec> inputs() {
            List<InputSpec> all = new ArrayList<>(List.of(
                    new InputSpec("input_ids", DType.INT64, 2, false),
                    new InputSpec("attention_mask", DType.INT64, 2, true),
                    new InputSpec("decoder_input_ids", DType.INT64, 2, false),
                    new InputSpec("decoder_attention_mask", DType.INT64, 2, true),
                    new InputSpec("encoder_hidden_states", DType.FLOAT32, 3, true)));
            for (int i = 0; i < c.decoderLayers; i++) {
                for (String kind : List.of("decoder", "encoder")) {
                    all.add(new InputSpec(pastKeyName(i, kind), DType.FLOAT32, 4, true));
                    all.add(new InputSpec(pastValueName(i, kind), DType.FLOAT32, 4, true));
                }
            }
            return List.copyOf(all);
        }

        @Override
        public List<String> outputs() {
            List<String> all = new ArrayList<>(List.of("logits", "encoder_last_hidden_state"));
            for (int i = 0; i < c.decoderLayers; i++) {
                for (String kind : List.of("decoder", "encoder")) {
                    all.add(presentKeyName(i, kind));
                    all.add(presentValueName(i, kind));
                }
            }
            return List.copyOf(all);
        }

        /** @return the encoder, the decoder and the decoder with past, as Optimum exports T5 */
        @Override
        public Optional<EncoderDecoder> encoderDecoder() {
            return Optional.of(new EncoderDecoder(new Part(this, Part.Kind.ENCODER), new Part(this, Part.Kind.DECODER),
                    new Part(this, Part.Kind.DECODER_WITH_PAST)));
        }

        @Override
        public Map<String, Tensor> forward(Ops ops, Map<String, Tensor> inputs) {
            Tensor table = ops.parameter(shared);
            Tensor attentionMask = inputs.get("attention_mask");
            Tensor encoderOut = inputs.get("encoder_hidden_states");
            boolean ranEncoder = false;
            if (encoderOut == null && !inputs.containsKey(pastKeyName(0, "encoder"))) {
                Tensor ids = inputs.get("input_ids");
                encoderOut = encoder.forward(ops, ops.embedding(table, ids), ids, attentionMask);
                ranEncoder = true;
            }
            Tensor crossBias = attentionMask == null ? null : paddingMaskBias(ops, attentionMask);
            Map<String, Tensor> presents = new LinkedHashMap<>();
            Tensor decoderIds = inputs.get("decoder_input_ids");
            Tensor hidden = decoder.forward(ops, ops.embedding(table, decoderIds), inputs, encoderOut, crossBias,
                    presents);
            if (c.scaleDecoderOutputs) {
                hidden = ops.mul(hidden, (float) Math.pow(c.dModel, -0.5));
            }
            Map<String, Tensor> out = new LinkedHashMap<>();
            out.put("logits", ops.linear(hidden, ops.parameter(lmHead), null));
            if (ranEncoder) {
                out.put("encoder_last_hidden_state", encoderOut);
            }
            out.putAll(presents);
            return out;
        }
    }
}
