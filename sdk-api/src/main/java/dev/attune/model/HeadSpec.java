package dev.attune.model;

import org.apiguardian.api.API;

/**
 * Which head a task asks a family for.
 *
 * @param kind the HuggingFace head
 * @param numLabels output classes (classification heads); 0 where it does not apply
 */
@API(status = API.Status.STABLE, since = "0.1")
public record HeadSpec(HeadKind kind, int numLabels) {
    /** Validates. */
    public HeadSpec {
        if (numLabels < 0) {
            throw new IllegalArgumentException("numLabels must be >= 0");
        }
    }

    /** The standard HuggingFace heads a model family can put on its encoder or decoder. */
    @API(status = API.Status.STABLE, since = "0.1")
    public enum HeadKind {
        /** {@code *ForSequenceClassification}: one logit vector per sequence (or pair). */
        SEQUENCE_CLASSIFICATION,
        /** {@code *ForTokenClassification}: one logit vector per token. */
        TOKEN_CLASSIFICATION,
        /** {@code *ForQuestionAnswering}: start and end logits per token. */
        QUESTION_ANSWERING,
        /** {@code *ForMaskedLM}: vocabulary logits per token, bidirectional. */
        MASKED_LM,
        /** {@code *LMHeadModel} / {@code *ForCausalLM}: next-token logits. */
        CAUSAL_LM,
        /** {@code *ForConditionalGeneration}: encoder-decoder with a language-model head. */
        SEQ2SEQ_LM,
        /**
         * {@code *ForMultipleChoice} (SWAG-style): inputs {@code [batch, choices, tokens]}, one score
         * per choice ({@code logits [batch, choices]}).
         */
        MULTIPLE_CHOICE;

        /**
         * The head a HuggingFace class name stands for, as {@code AutoModel} reads config.json's
         * {@code architectures}: by the class name's suffix ({@code BertForMaskedLM} is {@link
         * #MASKED_LM}, {@code GPT2LMHeadModel} {@link #CAUSAL_LM}).
         *
         * @param architecture a class name such as {@code BertForTokenClassification}
         * @return its head; empty for a bare model ({@code BertModel}) or a name it does not know
         */
        @API(status = API.Status.EXPERIMENTAL, since = "0.2")
        public static java.util.Optional<HeadKind> ofArchitecture(String architecture) {
            if (architecture == null) {
                return java.util.Optional.empty();
            }
            HeadKind kind = null;
            if (architecture.endsWith("ForSequenceClassification")) {
                kind = SEQUENCE_CLASSIFICATION;
            } else if (architecture.endsWith("ForTokenClassification")) {
                kind = TOKEN_CLASSIFICATION;
            } else if (architecture.endsWith("ForQuestionAnswering")) {
                kind = QUESTION_ANSWERING;
            } else if (architecture.endsWith("ForMaskedLM")) {
                kind = MASKED_LM;
            } else if (architecture.endsWith("LMHeadModel") || architecture.endsWith("ForCausalLM")) {
                kind = CAUSAL_LM;
            } else if (architecture.endsWith("ForConditionalGeneration")) {
                kind = SEQ2SEQ_LM;
            } else if (architecture.endsWith("ForMultipleChoice")) {
                kind = MULTIPLE_CHOICE;
            }
            return java.util.Optional.ofNullable(kind);
        }

        /**
         * @param config a checkpoint's config
         * @return the head of the first class its {@code architectures} names that has one; empty
         *     when it names none (or only bare models such as {@code BertModel})
         */
        @API(status = API.Status.EXPERIMENTAL, since = "0.2")
        public static java.util.Optional<HeadKind> of(ModelConfig config) {
            return config.raw("architectures").flatMap(a -> {
                for (com.fasterxml.jackson.databind.JsonNode n : a) {
                    java.util.Optional<HeadKind> k = ofArchitecture(n.asText(null));
                    if (k.isPresent()) {
                        return k;
                    }
                }
                return java.util.Optional.empty();
            });
        }

        /**
         * @param name a head as the command line writes it: {@code sequence-classification}, {@code
         *     token-classification}, {@code question-answering}, {@code masked-lm}, {@code causal-lm},
         *     {@code seq2seq-lm}, {@code multiple-choice} (or the constant's name)
         * @return the head
         * @throws IllegalArgumentException naming the heads there are, for another name
         */
        @API(status = API.Status.EXPERIMENTAL, since = "0.2")
        public static HeadKind parse(String name) {
            String n = name.strip().toUpperCase(java.util.Locale.ROOT).replace('-', '_');
            if (n.equals("SEQ2SEQ")) {
                return SEQ2SEQ_LM;
            }
            for (HeadKind k : values()) {
                if (k.name().equals(n)) {
                    return k;
                }
            }
            throw new IllegalArgumentException("head '" + name + "' is not known; heads: " + cliNames());
        }

        /** @return the head as the command line writes it ({@code token-classification}) */
        @API(status = API.Status.EXPERIMENTAL, since = "0.2")
        public String cliName() {
            return name().toLowerCase(java.util.Locale.ROOT).replace('_', '-');
        }

        private static java.util.List<String> cliNames() {
            java.util.List<String> out = new java.util.ArrayList<>();
            for (HeadKind k : values()) {
                out.add(k.cliName());
            }
            return out;
        }
    }
}
