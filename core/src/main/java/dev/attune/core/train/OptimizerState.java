package dev.attune.core.train;

import org.apiguardian.api.API;

import dev.attune.ops.TensorData;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * What an optimizer remembers between steps, so that training can stop and continue exactly where
 * it was: the number of updates taken (AdamW's bias correction depends on it) and its per-parameter
 * tensors, named {@code <slot>/<parameter>} as the training session names its slots. For {@link
 * AdamW} they are {@code exp_avg/<parameter>} and {@code exp_avg_sq/<parameter>} (the first and
 * second moments, named as {@code torch.optim.AdamW}'s state), FLOAT32; checkpoints keep them in
 * {@code optimizer.safetensors}.
 *
 * @param steps optimizer steps taken
 * @param tensors state tensors by name, in a stable order
 */
@API(status = API.Status.INTERNAL, since = "0.1")
public record OptimizerState(long steps, Map<String, TensorData> tensors) {
    /** Copies the map, keeping its order. */
    public OptimizerState {
        if (steps < 0) {
            throw new IllegalArgumentException("steps must be >= 0, got " + steps);
        }
        tensors = Collections.unmodifiableMap(new LinkedHashMap<>(tensors));
    }
}
