package dev.attune.tasks.choice;

import dev.attune.task.Prediction;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The answer of the multiple-choice task: the most probable ending and every ending's probability.
 *
 * @param choice the index of the chosen ending
 * @param ending its text
 * @param probabilities every ending's probability (softmax of the logits), in ending order
 */
public record ChoicePrediction(int choice, String ending, List<Double> probabilities) implements Prediction {
    /** Copies the list. */
    public ChoicePrediction {
        probabilities = List.copyOf(probabilities);
    }

    /** @return {@code choice}, {@code ending}, {@code score} (its probability) and {@code probabilities} */
    @Override
    public Map<String, Object> toMap() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("choice", choice);
        m.put("ending", ending);
        m.put("score", probabilities.get(choice));
        m.put("probabilities", probabilities);
        return m;
    }
}
