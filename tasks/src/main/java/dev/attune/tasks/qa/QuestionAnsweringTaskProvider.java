package dev.attune.tasks.qa;

import dev.attune.task.TaskProvider;

/** Plugin entry of {@link QuestionAnsweringTask}, listed in {@code META-INF/services}. */
public final class QuestionAnsweringTaskProvider extends TaskProvider.Simple {
    /** Creates the provider (for {@link java.util.ServiceLoader}). */
    public QuestionAnsweringTaskProvider() {
        super(QuestionAnsweringTask.NAME,
                "extractive question answering on SQuAD v1.1 JSON; options article_start, article_end,"
                + " doc_stride, max_answer_length, n_best",
                QuestionAnsweringTask::new);
    }
}
