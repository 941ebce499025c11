package dev.attune.tasks.classification;

import dev.attune.task.Prediction;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * The answer of a regression task ({@code problem_type=regression}): the model's one output, as it
 * is (no activation, as in HuggingFace's pipelines for regression).
 *
 * @param label the name of the output ({@code LABEL_0} unless the {@code labels} option named it)
 * @param score the predicted number
 */
public record RegressionPrediction(String label, double score) implements Prediction {
    /**
     * Validates.
     *
     * @param label the name of the output ({@code LABEL_0} unless the {@code labels} option named
     *     it)
     * @param score the predicted number
     */
    public RegressionPrediction {
        Objects.requireNonNull(label, "label");
    }

    /** @return {@code score} and {@code label} */
    @Override
    public Map<String, Object> toMap() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("score", score);
        m.put("label", label);
        return m;
    }
}
