package dev.attune.task;

import java.util.Map;

/** Accumulates model outputs over an evaluation set and computes the task's metrics. */
public interface Evaluator {
    /**
     * @param features one input
     * @param outputs the model's outputs for it (batch axis removed), by output name
     */
    void accept(Features features, Map<String, float[]> outputs);

    /** @return metrics by name ({@code accuracy}, {@code f1}, ...) */
    Map<String, Double> metrics();
}
