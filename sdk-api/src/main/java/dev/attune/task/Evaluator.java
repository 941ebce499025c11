package dev.attune.task;

import java.util.Map;
import org.apiguardian.api.API;

/**
 * Accumulates model outputs over an evaluation set and computes the task's metrics. The runtime
 * asks {@link Task#evaluator} for a fresh one per evaluation and uses it from one thread, so an
 * evaluator may keep mutable counts. Gold answers come from the features ({@link
 * Features#fields()} for class ids, {@link Features#floatFields()} for regression targets and
 * multi-hot vectors).
 */
@API(status = API.Status.STABLE, since = "0.1")
public interface Evaluator {
    /**
     * @param features one input
     * @param outputs the model's outputs for it (batch axis removed), by output name
     */
    void accept(Features features, Map<String, float[]> outputs);

    /** @return metrics by name ({@code accuracy}, {@code f1}, ...) */
    Map<String, Double> metrics();
}
