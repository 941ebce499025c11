package dev.attune.task;

import java.util.List;
import java.util.Map;
import org.apiguardian.api.API;

/** Text in, answer out, on whichever engine the model was lowered. Thread-safe. */
@API(status = API.Status.STABLE, since = "0.1")
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
