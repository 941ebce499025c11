package dev.attune.tasks.classification;

import dev.attune.task.TaskProvider;

/** Plugin entry of {@link TextClassificationTask}, listed in {@code META-INF/services}. */
public final class TextClassificationTaskProvider extends TaskProvider.Simple {
    /** Creates the provider (for {@link java.util.ServiceLoader}). */
    public TextClassificationTaskProvider() {
        super(TextClassificationTask.NAME,
                "classify a text into labels (sentiment, spam), several labels, or a score; options"
                + " problem_type (single_label_classification|multi_label_classification|regression),"
                + " text_column, label_column, label_separator, format, on_bad_row, labels, positive_label,"
                + " class_weights",
                TextClassificationTask::new);
    }
}
