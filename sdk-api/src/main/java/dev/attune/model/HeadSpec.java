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
        MULTIPLE_CHOICE
    }
}
