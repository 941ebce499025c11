package dev.attune.tasks.ner;

import dev.attune.task.Task;
import dev.attune.task.TaskOptions;
import dev.attune.task.TaskProvider;

/** Plugin entry of {@link TokenClassificationTask}, listed in {@code META-INF/services}. */
public final class TokenClassificationTaskProvider implements TaskProvider {
    /** Creates the provider (for {@link java.util.ServiceLoader}). */
    public TokenClassificationTaskProvider() {}

    @Override
    public String name() {
        return TokenClassificationTask.NAME;
    }

    @Override
    public String description() {
        return "tag words (named entities) from CoNLL files; options tag_scheme (iob1|iob2), convert_to (iob2|none),"
                + " labels";
    }

    @Override
    public Task create(TaskOptions options) {
        return new TokenClassificationTask(options);
    }
}
