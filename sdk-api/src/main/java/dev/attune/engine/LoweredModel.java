package dev.attune.engine;

import dev.attune.error.ConfigurationException;
import dev.attune.model.ModelDefinition;
import dev.attune.ops.DType;
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
     * Sets the precision of later forward passes, inference and training alike, with the semantics
     * of {@code torch.autocast}: matrix products and attention run in {@code type}; parameters stay
     * FLOAT32 (the master weights an optimizer updates), and softmax, layer/RMS norms, losses and
     * reductions compute in FLOAT32. Outputs reach the host as FLOAT32.
     *
     * @param type FLOAT32 (the default: everything in float32), BFLOAT16 or FLOAT16
     * @throws dev.attune.error.ConfigurationException when the engine cannot compute in that type
     *     (the default for engines that compute in float32 only)
     */
    @API(status = API.Status.EXPERIMENTAL, since = "0.2")
    default void setComputeType(DType type) {
        if (type != DType.FLOAT32) {
            throw new ConfigurationException("this engine computes in float32 only, not " + type
                    + "; use the pytorch engine for bf16/fp16 (mixed precision), or leave the precision at fp32");
        }
    }

    /** @return the precision set by {@link #setComputeType} (FLOAT32 unless changed) */
    @API(status = API.Status.EXPERIMENTAL, since = "0.2")
    default DType computeType() {
        return DType.FLOAT32;
    }

    /**
     * @param parameter a declared parameter
     * @return its current value (FLOAT32) on the host
     */
    TensorData read(Parameter parameter);

    @Override
    void close();
}
