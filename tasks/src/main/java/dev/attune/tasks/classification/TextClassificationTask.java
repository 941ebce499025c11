package dev.attune.tasks.classification;

import dev.attune.task.TaskOptions;
import java.util.List;

/**
 * Classifies one text into one of a fixed set of labels (sentiment, spam detection, topic): task
 * {@value #NAME}, on a {@code *ForSequenceClassification} head.
 *
 * <p>Options (all optional):
 *
 * <ul>
 *   <li>{@code text_column}: the column holding the text, default {@code text};
 *   <li>{@code label_column}: the column holding the label, default {@code label};
 *   <li>{@code format}: {@code tsv}, {@code csv} or {@code jsonl}, default from the file extension;
 *   <li>{@code on_bad_row}: {@code fail} (default) or {@code skip};
 *   <li>{@code labels}: the label list, comma-separated, in id order; default: the sorted distinct
 *       labels of the training data ({@link #inferLabels});
 *   <li>{@code positive_label}: the label whose precision, recall and F1 are reported on two-label
 *       tasks, default the label with id 1;
 *   <li>{@code class_weights}: weights of the cross-entropy per label for imbalanced data, as
 *       PyTorch's {@code CrossEntropyLoss(weight=...)}: {@code balanced} (each label weighted {@code
 *       n / (labels * n_label)} from the training data, as scikit-learn's {@code
 *       compute_class_weight}) or {@code label=weight} pairs, comma-separated (labels not named keep
 *       weight 1); default none.
 * </ul>
 *
 * <p>Examples become {@code input_ids}, {@code token_type_ids}, {@code attention_mask} and, when
 * labelled, {@code labels}; the loss is cross-entropy; metrics are {@code accuracy}, {@code f1} and
 * the rest of {@link dev.attune.tasks.metrics.ClassificationMetrics}; the model is chosen on
 * {@code f1} for two labels and {@code accuracy} otherwise. Predictions are {@link
 * ClassificationPrediction}s. Immutable.
 */
public final class TextClassificationTask extends AbstractTextClassificationTask {
    /** The task's name. */
    public static final String NAME = "text-classification";

    /**
     * @param options the task options
     * @throws dev.attune.error.ConfigurationException on an unknown or invalid option
     */
    public TextClassificationTask(TaskOptions options) {
        this(options, null);
    }

    private TextClassificationTask(TaskOptions options, List<String> labels) {
        super(NAME, options, false, labels);
    }

    @Override
    TextClassificationTask copy(TaskOptions options, List<String> labels) {
        return new TextClassificationTask(options, labels);
    }
}
