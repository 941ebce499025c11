package dev.attune.tasks.qa;

import dev.attune.task.Task;
import dev.attune.task.TaskOptions;
import dev.attune.task.TaskProvider;

/** Plugin entry of {@link QuestionAnsweringTask}, listed in {@code META-INF/services}. */
public final class QuestionAnsweringTaskProvider implements TaskProvider {
    /** Creates the provider (for {@link java.util.ServiceLoader}). */
    public QuestionAnsweringTaskProvider() {}

    @Override
    public String name() {
        return QuestionAnsweringTask.NAME;
    }

    @Override
    public String description() {
        return "extractive question answering on SQuAD v1.1 JSON; options article_start, article_end, doc_stride,"
                + " max_answer_length, n_best";
    }

    @Override
    public Task create(TaskOptions options) {
        return new QuestionAnsweringTask(options);
    }
}
