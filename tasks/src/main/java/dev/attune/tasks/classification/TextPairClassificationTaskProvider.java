package dev.attune.tasks.classification;

import dev.attune.task.TaskProvider;

/** Plugin entry of {@link TextPairClassificationTask}, listed in {@code META-INF/services}. */
public final class TextPairClassificationTaskProvider extends TaskProvider.Simple {
    /** Creates the provider (for {@link java.util.ServiceLoader}). */
    public TextPairClassificationTaskProvider() {
        super(TextPairClassificationTask.NAME,
                "classify a pair of texts (paraphrase, entailment), give it several labels, or score it"
                + " (similarity); options problem_type, text_column, text_pair_column, label_column,"
                + " label_separator, format, on_bad_row, labels, positive_label, class_weights",
                TextPairClassificationTask::new);
    }
}
