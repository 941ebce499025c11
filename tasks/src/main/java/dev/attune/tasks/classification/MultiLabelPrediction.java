package dev.attune.tasks.classification;

import dev.attune.task.Prediction;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The answer of a multi-label task ({@code problem_type=multi_label_classification}): every label
 * whose probability (the sigmoid of its logit) is above the threshold, and every label's
 * probability.
 *
 * @param labels the predicted labels, in label-id order; empty when none is above the threshold
 * @param probabilities every label's probability, in label-id order
 * @param threshold the probability a label must exceed to be predicted
 */
public record MultiLabelPrediction(List<String> labels, Map<String, Double> probabilities, double threshold)
        implements Prediction {
    /**
     * Copies the list and map, keeping their order.
     *
     * @param labels the predicted labels, in label-id order; empty when none is above the threshold
     * @param probabilities every label's probability, in label-id order
     * @param threshold the probability a label must exceed to be predicted
     */
    public MultiLabelPrediction {
        labels = List.copyOf(labels);
        probabilities = Collections.unmodifiableMap(new LinkedHashMap<>(probabilities));
    }

    /** @return {@code labels} and {@code probabilities} */
    @Override
    public Map<String, Object> toMap() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("labels", labels);
        m.put("probabilities", probabilities);
        return m;
    }
}
