package dev.attune.tasks.ner;

import dev.attune.task.TaskProvider;

/** Plugin entry of {@link TokenClassificationTask}, listed in {@code META-INF/services}. */
public final class TokenClassificationTaskProvider extends TaskProvider.Simple {
    /** Creates the provider (for {@link java.util.ServiceLoader}). */
    public TokenClassificationTaskProvider() {
        super(TokenClassificationTask.NAME,
                "tag words (named entities) from CoNLL files; options tag_scheme (iob1|iob2), convert_to"
                + " (iob2|none), labels",
                TokenClassificationTask::new);
    }
}
