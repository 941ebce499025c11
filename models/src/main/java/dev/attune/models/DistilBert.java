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
import dev.attune.ops.Ops;
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
 * DistilBERT as HuggingFace's {@code modeling_distilbert.py} defines it: word and position
 * embeddings (no token types), a post-LayerNorm encoder whose attention is {@code q_lin}, {@code
 * k_lin}, {@code v_lin}, {@code out_lin}, and {@code DistilBertForSequenceClassification}'s head
 * ({@code pre_classifier}, ReLU, dropout, {@code classifier} on the first token), {@code
 * DistilBertForTokenClassification}'s ({@code classifier} on every token) and {@code
 * DistilBertForQuestionAnswering}'s ({@code qa_outputs}). The class tree
 * mirrors the parameter tree ({@code distilbert.transformer.layer.N.attention.q_lin}, ...).
 *
 * <p>{@code sinusoidal_pos_embds} checkpoints store their (fixed) position table like any other, so
 * they load; a freshly initialised model gets a learned table instead of the sinusoid.
 */
public final class DistilBert implements ModelFamily {
    /** DistilBERT hard-codes this epsilon in every LayerNorm. */
    private static final double EPS = 1e-12;

    @Override
    public String modelType() {
        return "distilbert";
    }

    @Override
    public Set<HeadKind> supportedHeads() {
        return EnumSet.of(HeadKind.SEQUENCE_CLASSIFICATION, HeadKind.TOKEN_CLASSIFICATION,
                HeadKind.QUESTION_ANSWERING);
    }

    @Override
    public ModelDefinition define(ModelConfig config, HeadSpec head) {
        return switch (head.kind()) {
            case SEQUENCE_CLASSIFICATION -> new ForSequenceClassification(new Config(config), head.numLabels());
            case TOKEN_CLASSIFICATION -> new ForTokenClassification(new Config(config), head.numLabels());
            case QUESTION_ANSWERING -> new ForQuestionAnswering(new Config(config));
            default -> throw new UnsupportedArchitectureException(
                    config.origin() + ": DistilBERT has no " + head.kind() + " head; supported: " + supportedHeads());
        };
    }

    /** The config keys DistilBERT reads, with HuggingFace's defaults for the optional ones. */
    static final class Config {
        final ModelConfig raw;
        final int vocabSize;
        final int dim;
        final int layers;
        final int heads;
        final int hiddenDim;
        final int maxPositions;
        final double initRange;
        final float dropout;
        final float attentionDropout;
        final float classifierDropout;
        final float qaDropout;
        final Activation activation;

        Config(ModelConfig c) {
            raw = c;
            vocabSize = c.requireInt("vocab_size");
            dim = c.getInt("dim", 768);
            layers = c.getInt("n_layers", 6);
            heads = c.getInt("n_heads", 12);
            hiddenDim = c.getInt("hidden_dim", 4 * 768);
            maxPositions = c.getInt("max_position_embeddings", 512);
            initRange = c.getDouble("initializer_range", 0.02);
            dropout = (float) c.getDouble("dropout", 0.1);
            attentionDropout = (float) c.getDouble("attention_dropout", 0.1);
            classifierDropout = (float) c.getDouble("seq_classif_dropout", 0.2);
            qaDropout = (float) c.getDouble("qa_dropout", 0.1);
            activation = Activations.byName(c.getString("activation", "gelu"), c.origin());
            if (dim % heads != 0) {
                throw new InvalidCheckpointException(
                        c.origin() + ": dim " + dim + " is not a multiple of n_heads " + heads);
            }
        }
    }

    /** {@code Embeddings}: word and position embeddings, LayerNorm, dropout. */
    static final class Embeddings {
        final Embedding word;
        final Embedding position;
        final LayerNorm norm;
        final float dropout;

        Embeddings(Scope s, Config c) {
            word = new Embedding(s.child("word_embeddings"), c.vocabSize, c.dim, c.initRange);
            position = new Embedding(s.child("position_embeddings"), c.maxPositions, c.dim, c.initRange);
            norm = new LayerNorm(s.child("LayerNorm"), c.dim, EPS);
            dropout = c.dropout;
        }

        Tensor forward(Ops ops, Tensor inputIds) {
            Tensor x = ops.add(word.forward(ops, inputIds), position.forward(ops, ops.range(inputIds, 1)));
            return ops.dropout(norm.forward(ops, x), dropout);
        }
    }

    /** {@code DistilBertSelfAttention}: {@code q_lin}, {@code k_lin}, {@code v_lin}, {@code out_lin}. */
    static final class Attention {
        final Linear q;
        final Linear k;
        final Linear v;
        final Linear out;
        final int heads;
        final int headSize;
        final float dropout;

        Attention(Scope s, Config c) {
            q = new Linear(s.child("q_lin"), c.dim, c.dim, true, c.initRange);
            k = new Linear(s.child("k_lin"), c.dim, c.dim, true, c.initRange);
            v = new Linear(s.child("v_lin"), c.dim, c.dim, true, c.initRange);
            out = new Linear(s.child("out_lin"), c.dim, c.dim, true, c.initRange);
            heads = c.heads;
            headSize = c.dim / c.heads;
            dropout = c.attentionDropout;
        }

        /** [B, T, D] -> [B, heads, T, headSize]. */
        private Tensor split(Ops ops, Tensor x) {
            return ops.transpose(ops.reshape(x, 0, 0, heads, headSize), 0, 2, 1, 3);
        }

        Tensor forward(Ops ops, Tensor x, Tensor maskBias) {
            Tensor qh = split(ops, q.forward(ops, x));
            Tensor kh = split(ops, k.forward(ops, x));
            Tensor vh = split(ops, v.forward(ops, x));
            Tensor attended = ops.attention(qh, kh, vh, maskBias, (float) (1 / Math.sqrt(headSize)), dropout);
            Tensor context = ops.reshape(ops.transpose(attended, 0, 2, 1, 3), 0, 0, (long) heads * headSize);
            return out.forward(ops, context);
        }
    }

    /** {@code TransformerBlock}: attention, {@code sa_layer_norm}, {@code ffn}, {@code output_layer_norm}. */
    static final class Block {
        final Attention attention;
        final LayerNorm saNorm;
        final Linear lin1;
        final Linear lin2;
        final LayerNorm outputNorm;
        final Activation activation;
        final float dropout;

        Block(Scope s, Config c) {
            attention = new Attention(s.child("attention"), c);
            saNorm = new LayerNorm(s.child("sa_layer_norm"), c.dim, EPS);
            lin1 = new Linear(s.child("ffn").child("lin1"), c.dim, c.hiddenDim, true, c.initRange);
            lin2 = new Linear(s.child("ffn").child("lin2"), c.hiddenDim, c.dim, true, c.initRange);
            outputNorm = new LayerNorm(s.child("output_layer_norm"), c.dim, EPS);
            activation = c.activation;
            dropout = c.dropout;
        }

        Tensor forward(Ops ops, Tensor x, Tensor maskBias) {
            Tensor sa = saNorm.forward(ops, ops.add(attention.forward(ops, x, maskBias), x));
            Tensor ffn = ops.dropout(lin2.forward(ops, activation.apply(ops, lin1.forward(ops, sa))), dropout);
            return outputNorm.forward(ops, ops.add(ffn, sa));
        }
    }

    /** {@code DistilBertModel}: embeddings and {@code transformer.layer}. */
    static final class Encoder {
        final Embeddings embeddings;
        final List<Block> layers = new ArrayList<>();

        Encoder(Scope s, Config c) {
            embeddings = new Embeddings(s.child("embeddings"), c);
            Scope layerScope = s.child("transformer").child("layer");
            for (int i = 0; i < c.layers; i++) {
                layers.add(new Block(layerScope.child(i), c));
            }
        }

        /** @return the last hidden state, [B, T, D] */
        Tensor forward(Ops ops, Map<String, Tensor> inputs) {
            Tensor x = embeddings.forward(ops, inputs.get("input_ids"));
            Tensor mask = inputs.get("attention_mask");
            Tensor bias = mask == null ? null : Bert.maskBias(ops, mask);
            for (Block layer : layers) {
                x = ops.checkpoint((o, h) -> layer.forward(o, h, bias), x);
            }
            return x;
        }
    }

    /** Shared plumbing of the head models: the encoder under {@code distilbert}, its two inputs. */
    abstract static class Head implements ModelDefinition {
        final Config config;
        final ParameterSet params = new ParameterSet();
        final Encoder distilbert;

        Head(Config c) {
            config = c;
            distilbert = new Encoder(Scope.root(params).child("distilbert"), c);
        }

        @Override
        public ModelConfig config() {
            return config.raw;
        }

        @Override
        public String baseModelPrefix() {
            return "distilbert";
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

    private static void requireLabels(int numLabels) {
        if (numLabels < 1) {
            throw new IllegalArgumentException("a classifier needs at least one label");
        }
    }

    /** {@code DistilBertForSequenceClassification}: {@code pre_classifier}, ReLU, dropout, {@code classifier}. */
    static final class ForSequenceClassification extends Head {
        final Linear preClassifier;
        final Linear classifier;

        ForSequenceClassification(Config c, int numLabels) {
            super(c);
            requireLabels(numLabels);
            Scope root = Scope.root(params);
            preClassifier = new Linear(root.child("pre_classifier"), c.dim, c.dim, true, c.initRange);
            classifier = new Linear(root.child("classifier"), c.dim, numLabels, true, c.initRange);
        }

        @Override
        public String architecture() {
            return "DistilBertForSequenceClassification";
        }

        @Override
        public Map<String, Tensor> forward(Ops ops, Map<String, Tensor> inputs) {
            Tensor hidden = distilbert.forward(ops, inputs);
            Tensor pooled = ops.relu(preClassifier.forward(ops, ops.select(hidden, 1, 0)));
            Tensor logits = classifier.forward(ops, ops.dropout(pooled, config.classifierDropout));
            Map<String, Tensor> out = new LinkedHashMap<>();
            out.put("logits", logits);
            return out;
        }
    }

    /** {@code DistilBertForTokenClassification}: dropout ({@code dropout}) and {@code classifier} on every token. */
    static final class ForTokenClassification extends Head {
        final Linear classifier;

        ForTokenClassification(Config c, int numLabels) {
            super(c);
            requireLabels(numLabels);
            classifier = new Linear(Scope.root(params).child("classifier"), c.dim, numLabels, true, c.initRange);
        }

        @Override
        public String architecture() {
            return "DistilBertForTokenClassification";
        }

        /** @return {@code logits} [B, T, numLabels] */
        @Override
        public Map<String, Tensor> forward(Ops ops, Map<String, Tensor> inputs) {
            Tensor hidden = distilbert.forward(ops, inputs);
            Map<String, Tensor> out = new LinkedHashMap<>();
            out.put("logits", classifier.forward(ops, ops.dropout(hidden, config.dropout)));
            return out;
        }
    }

    /** {@code DistilBertForQuestionAnswering}: dropout ({@code qa_dropout}) and {@code qa_outputs} Linear(dim, 2). */
    static final class ForQuestionAnswering extends Head {
        final Linear qaOutputs;

        ForQuestionAnswering(Config c) {
            super(c);
            qaOutputs = new Linear(Scope.root(params).child("qa_outputs"), c.dim, 2, true, c.initRange);
        }

        @Override
        public String architecture() {
            return "DistilBertForQuestionAnswering";
        }

        @Override
        public List<String> outputs() {
            return List.of("start_logits", "end_logits");
        }

        /** @return {@code start_logits} and {@code end_logits}, each [B, T] */
        @Override
        public Map<String, Tensor> forward(Ops ops, Map<String, Tensor> inputs) {
            Tensor hidden = ops.dropout(distilbert.forward(ops, inputs), config.qaDropout);
            Tensor logits = qaOutputs.forward(ops, hidden);
            Map<String, Tensor> out = new LinkedHashMap<>();
            out.put("start_logits", ops.select(logits, -1, 0));
            out.put("end_logits", ops.select(logits, -1, 1));
            return out;
        }
    }
}
