package dev.attune.tasks.classification;

import dev.attune.task.Task;
import dev.attune.task.TaskOptions;
import dev.attune.task.TaskProvider;

/** Plugin entry of {@link TextClassificationTask}, listed in {@code META-INF/services}. */
public final class TextClassificationTaskProvider implements TaskProvider {
    /** Creates the provider (for {@link java.util.ServiceLoader}). */
    public TextClassificationTaskProvider() {}

    @Override
    public String name() {
        return TextClassificationTask.NAME;
    }

    @Override
    public String description() {
        return "classify a text into labels (sentiment, spam); options text_column, label_column, format,"
                + " on_bad_row, labels, positive_label";
    }

    @Override
    public Task create(TaskOptions options) {
        return new TextClassificationTask(options);
    }
}
