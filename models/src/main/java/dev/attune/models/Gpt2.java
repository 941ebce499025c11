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
import dev.attune.models.nn.Embedding;
import dev.attune.models.nn.LayerNorm;
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
import java.util.Set;

/**
 * GPT-2 as HuggingFace's {@code modeling_gpt2.py} defines it: token ({@code wte}) and position
 * ({@code wpe}) embeddings, pre-LayerNorm blocks ({@code h.N.ln_1}, {@code attn}, {@code ln_2},
 * {@code mlp}) with causal self-attention, and {@code ln_f}. Heads: {@code GPT2LMHeadModel} ({@code
 * lm_head} tied to {@code wte} unless {@code tie_word_embeddings} is false) and {@code
 * GPT2ForSequenceClassification} ({@code score}, read at the last non-padding token) and {@code
 * GPT2ForTokenClassification} ({@code classifier} on every token).
 *
 * <p>Checkpoint traps handled here: {@code Conv1D} layers ({@code c_attn}, {@code c_proj}, {@code
 * c_fc}) store their weight as {@code [in, out]}; {@code c_attn} fuses query, key and value; the
 * {@code attn.bias} and {@code attn.masked_bias} tensors of older checkpoints are mask buffers, not
 * parameters, so the binder reports them as unused.
 *
 * <p>Key/value cache (generation): {@code GPT2LMHeadModel} takes optional inputs {@code
 * past_key_values.N.key} and {@code past_key_values.N.value} ([B, heads, past, head_size], the
 * names of HuggingFace's ONNX exports) and returns {@code present.N.key} and {@code
 * present.N.value} ([B, heads, past + T, head_size]) next to {@code logits}. With a past, the new
 * tokens take positions {@code past .. past + T - 1} and the causal mask lets them see every past
 * key; an {@code attention_mask} then covers past and new tokens, [B, past + T].
 */
public final class Gpt2 implements ModelFamily {

    @Override
    public String modelType() {
        return "gpt2";
    }

    @Override
    public Set<HeadKind> supportedHeads() {
        return EnumSet.of(HeadKind.CAUSAL_LM, HeadKind.SEQUENCE_CLASSIFICATION, HeadKind.TOKEN_CLASSIFICATION);
    }

    @Override
    public ModelDefinition define(ModelConfig config, HeadSpec head) {
        return switch (head.kind()) {
            case CAUSAL_LM -> new LMHeadModel(new Config(config));
            case SEQUENCE_CLASSIFICATION -> new ForSequenceClassification(new Config(config), head.numLabels());
            case TOKEN_CLASSIFICATION -> new ForTokenClassification(new Config(config), head.numLabels());
            default -> throw new UnsupportedArchitectureException(
                    config.origin() + ": GPT-2 has no " + head.kind() + " head; supported: " + supportedHeads());
        };
    }

    /** The config keys GPT-2 reads, with HuggingFace's defaults for the optional ones. */
    static final class Config {
        final ModelConfig raw;
        final int vocabSize;
        final int hidden;
        final int layers;
        final int heads;
        final int inner;
        final int maxPositions;
        final double eps;
        final double initRange;
        final float embdDropout;
        final float residDropout;
        final float attnDropout;
        final boolean scaleAttnWeights;
        final boolean scaleByInverseLayerIdx;
        final Activation activation;
        final boolean tieWordEmbeddings;
        /** {@code pad_token_id}, or null when the config has none. */
        final Long padTokenId;

        Config(ModelConfig c) {
            raw = c;
            vocabSize = c.getInt("vocab_size", 50257);
            hidden = c.getInt("n_embd", 768);
            layers = c.getInt("n_layer", 12);
            heads = c.getInt("n_head", 12);
            inner = c.getInt("n_inner", 4 * hidden);
            maxPositions = c.getInt("n_positions", 1024);
            eps = c.getDouble("layer_norm_epsilon", 1e-5);
            initRange = c.getDouble("initializer_range", 0.02);
            embdDropout = (float) c.getDouble("embd_pdrop", 0.1);
            residDropout = (float) c.getDouble("resid_pdrop", 0.1);
            attnDropout = (float) c.getDouble("attn_pdrop", 0.1);
            scaleAttnWeights = c.getBoolean("scale_attn_weights", true);
            scaleByInverseLayerIdx = c.getBoolean("scale_attn_by_inverse_layer_idx", false);
            activation = Activations.byName(c.getString("activation_function", "gelu_new"), c.origin());
            tieWordEmbeddings = c.getBoolean("tie_word_embeddings", true);
            padTokenId = c.has("pad_token_id") ? (long) c.requireInt("pad_token_id") : null;
            if (hidden % heads != 0) {
                throw new InvalidCheckpointException(
                        c.origin() + ": n_embd " + hidden + " is not a multiple of n_head " + heads);
            }
        }
    }

    /**
     * HuggingFace's {@code Conv1D}: a dense layer whose weight is stored transposed, {@code [in,
     * out]}, so {@code y = x W + b}.
     */
    static final class Conv1D {
        final Parameter weight;
        final Parameter bias;

        Conv1D(Scope s, long in, long out, double initStd) {
            weight = s.param("weight", Init.normal(initStd), true, in, out);
            bias = s.param("bias", Init.zeros(), false, out);
        }

        Tensor forward(Ops ops, Tensor x) {
            return ops.add(ops.matmul(x, ops.parameter(weight)), ops.parameter(bias));
        }
    }

    /** {@code GPT2Attention}: fused {@code c_attn}, causal softmax attention, {@code c_proj}. */
    static final class Attention {
        final Conv1D cAttn;
        final Conv1D cProj;
        final int hidden;
        final int heads;
        final int headSize;
        final float scaling;
        final float attnDropout;
        final float residDropout;

        Attention(Scope s, Config c, int layerIdx) {
            cAttn = new Conv1D(s.child("c_attn"), c.hidden, 3L * c.hidden, c.initRange);
            cProj = new Conv1D(s.child("c_proj"), c.hidden, c.hidden, c.initRange);
            hidden = c.hidden;
            heads = c.heads;
            headSize = c.hidden / c.heads;
            double scale = c.scaleAttnWeights ? 1 / Math.sqrt(headSize) : 1;
            if (c.scaleByInverseLayerIdx) {
                scale /= layerIdx + 1;
            }
            scaling = (float) scale;
            attnDropout = c.attnDropout;
            residDropout = c.residDropout;
        }

        /** [B, T, H] -> [B, heads, T, headSize]. */
        private Tensor split(Ops ops, Tensor x) {
            return ops.transpose(ops.reshape(x, 0, 0, heads, headSize), 0, 2, 1, 3);
        }

        /**
         * @param cache this layer's past key and value (null for none); receives the present ones
         */
        Tensor forward(Ops ops, Tensor x, Tensor maskBias, LayerCache cache) {
            Tensor qkv = cAttn.forward(ops, x);
            Tensor q = split(ops, ops.slice(qkv, -1, 0, hidden));
            Tensor k = split(ops, ops.slice(qkv, -1, hidden, 2L * hidden));
            Tensor v = split(ops, ops.slice(qkv, -1, 2L * hidden, 3L * hidden));
            if (cache.key != null) {
                k = ops.concat(2, cache.key, k);
                v = ops.concat(2, cache.value, v);
            }
            cache.key = k;
            cache.value = v;
            Tensor attended = ops.attention(q, k, v, maskBias, scaling, attnDropout);
            Tensor context = ops.reshape(ops.transpose(attended, 0, 2, 1, 3), 0, 0, hidden);
            return ops.dropout(cProj.forward(ops, context), residDropout);
        }
    }

    /** {@code GPT2Block}: {@code ln_1}, attention, residual; {@code ln_2}, {@code mlp}, residual. */
    static final class Block {
        final LayerNorm ln1;
        final Attention attn;
        final LayerNorm ln2;
        final Conv1D cFc;
        final Conv1D cProj;
        final Activation activation;
        final float dropout;

        Block(Scope s, Config c, int layerIdx) {
            ln1 = new LayerNorm(s.child("ln_1"), c.hidden, c.eps);
            attn = new Attention(s.child("attn"), c, layerIdx);
            ln2 = new LayerNorm(s.child("ln_2"), c.hidden, c.eps);
            cFc = new Conv1D(s.child("mlp").child("c_fc"), c.hidden, c.inner, c.initRange);
            cProj = new Conv1D(s.child("mlp").child("c_proj"), c.inner, c.hidden, c.initRange);
            activation = c.activation;
            dropout = c.residDropout;
        }

        Tensor forward(Ops ops, Tensor x, Tensor maskBias, LayerCache cache) {
            x = ops.add(attn.forward(ops, ln1.forward(ops, x), maskBias, cache), x);
            Tensor m = cProj.forward(ops, activation.apply(ops, cFc.forward(ops, ln2.forward(ops, x))));
            return ops.add(ops.dropout(m, dropout), x);
        }
    }

    /** {@code GPT2Model}: {@code wte}, {@code wpe}, the blocks {@code h.N}, {@code ln_f}. */
    static final class Transformer {
        final Embedding wte;
        final Embedding wpe;
        final List<Block> blocks = new ArrayList<>();
        final LayerNorm lnF;
        final float dropout;

        Transformer(Scope s, Config c) {
            wte = new Embedding(s.child("wte"), c.vocabSize, c.hidden, c.initRange);
            wpe = new Embedding(s.child("wpe"), c.maxPositions, c.hidden, c.initRange);
            Scope h = s.child("h");
            for (int i = 0; i < c.layers; i++) {
                blocks.add(new Block(h.child(i), c, i));
            }
            lnF = new LayerNorm(s.child("ln_f"), c.hidden, c.eps);
            dropout = c.embdDropout;
        }

        /**
         * @param inputs model inputs, past key/values included when present
         * @param presents receives {@code present.N.key} / {@code present.N.value}, or null when not
         *     wanted
         * @return the last hidden state after {@code ln_f}, [B, T, H]
         */
        Tensor forward(Ops ops, Map<String, Tensor> inputs, Map<String, Tensor> presents) {
            Tensor ids = inputs.get("input_ids");
            Tensor queryPositions = ops.range(ids, 1);
            Tensor keyPositions = queryPositions;
            Tensor firstPast = inputs.get(pastKeyName(0));
            if (firstPast != null) {
                // past length as an INT64 scalar computed from the (dynamic) key axis, so that a
                // graph lowering with a dynamic past keeps working
                Tensor pastPositions = ops.range(firstPast, 2);
                Tensor pastLength = ops.sum(ops.cast(ops.notEqual(pastPositions, -1), DType.INT64), 0, false);
                queryPositions = ops.add(queryPositions, pastLength);
                keyPositions = ops.concat(0, pastPositions, queryPositions);
            }
            Tensor x = ops.dropout(ops.add(wte.forward(ops, ids), wpe.forward(ops, queryPositions)), dropout);
            Tensor bias = causalMaskBias(ops, queryPositions, keyPositions, inputs.get("attention_mask"));
            for (int i = 0; i < blocks.size(); i++) {
                LayerCache cache = new LayerCache();
                cache.key = inputs.get(pastKeyName(i));
                cache.value = inputs.get(pastValueName(i));
                if ((cache.key == null) != (firstPast == null) || (cache.key == null) != (cache.value == null)) {
                    throw new IllegalArgumentException(
                            "GPT-2 needs past key and value for every layer or for none; layer " + i + " differs");
                }
                Block block = blocks.get(i);
                // a recomputed block's key and value would outlive their recomputation: no presents then, and each
                // run of the block gets a cache of its own (the block writes its key and value into it)
                x = presents == null && cache.key == null ? ops.checkpoint((o, h) -> block.forward(o, h, bias, new LayerCache()), x)
                        : block.forward(ops, x, bias, cache);
                if (presents != null) {
                    presents.put(presentKeyName(i), cache.key);
                    presents.put(presentValueName(i), cache.value);
                }
            }
            return lnF.forward(ops, x);
        }
    }

    /** One layer's keys and values: the past ones on the way in, the present ones on the way out. */
    static final class LayerCache {
        Tensor key;
        Tensor value;
    }

    /** @return the input name of layer {@code i}'s past keys */
    static String pastKeyName(int i) {
        return "past_key_values." + i + ".key";
    }

    /** @return the input name of layer {@code i}'s past values */
    static String pastValueName(int i) {
        return "past_key_values." + i + ".value";
    }

    /** @return the output name of layer {@code i}'s present keys */
    static String presentKeyName(int i) {
        return "present." + i + ".key";
    }

    /** @return the output name of layer {@code i}'s present values */
    static String presentValueName(int i) {
        return "present." + i + ".value";
    }

    /**
     * The additive mask of causal attention: 0 where the query at position {@code i} may see the key
     * at position {@code j} ({@code j <= i} and, with an attention mask, key {@code j} is not
     * padding), the most negative float32 elsewhere; shaped [T, S] or, with a mask, [B, 1, T, S],
     * where S counts past and new keys.
     */
    static Tensor causalMaskBias(Ops ops, Tensor queryPositions, Tensor keyPositions, Tensor attentionMask) {
        Tensor future = ops.greater(ops.unsqueeze(keyPositions, 0), ops.unsqueeze(queryPositions, 1));
        Tensor keep = ops.sub(ops.scalar(1f), ops.cast(future, DType.FLOAT32));
        if (attentionMask != null) {
            Tensor keys = ops.unsqueeze(ops.unsqueeze(ops.cast(attentionMask, DType.FLOAT32), 1), 1);
            keep = ops.mul(keep, keys);
        }
        return ops.mul(ops.sub(ops.scalar(1f), keep), -Float.MAX_VALUE);
    }

    /** Shared plumbing of the head models. */
    abstract static class Head implements ModelDefinition {
        final Config config;
        final ParameterSet params = new ParameterSet();
        final Transformer transformer;

        Head(Config config) {
            this.config = config;
            this.transformer = new Transformer(Scope.root(params).child("transformer"), config);
        }

        @Override
        public ModelConfig config() {
            return config.raw;
        }

        @Override
        public String baseModelPrefix() {
            return "transformer";
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

        /** @return the forward pass up to {@code ln_f}, without a key/value cache */
        Tensor hidden(Ops ops, Map<String, Tensor> inputs) {
            return transformer.forward(ops, inputs, null);
        }

        @Override
        public List<String> outputs() {
            return List.of("logits");
        }
    }

    /** {@code GPT2LMHeadModel}: {@code lm_head} without bias, its weight tied to {@code wte}. */
    static final class LMHeadModel extends Head {
        final Parameter lmHead;

        LMHeadModel(Config c) {
            super(c);
            Scope head = Scope.root(params).child("lm_head");
            if (c.tieWordEmbeddings) {
                lmHead = transformer.wte.weight();
                params.tie(head.qualify("weight"), lmHead);
            } else {
                lmHead = head.param("weight", Init.normal(c.initRange), true, c.vocabSize, c.hidden);
            }
        }

        @Override
        public String architecture() {
            return "GPT2LMHeadModel";
        }

        /** Adds the optional past key/value inputs of every layer. */
        @Override
        public List<InputSpec> inputs() {
            List<InputSpec> all = new ArrayList<>(super.inputs());
            for (int i = 0; i < config.layers; i++) {
                all.add(new InputSpec(pastKeyName(i), DType.FLOAT32, 4, true));
                all.add(new InputSpec(pastValueName(i), DType.FLOAT32, 4, true));
            }
            return List.copyOf(all);
        }

        /** @return {@code logits} and every layer's present key and value */
        @Override
        public List<String> outputs() {
            List<String> all = new ArrayList<>(List.of("logits"));
            for (int i = 0; i < config.layers; i++) {
                all.add(presentKeyName(i));
                all.add(presentValueName(i));
            }
            return List.copyOf(all);
        }

        /**
         * @return {@code logits} [B, T, vocab_size] (next-token logits at every new position), then
         *     {@code present.N.key} and {@code present.N.value} [B, heads, past + T, head_size]
         *     (not while training, so each layer can be checkpointed)
         */
        @Override
        public Map<String, Tensor> forward(Ops ops, Map<String, Tensor> inputs) {
            // training reads no key/value cache, and asking for it keeps every layer out of gradient checkpointing
            Map<String, Tensor> presents = ops.isTraining() ? null : new LinkedHashMap<>();
            Tensor hidden = transformer.forward(ops, inputs, presents);
            Map<String, Tensor> out = new LinkedHashMap<>();
            out.put("logits", ops.linear(hidden, ops.parameter(lmHead), null));
            if (presents != null) {
                out.putAll(presents);
            }
            return out;
        }
    }

    /**
     * {@code GPT2ForSequenceClassification}: {@code score} (no bias) on every token, read at the
     * rightmost token that is not {@code pad_token_id} (HuggingFace's rule, which works for left and
     * right padding). Without a {@code pad_token_id} HuggingFace reads the last position and refuses
     * batches of more than one sequence; here the last position the attention mask keeps is read
     * instead (the same token for unpadded input), so padded batches still work.
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
            return "GPT2ForSequenceClassification";
        }

        /** @return {@code logits} [B, numLabels] */
        @Override
        public Map<String, Tensor> forward(Ops ops, Map<String, Tensor> inputs) {
            Tensor ids = inputs.get("input_ids");
            Tensor logits = score.forward(ops, hidden(ops, inputs));
            Tensor positions = ops.range(ids, 1);
            Tensor notPad;
            if (config.padTokenId != null) {
                notPad = ops.cast(ops.notEqual(ids, config.padTokenId), DType.INT64);
            } else {
                notPad = inputs.get("attention_mask"); // HF refuses padded batches here; the mask is the same rule
            }
            Tensor last = notPad == null
                    ? ops.max(positions, 0, true)
                    : ops.max(ops.mul(positions, ops.cast(notPad, DType.INT64)), 1, true);
            Tensor pick = ops.cast(ops.equal(positions, last), DType.FLOAT32);
            Map<String, Tensor> out = new LinkedHashMap<>();
            out.put("logits", ops.sum(ops.mul(logits, ops.unsqueeze(pick, -1)), 1, false));
            return out;
        }
    }

    /**
     * {@code GPT2ForTokenClassification}: dropout ({@code classifier_dropout}, else {@code
     * hidden_dropout}, else 0.1, as HuggingFace picks it) and {@code classifier} on every token.
     */
    static final class ForTokenClassification extends Head {
        final Linear classifier;
        final float dropout;

        ForTokenClassification(Config c, int numLabels) {
            super(c);
            if (numLabels < 1) {
                throw new IllegalArgumentException("a classifier needs at least one label");
            }
            classifier = new Linear(Scope.root(params).child("classifier"), c.hidden, numLabels, true, c.initRange);
            ModelConfig raw = c.raw;
            dropout = (float) (raw.has("classifier_dropout") ? raw.getDouble("classifier_dropout", 0.1)
                    : raw.getDouble("hidden_dropout", 0.1));
        }

        @Override
        public String architecture() {
            return "GPT2ForTokenClassification";
        }

        /** @return {@code logits} [B, T, numLabels] */
        @Override
        public Map<String, Tensor> forward(Ops ops, Map<String, Tensor> inputs) {
            Map<String, Tensor> out = new LinkedHashMap<>();
            out.put("logits", classifier.forward(ops, ops.dropout(hidden(ops, inputs), dropout)));
            return out;
        }
    }
}
