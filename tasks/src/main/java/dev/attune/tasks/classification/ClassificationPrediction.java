package dev.attune.tasks.classification;

import dev.attune.task.Prediction;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * The answer of a classification task: the most probable label and every label's probability.
 *
 * @param label the predicted label
 * @param labelId its id
 * @param probabilities every label's probability (softmax of the logits), in label-id order
 */
public record ClassificationPrediction(String label, int labelId, Map<String, Double> probabilities)
        implements Prediction {
    /**
     * Copies the map, keeping its order.
     *
     * @param label the predicted label
     * @param labelId its id
     * @param probabilities every label's probability (softmax of the logits), in label-id order
     */
    public ClassificationPrediction {
        Objects.requireNonNull(label, "label");
        probabilities = Collections.unmodifiableMap(new LinkedHashMap<>(probabilities));
    }

    /** @return the probability of the predicted label */
    public double score() {
        Double p = probabilities.get(label);
        return p == null ? Double.NaN : p;
    }

    /** @return {@code label}, {@code label_id}, {@code score} and {@code probabilities} */
    @Override
    public Map<String, Object> toMap() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("label", label);
        m.put("label_id", labelId);
        m.put("score", score());
        m.put("probabilities", probabilities);
        return m;
    }
}
