package dev.attune.tasks.seq2seq;

import dev.attune.task.TaskProvider;

/** Plugin entry of {@link Seq2SeqTask}, listed in {@code META-INF/services}. */
public final class Seq2SeqTaskProvider extends TaskProvider.Simple {
    /** Creates the provider (for {@link java.util.ServiceLoader}). */
    public Seq2SeqTaskProvider() {
        super(Seq2SeqTask.NAME,
                "text to text with an encoder-decoder model (translation, summarisation); options"
                + " source_column, target_column, prefix, format, on_bad_row, max_target_length,"
                + " decoder_start_token_id, max_new_tokens, num_beams, length_penalty, early_stopping",
                Seq2SeqTask::new);
    }
}
