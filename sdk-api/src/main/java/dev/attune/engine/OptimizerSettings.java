package dev.attune.engine;

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
 */
public record OptimizerSettings(
        double beta1, double beta2, double epsilon, double weightDecay, double maxGradNorm, Set<String> frozen) {
    /** Copies the set. */
    public OptimizerSettings {
        frozen = Set.copyOf(frozen);
    }
}
