package dev.attune.samples.tagging;

import dev.attune.task.Task;
import dev.attune.task.TaskOptions;
import dev.attune.task.TaskProvider;

/** Registers {@link TopicTaggingTask} through {@code META-INF/services/dev.attune.task.TaskProvider}. */
public final class TopicTaggingTaskProvider implements TaskProvider {
    /** For {@link java.util.ServiceLoader}. */
    public TopicTaggingTaskProvider() {}

    @Override
    public String name() {
        return TopicTaggingTask.NAME;
    }

    @Override
    public String description() {
        return "multi-label topic tagging (sample plugin): sigmoid per tag, binary cross-entropy; options text_column,"
                + " label_column, separator, labels";
    }

    @Override
    public Task create(TaskOptions options) {
        return new TopicTaggingTask(options, null);
    }
}
