package dev.attune.task;

import dev.attune.task.Prediction;
import java.util.List;
import java.util.Map;

/** Text in, answer out, on whichever engine the model was lowered. Thread-safe. */
public interface Predictor {
    /**
     * @param input the task's input fields ({@code text}, and {@code text_pair} for pairs)
     * @return the task's answer
     */
    Prediction predict(Map<String, String> input);

    /**
     * @param text a single text
     * @return the task's answer
     */
    default Prediction predict(String text) {
        return predict(Map.of("text", text));
    }

    /**
     * Predicts several inputs in batches.
     *
     * @param inputs the inputs
     * @return one answer per input, in order
     */
    List<Prediction> predictAll(List<Map<String, String>> inputs);
}
