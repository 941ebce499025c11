package dev.attune.models;

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
 * BERT as HuggingFace's {@code modeling_bert.py} defines it: word, position and token-type
 * embeddings, a post-LayerNorm encoder, the pooler, and task heads. The class tree mirrors the
 * parameter tree ({@code bert.embeddings}, {@code bert.encoder.layer.N.attention.self.query}, ...).
 *
 * <p>Heads: {@code BertForSequenceClassification}, {@code BertForTokenClassification}, {@code
 * BertForQuestionAnswering} and {@code BertForMaskedLM} (decoder tied to the word embeddings unless
 * {@code tie_word_embeddings} is false) and {@code BertForMultipleChoice} (inputs {@code [batch,
 * choices, tokens]}, one score per choice).
 */
public final class Bert implements ModelFamily {

    @Override
    public String modelType() {
        return "bert";
    }

    @Override
    public Set<HeadKind> supportedHeads() {
        return EnumSet.of(HeadKind.SEQUENCE_CLASSIFICATION, HeadKind.TOKEN_CLASSIFICATION,
                HeadKind.QUESTION_ANSWERING, HeadKind.MASKED_LM, HeadKind.MULTIPLE_CHOICE);
    }

    @Override
    public ModelDefinition define(ModelConfig config, HeadSpec head) {
        return switch (head.kind()) {
            case SEQUENCE_CLASSIFICATION -> new ForSequenceClassification(new Config(config), head.numLabels());
            case TOKEN_CLASSIFICATION -> new ForTokenClassification(new Config(config), head.numLabels());
            case QUESTION_ANSWERING -> new ForQuestionAnswering(new Config(config));
            case MASKED_LM -> new ForMaskedLM(new Config(config));
            case MULTIPLE_CHOICE -> new ForMultipleChoice(new Config(config));
            default -> throw new UnsupportedArchitectureException(
                    config.origin() + ": BERT has no " + head.kind() + " head; supported: " + supportedHeads());
        };
    }

    /** The config keys BERT reads, with HuggingFace's defaults for the optional ones. */
    static final class Config {
        final ModelConfig raw;
        final int vocabSize;
        final int hidden;
        final int layers;
        final int heads;
        final int intermediate;
        final int maxPositions;
        final int typeVocabSize;
        final double eps;
        final double initRange;
        final float hiddenDropout;
        final float attentionDropout;
        final float classifierDropout;
        final Activation activation;
        final boolean tieWordEmbeddings;

        Config(ModelConfig c) {
            raw = c;
            vocabSize = c.requireInt("vocab_size");
            hidden = c.requireInt("hidden_size");
            layers = c.requireInt("num_hidden_layers");
            heads = c.requireInt("num_attention_heads");
            intermediate = c.requireInt("intermediate_size");
            maxPositions = c.getInt("max_position_embeddings", 512);
            typeVocabSize = c.getInt("type_vocab_size", 2);
            eps = c.getDouble("layer_norm_eps", 1e-12);
            initRange = c.getDouble("initializer_range", 0.02);
            hiddenDropout = (float) c.getDouble("hidden_dropout_prob", 0.1);
            attentionDropout = (float) c.getDouble("attention_probs_dropout_prob", 0.1);
            classifierDropout = (float) c.getDouble("classifier_dropout", hiddenDropout);
            activation = Activations.byName(c.getString("hidden_act", "gelu"), c.origin());
            tieWordEmbeddings = c.getBoolean("tie_word_embeddings", true);
            String positions = c.getString("position_embedding_type", "absolute");
            if (!positions.equals("absolute")) {
                throw new dev.attune.error.UnsupportedArchitectureException(c.origin() + ": position_embedding_type '"
                        + positions + "' is not supported (only 'absolute', learned position embeddings, is);"
                        + " relative_key and relative_key_query attention scores would be computed wrongly");
            }
            if (hidden % heads != 0) {
                throw new dev.attune.error.InvalidCheckpointException(
                        c.origin() + ": hidden_size " + hidden + " is not a multiple of num_attention_heads " + heads);
            }
        }
    }

    /** {@code BertEmbeddings}. */
    static final class Embeddings {
        final Embedding word;
        final Embedding position;
        final Embedding tokenType;
        final LayerNorm norm;
        final float dropout;

        Embeddings(Scope s, Config c) {
            word = new Embedding(s.child("word_embeddings"), c.vocabSize, c.hidden, c.initRange);
            position = new Embedding(s.child("position_embeddings"), c.maxPositions, c.hidden, c.initRange);
            tokenType = new Embedding(s.child("token_type_embeddings"), c.typeVocabSize, c.hidden, c.initRange);
            norm = new LayerNorm(s.child("LayerNorm"), c.hidden, c.eps);
            dropout = c.hiddenDropout;
        }

        Tensor forward(Ops ops, Tensor inputIds, Tensor tokenTypeIds) {
            Tensor x = word.forward(ops, inputIds);
            x = ops.add(x, position.forward(ops, ops.range(inputIds, 1)));
            Tensor types = tokenTypeIds != null
                    ? tokenType.forward(ops, tokenTypeIds)
                    : ops.select(ops.parameter(tokenType.weight()), 0, 0);
            x = ops.add(x, types);
            return ops.dropout(norm.forward(ops, x), dropout);
        }
    }

    /** {@code BertAttention}: self-attention ({@code self}) and its output projection ({@code output}). */
    static final class Attention {
        final Linear query;
        final Linear key;
        final Linear value;
        final Linear output;
        final LayerNorm norm;
        final int heads;
        final int headSize;
        final float attentionDropout;
        final float hiddenDropout;

        Attention(Scope s, Config c) {
            Scope self = s.child("self");
            query = new Linear(self.child("query"), c.hidden, c.hidden, true, c.initRange);
            key = new Linear(self.child("key"), c.hidden, c.hidden, true, c.initRange);
            value = new Linear(self.child("value"), c.hidden, c.hidden, true, c.initRange);
            output = new Linear(s.child("output").child("dense"), c.hidden, c.hidden, true, c.initRange);
            norm = new LayerNorm(s.child("output").child("LayerNorm"), c.hidden, c.eps);
            heads = c.heads;
            headSize = c.hidden / c.heads;
            attentionDropout = c.attentionDropout;
            hiddenDropout = c.hiddenDropout;
        }

        /** [B, T, H] -> [B, heads, T, headSize]. */
        private Tensor split(Ops ops, Tensor x) {
            return ops.transpose(ops.reshape(x, 0, 0, heads, headSize), 0, 2, 1, 3);
        }

        Tensor forward(Ops ops, Tensor x, Tensor maskBias) {
            Tensor q = split(ops, query.forward(ops, x));
            Tensor k = split(ops, key.forward(ops, x));
            Tensor v = split(ops, value.forward(ops, x));
            Tensor attended = ops.attention(q, k, v, maskBias, (float) (1 / Math.sqrt(headSize)), attentionDropout);
            Tensor context = ops.reshape(ops.transpose(attended, 0, 2, 1, 3), 0, 0, (long) heads * headSize);
            Tensor projected = ops.dropout(output.forward(ops, context), hiddenDropout);
            return norm.forward(ops, ops.add(projected, x));
        }
    }

    /** {@code BertLayer}: attention, then the feed-forward block ({@code intermediate}, {@code output}). */
    static final class Layer {
        final Attention attention;
        final Linear intermediate;
        final Linear output;
        final LayerNorm norm;
        final Activation activation;
        final float dropout;

        Layer(Scope s, Config c) {
            attention = new Attention(s.child("attention"), c);
            intermediate = new Linear(s.child("intermediate").child("dense"), c.hidden, c.intermediate, true, c.initRange);
            output = new Linear(s.child("output").child("dense"), c.intermediate, c.hidden, true, c.initRange);
            norm = new LayerNorm(s.child("output").child("LayerNorm"), c.hidden, c.eps);
            activation = c.activation;
            dropout = c.hiddenDropout;
        }

        Tensor forward(Ops ops, Tensor x, Tensor maskBias) {
            Tensor a = attention.forward(ops, x, maskBias);
            Tensor h = activation.apply(ops, intermediate.forward(ops, a));
            Tensor o = ops.dropout(output.forward(ops, h), dropout);
            return norm.forward(ops, ops.add(o, a));
        }
    }

    /** {@code BertModel}: embeddings and encoder; the pooler is built on demand by the heads that use it. */
    static final class Encoder {
        final Embeddings embeddings;
        final List<Layer> layers = new ArrayList<>();

        Encoder(Scope bert, Config c) {
            embeddings = new Embeddings(bert.child("embeddings"), c);
            Scope layerScope = bert.child("encoder").child("layer");
            for (int i = 0; i < c.layers; i++) {
                layers.add(new Layer(layerScope.child(i), c));
            }
        }

        /** @return the last hidden state, [B, T, H] */
        Tensor forward(Ops ops, Map<String, Tensor> inputs) {
            Tensor ids = inputs.get("input_ids");
            Tensor x = embeddings.forward(ops, ids, inputs.get("token_type_ids"));
            Tensor mask = inputs.get("attention_mask");
            return runLayers(ops, layers, x, mask);
        }
    }

    /**
     * Runs a BERT-layout encoder stack (shared with RoBERTa, whose layers are BERT's).
     *
     * @return the last hidden state, [B, T, H]
     */
    static Tensor runLayers(Ops ops, List<Layer> layers, Tensor x, Tensor attentionMask) {
        Tensor bias = attentionMask == null ? null : maskBias(ops, attentionMask);
        for (Layer layer : layers) {
            x = ops.checkpoint((o, h) -> layer.forward(o, h, bias), x);
        }
        return x;
    }

    /**
     * The additive attention mask HuggingFace builds: 0 where attended, the most negative float32
     * where masked, shaped [B, 1, 1, T].
     */
    static Tensor maskBias(Ops ops, Tensor mask) {
        Tensor m = ops.cast(mask, DType.FLOAT32);
        Tensor bias = ops.mul(ops.sub(ops.scalar(1f), m), -Float.MAX_VALUE);
        return ops.unsqueeze(ops.unsqueeze(bias, 1), 1);
    }

    static List<InputSpec> encoderInputs() {
        return List.of(
                new InputSpec("input_ids", DType.INT64, 2, false),
                new InputSpec("attention_mask", DType.INT64, 2, true),
                new InputSpec("token_type_ids", DType.INT64, 2, true));
    }

    /** Shared plumbing of the head models. */
    abstract static class Head implements ModelDefinition {
        final Config config;
        final ParameterSet params = new ParameterSet();
        final Encoder bert;

        Head(Config config) {
            this.config = config;
            this.bert = new Encoder(Scope.root(params).child("bert"), config);
        }

        @Override
        public ModelConfig config() {
            return config.raw;
        }

        @Override
        public String baseModelPrefix() {
            return "bert";
        }

        @Override
        public ParameterSet parameters() {
            return params;
        }

        @Override
        public List<InputSpec> inputs() {
            return encoderInputs();
        }
    }

    /** {@code BertForSequenceClassification}: pooler (tanh on [CLS]), dropout, {@code classifier}. */
    static final class ForSequenceClassification extends Head {
        final Linear pooler;
        final Linear classifier;

        ForSequenceClassification(Config c, int numLabels) {
            super(c);
            if (numLabels < 1) {
                throw new IllegalArgumentException("a classifier needs at least one label");
            }
            pooler = new Linear(Scope.root(params).child("bert").child("pooler").child("dense"), c.hidden, c.hidden, true, c.initRange);
            classifier = new Linear(Scope.root(params).child("classifier"), c.hidden, numLabels, true, c.initRange);
        }

        @Override
        public String architecture() {
            return "BertForSequenceClassification";
        }

        @Override
        public List<String> outputs() {
            return List.of("logits");
        }

        @Override
        public Map<String, Tensor> forward(Ops ops, Map<String, Tensor> inputs) {
            Tensor hidden = bert.forward(ops, inputs);
            Tensor pooled = ops.tanh(pooler.forward(ops, ops.select(hidden, 1, 0)));
            Tensor logits = classifier.forward(ops, ops.dropout(pooled, config.classifierDropout));
            Map<String, Tensor> out = new LinkedHashMap<>();
            out.put("logits", logits);
            return out;
        }
    }

    /** {@code BertForTokenClassification}: dropout and {@code classifier} on every token; no pooler. */
    static final class ForTokenClassification extends Head {
        final Linear classifier;

        ForTokenClassification(Config c, int numLabels) {
            super(c);
            if (numLabels < 1) {
                throw new IllegalArgumentException("a classifier needs at least one label");
            }
            classifier = new Linear(Scope.root(params).child("classifier"), c.hidden, numLabels, true, c.initRange);
        }

        @Override
        public String architecture() {
            return "BertForTokenClassification";
        }

        @Override
        public List<String> outputs() {
            return List.of("logits");
        }

        /** @return {@code logits} [B, T, numLabels] */
        @Override
        public Map<String, Tensor> forward(Ops ops, Map<String, Tensor> inputs) {
            Tensor hidden = bert.forward(ops, inputs);
            Map<String, Tensor> out = new LinkedHashMap<>();
            out.put("logits", classifier.forward(ops, ops.dropout(hidden, config.classifierDropout)));
            return out;
        }
    }

    /** {@code BertForQuestionAnswering}: {@code qa_outputs} Linear(H, 2) split into start and end logits; no pooler. */
    static final class ForQuestionAnswering extends Head {
        final Linear qaOutputs;

        ForQuestionAnswering(Config c) {
            super(c);
            qaOutputs = new Linear(Scope.root(params).child("qa_outputs"), c.hidden, 2, true, c.initRange);
        }

        @Override
        public String architecture() {
            return "BertForQuestionAnswering";
        }

        @Override
        public List<String> outputs() {
            return List.of("start_logits", "end_logits");
        }

        /** @return {@code start_logits} and {@code end_logits}, each [B, T] */
        @Override
        public Map<String, Tensor> forward(Ops ops, Map<String, Tensor> inputs) {
            Tensor logits = qaOutputs.forward(ops, bert.forward(ops, inputs));
            Map<String, Tensor> out = new LinkedHashMap<>();
            out.put("start_logits", ops.select(logits, -1, 0));
            out.put("end_logits", ops.select(logits, -1, 1));
            return out;
        }
    }

    /**
     * {@code BertForMaskedLM}: {@code cls.predictions.transform} (dense, activation, LayerNorm) and a
     * decoder whose weight is the word embedding table (tied, so checkpoints may omit {@code
     * cls.predictions.decoder.weight}) and whose bias is {@code cls.predictions.bias} (older
     * checkpoints also store it as {@code cls.predictions.decoder.bias}); no pooler. With {@code
     * tie_word_embeddings: false} the decoder has its own weight and bias ({@code
     * cls.predictions.decoder.bias}), as transformers runs it.
     */
    static final class ForMaskedLM extends Head {
        final Linear transform;
        final LayerNorm transformNorm;
        final Parameter decoderWeight;
        final Parameter decoderBias;

        ForMaskedLM(Config c) {
            super(c);
            Scope predictions = Scope.root(params).child("cls").child("predictions");
            transform = new Linear(predictions.child("transform").child("dense"), c.hidden, c.hidden, true, c.initRange);
            transformNorm = new LayerNorm(predictions.child("transform").child("LayerNorm"), c.hidden, c.eps);
            Scope decoder = predictions.child("decoder");
            if (c.tieWordEmbeddings) {
                decoderWeight = bert.embeddings.word.weight();
                params.tie(decoder.qualify("weight"), decoderWeight);
            } else {
                decoderWeight = decoder.param("weight", Init.normal(c.initRange), true, c.vocabSize, c.hidden);
            }
            if (c.tieWordEmbeddings) {
                decoderBias = predictions.param("bias", Init.zeros(), false, c.vocabSize);
                params.tie(decoder.qualify("bias"), decoderBias);
            } else {
                // untied, transformers runs the decoder Linear with its own bias; cls.predictions.bias
                // is then unused (read only from a checkpoint that has no decoder bias)
                decoderBias = decoder.param("bias", Init.zeros(), false, c.vocabSize);
                params.tie(predictions.qualify("bias"), decoderBias);
            }
        }

        @Override
        public String architecture() {
            return "BertForMaskedLM";
        }

        @Override
        public List<String> outputs() {
            return List.of("logits");
        }

        /** @return {@code logits} [B, T, vocab_size] */
        @Override
        public Map<String, Tensor> forward(Ops ops, Map<String, Tensor> inputs) {
            Tensor hidden = bert.forward(ops, inputs);
            Tensor h = transformNorm.forward(ops, config.activation.apply(ops, transform.forward(ops, hidden)));
            Map<String, Tensor> out = new LinkedHashMap<>();
            out.put("logits", ops.linear(h, ops.parameter(decoderWeight), ops.parameter(decoderBias)));
            return out;
        }
    }

    /**
     * {@code BertForMultipleChoice}: every (context, ending) pair of {@code [B, C, T]} inputs runs
     * through the encoder as one of {@code B * C} rows; the pooler, dropout and {@code classifier}
     * ({@code Linear(H, 1)}) score each row, and the scores come back as {@code logits [B, C]}.
     */
    static final class ForMultipleChoice extends Head {
        final Linear pooler;
        final Linear classifier;

        ForMultipleChoice(Config c) {
            super(c);
            pooler = new Linear(Scope.root(params).child("bert").child("pooler").child("dense"), c.hidden, c.hidden, true, c.initRange);
            classifier = new Linear(Scope.root(params).child("classifier"), c.hidden, 1, true, c.initRange);
        }

        @Override
        public String architecture() {
            return "BertForMultipleChoice";
        }

        @Override
        public List<InputSpec> inputs() {
            return choiceInputs(encoderInputs());
        }

        @Override
        public List<String> outputs() {
            return List.of("logits");
        }

        /** @return {@code logits} [B, C] */
        @Override
        public Map<String, Tensor> forward(Ops ops, Map<String, Tensor> inputs) {
            Tensor hidden = bert.forward(ops, flattenChoices(ops, inputs));
            Tensor pooled = ops.tanh(pooler.forward(ops, ops.select(hidden, 1, 0)));
            Tensor scores = classifier.forward(ops, ops.dropout(pooled, config.classifierDropout));
            Map<String, Tensor> out = new LinkedHashMap<>();
            out.put("logits", choiceScores(ops, ops.select(scores, -1, 0), inputs.get("input_ids")));
            return out;
        }
    }

    /** @return the same inputs with one more axis, {@code [batch, choices, tokens]} (multiple choice) */
    static List<InputSpec> choiceInputs(List<InputSpec> inputs) {
        return inputs.stream().map(i -> new InputSpec(i.name(), i.dtype(), i.rank() + 1, i.optional())).toList();
    }

    /**
     * @return the encoder inputs present ({@code input_ids}, {@code attention_mask}, {@code
     *     token_type_ids}, each {@code [B, C, T]}) as {@code [B * C, T]} rows, row {@code b * C + c}
     *     holding choice {@code c} of example {@code b}, as HuggingFace's {@code view(-1, T)}; other
     *     inputs (a task's labels) are left out
     */
    static Map<String, Tensor> flattenChoices(Ops ops, Map<String, Tensor> inputs) {
        Map<String, Tensor> flat = new LinkedHashMap<>();
        for (String name : List.of("input_ids", "attention_mask", "token_type_ids")) {
            Tensor x = inputs.get(name);
            if (x != null) {
                // [B, C, T] -> [T, B, C] -> [T, B * C] -> [B * C, T]: reshape copies the dynamic T from axis 0
                flat.put(name, ops.transpose(ops.reshape(ops.transpose(x, 2, 0, 1), 0, -1), 1, 0));
            }
        }
        return flat;
    }

    /**
     * @param scores one score per row of {@link #flattenChoices}, {@code [B * C]}
     * @param choiceIds the multiple-choice input ids, {@code [B, C, T]} (for the dynamic B and C)
     * @return the scores as {@code [B, C]}: {@code out[b][c] = scores[b * C + c]}
     */
    static Tensor choiceScores(Ops ops, Tensor scores, Tensor choiceIds) {
        Tensor ones = ops.cast(ops.notEqual(ops.select(choiceIds, 2, 0), -1), DType.INT64); // [B, C]
        Tensor column = ops.cumsum(ones, 1); // c + 1
        Tensor row = ops.cumsum(ones, 0); // b + 1
        Tensor choices = ops.max(column, 1, true); // [B, 1], C
        Tensor index = ops.add(ops.mul(ops.sub(row, ones), choices), ops.sub(column, ones)); // b * C + c
        Tensor zeros = ops.mul(ops.cast(ops.slice(ones, 1, 0, 1), DType.FLOAT32), 0f); // [B, 1]
        Tensor table = ops.add(ops.reshape(scores, 1, -1), zeros); // [B, B * C], every row all scores
        return ops.gather(table, 1, index);
    }
}
