package dev.attune.tasks.qa;

import dev.attune.task.Prediction;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * The answer of the question-answering task: a span of the context.
 *
 * @param answer the answer text (empty when no span could be chosen)
 * @param start its first character in the context
 * @param end the character after its last (exclusive)
 * @param score its probability among the n-best candidate spans (softmax of their start + end logits)
 */
public record QaPrediction(String answer, int start, int end, double score) implements Prediction {
    /** Validates. */
    public QaPrediction {
        Objects.requireNonNull(answer, "answer");
    }

    /** @return {@code answer}, {@code start}, {@code end} and {@code score} */
    @Override
    public Map<String, Object> toMap() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("answer", answer);
        m.put("start", start);
        m.put("end", end);
        m.put("score", score);
        return m;
    }
}
