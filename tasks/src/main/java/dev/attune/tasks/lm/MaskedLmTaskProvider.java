package dev.attune.tasks.lm;

import dev.attune.task.TaskProvider;

/** Plugin entry of {@link MaskedLmTask}, listed in {@code META-INF/services}. */
public final class MaskedLmTaskProvider extends TaskProvider.Simple {
    /** Creates the provider (for {@link java.util.ServiceLoader}). */
    public MaskedLmTaskProvider() {
        super(MaskedLmTask.NAME,
                "masked language modelling (continued pretraining of BERT on your own text); options"
                + " text_column, format, mlm_probability, seed, mask_token, limit, on_bad_row",
                MaskedLmTask::new);
    }
}
