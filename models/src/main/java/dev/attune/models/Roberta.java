package dev.attune.models;

import dev.attune.error.UnsupportedArchitectureException;
import dev.attune.model.HeadSpec.HeadKind;
import dev.attune.model.HeadSpec;
import dev.attune.model.ModelDefinition.InputSpec;
import dev.attune.model.ModelConfig;
import dev.attune.model.ModelDefinition;
import dev.attune.model.ModelFamily;
import dev.attune.models.nn.Embedding;
import dev.attune.models.nn.LayerNorm;
import dev.attune.models.nn.Linear;
import dev.attune.ops.DType;
import dev.attune.ops.Ops;
import dev.attune.ops.Parameter;
import dev.attune.ops.Parameter.Init;
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
 * RoBERTa as HuggingFace's {@code modeling_roberta.py} defines it: BERT's encoder layers and config
 * keys under {@code roberta.}, embeddings whose position ids count the non-padding tokens and start
 * after {@code pad_token_id} (fairseq's {@code make_positions}), a single token type, and {@code
 * RobertaForSequenceClassification}'s head ({@code classifier.dense}, tanh, {@code
 * classifier.out_proj} on {@code <s>}), and the other heads of {@code modeling_roberta.py}: token
 * classification ({@code classifier}), question answering ({@code qa_outputs}), masked LM ({@code
 * lm_head}: dense, GELU, {@code layer_norm}, a decoder tied to the word embeddings unless {@code
 * tie_word_embeddings} is false, bias {@code lm_head.bias}) and multiple choice ({@code
 * roberta.pooler}, {@code classifier} scoring each choice).
 *
 * <p>The encoder layers are {@link Bert}'s (HuggingFace copies them verbatim); only the embeddings and
 * the head differ. RoBERTa's tokenizers return no {@code token_type_ids}, so the definition does not
 * read them: every token has type 0, as in HuggingFace when none are given.
 */
public final class Roberta implements ModelFamily {

    @Override
    public String modelType() {
        return "roberta";
    }

    @Override
    public Set<HeadKind> supportedHeads() {
        return EnumSet.of(HeadKind.SEQUENCE_CLASSIFICATION, HeadKind.TOKEN_CLASSIFICATION,
                HeadKind.QUESTION_ANSWERING, HeadKind.MASKED_LM, HeadKind.MULTIPLE_CHOICE);
    }

    @Override
    public ModelDefinition define(ModelConfig config, HeadSpec head) {
        return switch (head.kind()) {
            case SEQUENCE_CLASSIFICATION -> new ForSequenceClassification(new Bert.Config(config), head.numLabels());
            case TOKEN_CLASSIFICATION -> new ForTokenClassification(new Bert.Config(config), head.numLabels());
            case QUESTION_ANSWERING -> new ForQuestionAnswering(new Bert.Config(config));
            case MASKED_LM -> new ForMaskedLM(new Bert.Config(config));
            case MULTIPLE_CHOICE -> new ForMultipleChoice(new Bert.Config(config));
            default -> throw new UnsupportedArchitectureException(
                    config.origin() + ": RoBERTa has no " + head.kind() + " head; supported: " + supportedHeads());
        };
    }

    /** {@code RobertaEmbeddings}: word, token-type (always type 0) and padding-aware position embeddings. */
    static final class Embeddings {
        final Embedding word;
        final Embedding position;
        final Embedding tokenType;
        final LayerNorm norm;
        final float dropout;
        final long paddingIdx;

        Embeddings(Scope s, Bert.Config c) {
            word = new Embedding(s.child("word_embeddings"), c.vocabSize, c.hidden, c.initRange);
            position = new Embedding(s.child("position_embeddings"), c.maxPositions, c.hidden, c.initRange);
            tokenType = new Embedding(s.child("token_type_embeddings"), c.typeVocabSize, c.hidden, c.initRange);
            norm = new LayerNorm(s.child("LayerNorm"), c.hidden, c.eps);
            dropout = c.hiddenDropout;
            paddingIdx = c.raw.getInt("pad_token_id", 1);
        }

        /**
         * @return position ids: {@code cumsum(ids != pad) * (ids != pad) + pad}, so padding tokens get
         *     {@code pad} and the others {@code pad + 1, pad + 2, ...}
         */
        Tensor positionIds(Ops ops, Tensor inputIds) {
            Tensor notPad = ops.cast(ops.notEqual(inputIds, paddingIdx), DType.INT64);
            Tensor counted = ops.mul(ops.cumsum(notPad, 1), notPad);
            return ops.add(counted, ops.cast(ops.scalar(paddingIdx), DType.INT64));
        }

        Tensor forward(Ops ops, Tensor inputIds) {
            Tensor x = word.forward(ops, inputIds);
            x = ops.add(x, ops.select(ops.parameter(tokenType.weight()), 0, 0));
            x = ops.add(x, position.forward(ops, positionIds(ops, inputIds)));
            return ops.dropout(norm.forward(ops, x), dropout);
        }
    }

    /** {@code RobertaModel} without its pooler: embeddings and BERT's encoder layers. */
    static final class Encoder {
        final Embeddings embeddings;
        final List<Bert.Layer> layers = new ArrayList<>();

        Encoder(Scope s, Bert.Config c) {
            embeddings = new Embeddings(s.child("embeddings"), c);
            Scope layerScope = s.child("encoder").child("layer");
            for (int i = 0; i < c.layers; i++) {
                layers.add(new Bert.Layer(layerScope.child(i), c));
            }
        }

        /** @return the last hidden state, [B, T, H] */
        Tensor forward(Ops ops, Map<String, Tensor> inputs) {
            Tensor x = embeddings.forward(ops, inputs.get("input_ids"));
            return Bert.runLayers(ops, layers, x, inputs.get("attention_mask"));
        }
    }

    /** Shared plumbing of the head models: the encoder under {@code roberta}, its two inputs. */
    abstract static class Head implements ModelDefinition {
        final Bert.Config config;
        final ParameterSet params = new ParameterSet();
        final Encoder roberta;

        Head(Bert.Config c) {
            config = c;
            roberta = new Encoder(Scope.root(params).child("roberta"), c);
        }

        @Override
        public ModelConfig config() {
            return config.raw;
        }

        @Override
        public String baseModelPrefix() {
            return "roberta";
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

    /** {@code RobertaForSequenceClassification}: {@code RobertaClassificationHead} on {@code <s>}. */
    static final class ForSequenceClassification extends Head {
        final Linear dense;
        final Linear outProj;

        ForSequenceClassification(Bert.Config c, int numLabels) {
            super(c);
            requireLabels(numLabels);
            Scope head = Scope.root(params).child("classifier");
            dense = new Linear(head.child("dense"), c.hidden, c.hidden, true, c.initRange);
            outProj = new Linear(head.child("out_proj"), c.hidden, numLabels, true, c.initRange);
        }

        @Override
        public String architecture() {
            return "RobertaForSequenceClassification";
        }

        @Override
        public Map<String, Tensor> forward(Ops ops, Map<String, Tensor> inputs) {
            Tensor hidden = roberta.forward(ops, inputs);
            Tensor x = ops.dropout(ops.select(hidden, 1, 0), config.classifierDropout);
            x = ops.dropout(ops.tanh(dense.forward(ops, x)), config.classifierDropout);
            Map<String, Tensor> out = new LinkedHashMap<>();
            out.put("logits", outProj.forward(ops, x));
            return out;
        }
    }

    /** {@code RobertaForTokenClassification}: dropout and {@code classifier} on every token; no pooler. */
    static final class ForTokenClassification extends Head {
        final Linear classifier;

        ForTokenClassification(Bert.Config c, int numLabels) {
            super(c);
            requireLabels(numLabels);
            classifier = new Linear(Scope.root(params).child("classifier"), c.hidden, numLabels, true, c.initRange);
        }

        @Override
        public String architecture() {
            return "RobertaForTokenClassification";
        }

        /** @return {@code logits} [B, T, numLabels] */
        @Override
        public Map<String, Tensor> forward(Ops ops, Map<String, Tensor> inputs) {
            Tensor hidden = roberta.forward(ops, inputs);
            Map<String, Tensor> out = new LinkedHashMap<>();
            out.put("logits", classifier.forward(ops, ops.dropout(hidden, config.classifierDropout)));
            return out;
        }
    }

    /** {@code RobertaForQuestionAnswering}: {@code qa_outputs} Linear(H, 2) split into start and end logits. */
    static final class ForQuestionAnswering extends Head {
        final Linear qaOutputs;

        ForQuestionAnswering(Bert.Config c) {
            super(c);
            qaOutputs = new Linear(Scope.root(params).child("qa_outputs"), c.hidden, 2, true, c.initRange);
        }

        @Override
        public String architecture() {
            return "RobertaForQuestionAnswering";
        }

        @Override
        public List<String> outputs() {
            return List.of("start_logits", "end_logits");
        }

        /** @return {@code start_logits} and {@code end_logits}, each [B, T] */
        @Override
        public Map<String, Tensor> forward(Ops ops, Map<String, Tensor> inputs) {
            Tensor logits = qaOutputs.forward(ops, roberta.forward(ops, inputs));
            Map<String, Tensor> out = new LinkedHashMap<>();
            out.put("start_logits", ops.select(logits, -1, 0));
            out.put("end_logits", ops.select(logits, -1, 1));
            return out;
        }
    }

    /**
     * {@code RobertaForMaskedLM}: {@code RobertaLMHead} ({@code lm_head.dense}, exact GELU whatever
     * {@code hidden_act} says, as HuggingFace hard-codes it, {@code lm_head.layer_norm}) and a decoder
     * whose weight is the word embedding table (tied, so checkpoints omit {@code
     * lm_head.decoder.weight}, unless {@code tie_word_embeddings} is false) and whose bias is {@code
     * lm_head.bias} ({@code lm_head.decoder.bias} is the same tensor).
     */
    static final class ForMaskedLM extends Head {
        final Linear dense;
        final LayerNorm norm;
        final Parameter decoderWeight;
        final Parameter decoderBias;

        ForMaskedLM(Bert.Config c) {
            super(c);
            Scope head = Scope.root(params).child("lm_head");
            dense = new Linear(head.child("dense"), c.hidden, c.hidden, true, c.initRange);
            norm = new LayerNorm(head.child("layer_norm"), c.hidden, c.eps);
            Scope decoder = head.child("decoder");
            if (c.tieWordEmbeddings) {
                decoderWeight = roberta.embeddings.word.weight();
                params.tie(decoder.qualify("weight"), decoderWeight);
            } else {
                decoderWeight = decoder.param("weight", Init.normal(c.initRange), true, c.vocabSize, c.hidden);
            }
            decoderBias = head.param("bias", Init.zeros(), false, c.vocabSize);
            params.tie(decoder.qualify("bias"), decoderBias);
        }

        @Override
        public String architecture() {
            return "RobertaForMaskedLM";
        }

        /** @return {@code logits} [B, T, vocab_size] */
        @Override
        public Map<String, Tensor> forward(Ops ops, Map<String, Tensor> inputs) {
            Tensor hidden = roberta.forward(ops, inputs);
            Tensor h = norm.forward(ops, ops.gelu(dense.forward(ops, hidden)));
            Map<String, Tensor> out = new LinkedHashMap<>();
            out.put("logits", ops.linear(h, ops.parameter(decoderWeight), ops.parameter(decoderBias)));
            return out;
        }
    }

    /**
     * {@code RobertaForMultipleChoice}: the {@code [B, C, T]} inputs as {@code B * C} rows through the
     * encoder, {@code roberta.pooler} (tanh on {@code <s>}), dropout and {@code classifier} ({@code
     * Linear(H, 1)}) per row, the scores back as {@code logits [B, C]}.
     */
    static final class ForMultipleChoice extends Head {
        final Linear pooler;
        final Linear classifier;

        ForMultipleChoice(Bert.Config c) {
            super(c);
            pooler = new Linear(Scope.root(params).child("roberta").child("pooler").child("dense"), c.hidden, c.hidden,
                    true, c.initRange);
            classifier = new Linear(Scope.root(params).child("classifier"), c.hidden, 1, true, c.initRange);
        }

        @Override
        public String architecture() {
            return "RobertaForMultipleChoice";
        }

        @Override
        public List<InputSpec> inputs() {
            return Bert.choiceInputs(super.inputs());
        }

        /** @return {@code logits} [B, C] */
        @Override
        public Map<String, Tensor> forward(Ops ops, Map<String, Tensor> inputs) {
            Tensor hidden = roberta.forward(ops, Bert.flattenChoices(ops, inputs));
            Tensor pooled = ops.tanh(pooler.forward(ops, ops.select(hidden, 1, 0)));
            Tensor scores = classifier.forward(ops, ops.dropout(pooled, config.classifierDropout));
            Map<String, Tensor> out = new LinkedHashMap<>();
            out.put("logits", Bert.choiceScores(ops, ops.select(scores, -1, 0), inputs.get("input_ids")));
            return out;
        }
    }
}
