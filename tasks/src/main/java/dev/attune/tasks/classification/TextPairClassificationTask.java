package dev.attune.tasks.classification;

import dev.attune.task.TaskOptions;
import java.util.List;

/**
 * Classifies a pair of texts (paraphrase detection as in MRPC, entailment, question-answer
 * matching): task {@value #NAME}, on a {@code *ForSequenceClassification} head. Both texts are
 * given to the tokenizer together ({@code [CLS] a [SEP] b [SEP]} for BERT, type ids 0 and 1).
 *
 * <p>Options are those of {@link TextClassificationTask} plus {@code text_pair_column}, the column
 * holding the second text (default {@code text_pair}); {@code text_column} names the first
 * (default {@code text}). For the GLUE MRPC files: {@code text_column=#1 String}, {@code
 * text_pair_column=#2 String}, {@code label_column=Quality}. {@code problem_type=regression} scores
 * a pair (semantic similarity as in STS-B) and {@code problem_type=multi_label_classification}
 * gives it any number of labels. Immutable and thread-safe.
 */
public final class TextPairClassificationTask extends AbstractTextClassificationTask {
    /** The task's name. */
    public static final String NAME = "text-pair-classification";

    /**
     * @param options the task options
     * @throws dev.attune.error.ConfigurationException on an unknown or invalid option
     */
    public TextPairClassificationTask(TaskOptions options) {
        this(options, null);
    }

    private TextPairClassificationTask(TaskOptions options, List<String> labels) {
        super(NAME, options, true, labels);
    }

    @Override
    TextPairClassificationTask copy(TaskOptions options, List<String> labels) {
        return new TextPairClassificationTask(options, labels);
    }
}
