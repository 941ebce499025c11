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
 * classifier.out_proj} on {@code <s>}).
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
        return EnumSet.of(HeadKind.SEQUENCE_CLASSIFICATION);
    }

    @Override
    public ModelDefinition define(ModelConfig config, HeadSpec head) {
        if (head.kind() != HeadKind.SEQUENCE_CLASSIFICATION) {
            throw new UnsupportedArchitectureException(
                    config.origin() + ": RoBERTa has no " + head.kind() + " head yet; supported: " + supportedHeads());
        }
        return new ForSequenceClassification(new Bert.Config(config), head.numLabels());
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

    /** {@code RobertaForSequenceClassification}: {@code RobertaClassificationHead} on {@code <s>}. */
    static final class ForSequenceClassification implements ModelDefinition {
        final Bert.Config config;
        final ParameterSet params = new ParameterSet();
        final Encoder roberta;
        final Linear dense;
        final Linear outProj;

        ForSequenceClassification(Bert.Config c, int numLabels) {
            if (numLabels < 1) {
                throw new IllegalArgumentException("a classifier needs at least one label");
            }
            config = c;
            Scope root = Scope.root(params);
            roberta = new Encoder(root.child("roberta"), c);
            Scope head = root.child("classifier");
            dense = new Linear(head.child("dense"), c.hidden, c.hidden, true, c.initRange);
            outProj = new Linear(head.child("out_proj"), c.hidden, numLabels, true, c.initRange);
        }

        @Override
        public ModelConfig config() {
            return config.raw;
        }

        @Override
        public String architecture() {
            return "RobertaForSequenceClassification";
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
}
