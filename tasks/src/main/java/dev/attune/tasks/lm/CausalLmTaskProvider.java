package dev.attune.tasks.lm;

import dev.attune.task.Task;
import dev.attune.task.TaskOptions;
import dev.attune.task.TaskProvider;

/** Plugin entry of {@link CausalLmTask}, listed in {@code META-INF/services}. */
public final class CausalLmTaskProvider implements TaskProvider {
    /** Creates the provider (for {@link java.util.ServiceLoader}). */
    public CausalLmTaskProvider() {}

    @Override
    public String name() {
        return CausalLmTask.NAME;
    }

    @Override
    public String description() {
        return "causal language modelling (chatbots, text generation) on dialogues or plain text; options input,"
                + " loss_on, response_speaker, eos_token, text_column, format, limit, on_bad_row";
    }

    @Override
    public Task create(TaskOptions options) {
        return new CausalLmTask(options);
    }
}
