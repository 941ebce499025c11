package dev.attune.samples.tagging;

import dev.attune.task.TaskProvider;

/** Registers {@link TopicTaggingTask} through {@code META-INF/services/dev.attune.task.TaskProvider}. */
public final class TopicTaggingTaskProvider extends TaskProvider.Simple {
    /** For {@link java.util.ServiceLoader}. */
    public TopicTaggingTaskProvider() {
        super(TopicTaggingTask.NAME, "multi-label topic tagging (sample plugin): sigmoid per tag, binary cross-entropy;"
                + " options text_column, label_column, separator, labels", options -> new TopicTaggingTask(options, null));
    }
}
