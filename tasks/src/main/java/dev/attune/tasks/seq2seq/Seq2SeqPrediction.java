package dev.attune.tasks.seq2seq;

import dev.attune.task.Prediction;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A generated text.
 *
 * @param text the decoded output, special tokens removed
 * @param ids the decoder ids, {@code decoder_start_token_id} first
 */
public record Seq2SeqPrediction(String text, long[] ids) implements Prediction {
    @Override
    public Map<String, Object> toMap() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("generated_text", text);
        m.put("ids", ids);
        return m;
    }
}
