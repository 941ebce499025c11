package dev.attune.core.train;

import org.apiguardian.api.API;

import java.util.Map;
import java.util.Set;

/**
 * AdamW as HuggingFace's Trainer runs it ({@code torch.optim.AdamW}): decoupled weight decay
 * {@code p -= lr * weightDecay * p} on parameters whose {@link dev.attune.ops.Parameter#decay()} is
 * true, then the Adam update with bias correction; gradients first clipped to a global L2 norm.
 *
 * @param beta1 first-moment decay ({@code adam_beta1}, 0.9)
 * @param beta2 second-moment decay ({@code adam_beta2}, 0.999)
 * @param epsilon denominator term ({@code adam_epsilon}, 1e-8)
 * @param weightDecay decoupled weight decay ({@code weight_decay})
 * @param maxGradNorm global gradient-norm clip ({@code max_grad_norm}); 0 or less disables
 * @param frozen names of parameters that are not updated
 * @param learningRateScales per-parameter factors on the step's learning rate (layer-wise learning-rate
 *     decay: a parameter group with its own {@code lr} in PyTorch); a parameter not named uses 1
 */
@API(status = API.Status.INTERNAL, since = "0.1")
public record OptimizerSettings(double beta1, double beta2, double epsilon, double weightDecay, double maxGradNorm,
        Set<String> frozen, Map<String, Double> learningRateScales) {
    /** Copies the collections; scales must be finite and not negative. */
    public OptimizerSettings {
        frozen = Set.copyOf(frozen);
        learningRateScales = Map.copyOf(learningRateScales);
        for (Map.Entry<String, Double> e : learningRateScales.entrySet()) {
            if (!(e.getValue() >= 0) || e.getValue().isInfinite()) {
                throw new IllegalArgumentException("learning-rate scale of " + e.getKey() + " must be finite and >= 0, got "
                        + e.getValue());
            }
        }
    }

    /**
     * Settings with every parameter at the step's learning rate.
     *
     * @param beta1 first-moment decay
     * @param beta2 second-moment decay
     * @param epsilon denominator term
     * @param weightDecay decoupled weight decay
     * @param maxGradNorm global gradient-norm clip; 0 or less disables
     * @param frozen names of parameters that are not updated
     */
    public OptimizerSettings(double beta1, double beta2, double epsilon, double weightDecay, double maxGradNorm,
            Set<String> frozen) {
        this(beta1, beta2, epsilon, weightDecay, maxGradNorm, frozen, Map.of());
    }

    /**
     * @param parameter a parameter name
     * @return its factor on the learning rate (1 unless set)
     */
    public double learningRateScale(String parameter) {
        return learningRateScales.getOrDefault(parameter, 1.0);
    }
}
