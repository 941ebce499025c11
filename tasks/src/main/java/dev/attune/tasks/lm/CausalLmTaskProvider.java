package dev.attune.tasks.lm;

import dev.attune.task.TaskProvider;

/** Plugin entry of {@link CausalLmTask}, listed in {@code META-INF/services}. */
public final class CausalLmTaskProvider extends TaskProvider.Simple {
    /** Creates the provider (for {@link java.util.ServiceLoader}). */
    public CausalLmTaskProvider() {
        super(CausalLmTask.NAME,
                "causal language modelling (chatbots, text generation) on dialogues or plain text;"
                + " options input, loss_on, response_speaker, eos_token, text_column, format, limit,"
                + " on_bad_row",
                CausalLmTask::new);
    }
}
