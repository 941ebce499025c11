package dev.attune.engine;

import dev.attune.model.ModelDefinition;
import dev.attune.ops.Parameter;
import dev.attune.ops.TensorData;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apiguardian.api.API;

/** A definition lowered onto an engine and device, holding its parameter values. */
@API(status = API.Status.EXPERIMENTAL, since = "0.1")
public interface LoweredModel extends AutoCloseable {
    /** @return the definition */
    ModelDefinition definition();

    /** @return the device the model runs on, as the engine names it */
    String device();

    /**
     * Runs inference (no dropout, no gradients).
     *
     * @param batch inputs
     * @return every output of the definition, on the host
     */
    Map<String, TensorData> predict(Batch batch);

    /**
     * Prepares training: gradients for every parameter not frozen, and the optimizer's state slots.
     *
     * @param frozen names of parameters that are never trained in this session
     * @param slots names of the optimizer's per-parameter state tensors ({@code exp_avg},
     *     {@code exp_avg_sq} for AdamW): each trained parameter gets one zero tensor of its shape per
     *     name; letters, digits and underscores
     * @return the session; only one may be open at a time
     */
    TrainingSession startTraining(Set<String> frozen, List<String> slots);

    /**
     * @param parameter a declared parameter
     * @return its current value (FLOAT32) on the host
     */
    TensorData read(Parameter parameter);

    @Override
    void close();
}
