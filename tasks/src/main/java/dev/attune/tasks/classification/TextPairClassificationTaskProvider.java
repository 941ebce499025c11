package dev.attune.tasks.classification;

import dev.attune.task.Task;
import dev.attune.task.TaskOptions;
import dev.attune.task.TaskProvider;

/** Plugin entry of {@link TextPairClassificationTask}, listed in {@code META-INF/services}. */
public final class TextPairClassificationTaskProvider implements TaskProvider {
    /** Creates the provider (for {@link java.util.ServiceLoader}). */
    public TextPairClassificationTaskProvider() {}

    @Override
    public String name() {
        return TextPairClassificationTask.NAME;
    }

    @Override
    public String description() {
        return "classify a pair of texts (paraphrase, entailment); options text_column, text_pair_column,"
                + " label_column, format, on_bad_row, labels, positive_label";
    }

    @Override
    public Task create(TaskOptions options) {
        return new TextPairClassificationTask(options);
    }
}
