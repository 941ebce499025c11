package dev.attune.tasks.classification;

import dev.attune.task.TaskOptions;
import java.util.List;

/**
 * Classifies one text into one of a fixed set of labels (sentiment, spam detection, topic), into
 * any number of them (multi-label tagging), or scores it with a number (regression): task {@value
 * #NAME}, on a {@code *ForSequenceClassification} head, as HuggingFace's {@code
 * AutoModelForSequenceClassification} does it for each {@code problem_type}.
 *
 * <p>Options (all optional):
 *
 * <ul>
 *   <li>{@code problem_type}: {@code single_label_classification} (default: one label per text,
 *       softmax and cross-entropy), {@code multi_label_classification} (any number of labels per
 *       text: a sigmoid per label and binary cross-entropy; a label is predicted when its
 *       probability is above 0.5) or {@code regression} (one number per text: one output and mean
 *       squared error). Saved at the top of the trained model's {@code config.json}, so that {@code
 *       transformers} trains the saved folder with the same loss;
 *   <li>{@code text_column}: the column holding the text, default {@code text};
 *   <li>{@code label_column}: the column holding the label, default {@code label}: a label name; for
 *       regression a number ({@code 3.5}); for multi-label the labels joined by {@code
 *       label_separator} ({@code sports|politics}; empty for none), or in JSON Lines a JSON array
 *       of strings;
 *   <li>{@code label_separator}: between the labels of a multi-label cell, default {@code |};
 *   <li>{@code format}: {@code tsv}, {@code csv} or {@code jsonl}, default from the file extension;
 *   <li>{@code on_bad_row}: {@code fail} (default) or {@code skip};
 *   <li>{@code labels}: the label list, comma-separated, in id order; default: the sorted distinct
 *       labels of the training data ({@link #inferLabels}). For regression the name of the one
 *       output, default {@code LABEL_0} as HuggingFace names it;
 *   <li>{@code positive_label} (single-label only): the label whose precision, recall and F1 are
 *       reported on two-label tasks, default the label with id 1;
 *   <li>{@code class_weights} (single-label only): weights of the cross-entropy per label for
 *       imbalanced data, as PyTorch's {@code CrossEntropyLoss(weight=...)}: {@code balanced} (each
 *       label weighted {@code n / (labels * n_label)} from the training data, as scikit-learn's
 *       {@code compute_class_weight}) or {@code label=weight} pairs, comma-separated (labels not
 *       named keep weight 1); default none.
 * </ul>
 *
 * <p>Examples become {@code input_ids}, {@code token_type_ids}, {@code attention_mask} and, when
 * labelled, {@code labels} (an INT64 label id; a FLOAT32 target for regression; a FLOAT32 multi-hot
 * vector for multi-label). Metrics and the metric that chooses the model:
 *
 * <ul>
 *   <li>single-label: {@code accuracy}, {@code f1} and the rest of {@link
 *       dev.attune.tasks.metrics.ClassificationMetrics}; chosen on {@code f1} for two labels and
 *       {@code accuracy} otherwise; predictions are {@link ClassificationPrediction}s;
 *   <li>regression: {@code mse}, {@code rmse}, {@code mae}, {@code pearson}, {@code spearman};
 *       chosen on the lowest {@code mse}; predictions are {@link RegressionPrediction}s;
 *   <li>multi-label: {@code micro_f1}, {@code macro_f1}, {@code micro_precision}, {@code
 *       micro_recall}, {@code exact_match}; chosen on {@code micro_f1}; predictions are {@link
 *       MultiLabelPrediction}s.
 * </ul>
 *
 * <p>Immutable and thread-safe: {@link #encode} and {@link #decode} keep no state.
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
