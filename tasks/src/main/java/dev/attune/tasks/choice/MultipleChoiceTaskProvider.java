package dev.attune.tasks.choice;

import dev.attune.task.TaskProvider;

/** Plugin entry of {@link MultipleChoiceTask}, listed in {@code META-INF/services}. */
public final class MultipleChoiceTaskProvider extends TaskProvider.Simple {
    /** Creates the provider (for {@link java.util.ServiceLoader}). */
    public MultipleChoiceTaskProvider() {
        super(MultipleChoiceTask.NAME,
                "pick the ending that continues a context (SWAG-style); options context_column, endings_column,"
                + " endings_separator, start_column, label_column, format, on_bad_row",
                MultipleChoiceTask::new);
    }
}
