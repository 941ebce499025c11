package dev.attune.tasks.lm;

import dev.attune.task.Task;
import dev.attune.task.TaskOptions;
import dev.attune.task.TaskProvider;

/** Plugin entry of {@link MaskedLmTask}, listed in {@code META-INF/services}. */
public final class MaskedLmTaskProvider implements TaskProvider {
    /** Creates the provider (for {@link java.util.ServiceLoader}). */
    public MaskedLmTaskProvider() {}

    @Override
    public String name() {
        return MaskedLmTask.NAME;
    }

    @Override
    public String description() {
        return "masked language modelling (continued pretraining of BERT on your own text); options text_column,"
                + " format, mlm_probability, seed, mask_token, limit, on_bad_row";
    }

    @Override
    public Task create(TaskOptions options) {
        return new MaskedLmTask(options);
    }
}
