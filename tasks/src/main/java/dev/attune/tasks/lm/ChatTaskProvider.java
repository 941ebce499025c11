package dev.attune.tasks.lm;

import dev.attune.task.TaskProvider;

/** Plugin entry of {@link ChatTask}, listed in {@code META-INF/services}. */
public final class ChatTaskProvider extends TaskProvider.Simple {
    /** Creates the provider (for {@link java.util.ServiceLoader}). */
    public ChatTaskProvider() {
        super(ChatTask.NAME,
                "supervised fine-tuning on conversations (TRL messages or prompt/completion JSONL) rendered with the"
                + " model's chat template; options loss_on (assistant, all), input (messages, dialogue),"
                + " chat_template (a Jinja file), limit, on_bad_row",
                ChatTask::new);
    }
}
