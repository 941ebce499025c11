package dev.attune.core.train;

import org.apiguardian.api.API;

import dev.attune.engine.LoweredModel;
import dev.attune.engine.TrainingSession;
import dev.attune.ops.Parameter;
import dev.attune.ops.Tensor;
import dev.attune.ops.TensorData;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * AdamW as HuggingFace's Trainer runs it ({@code torch.optim.AdamW} after {@code
 * clip_grad_norm_}), written once against {@link TrainingSession}'s update ops so every engine runs
 * the same arithmetic: the gradients' global L2 norm {@code n}, the clip coefficient {@code c =
 * min(1, maxGradNorm / (n + 1e-6))}, decoupled weight decay {@code p *= 1 - lr*wd} on parameters
 * whose {@link Parameter#decay()} is true (not biases or LayerNorm), moments {@code m = b1*m +
 * (1-b1)*c*g} and {@code v = b2*v + (1-b2)*c^2*g*g}, then {@code p -= lr/bc1 * m / (sqrt(v)/sqrt(bc2)
 * + eps)} with the bias corrections {@code bc = 1 - beta^t}. A step whose gradient norm is not
 * finite changes nothing but the step count, as before.
 *
 * <p>The scalars of a step are computed here in double precision and given to the engine as
 * hypers; the update folds them so each parameter costs a few in-place ops and no pass over the
 * gradient for clipping: {@code (1-b1)*c} and {@code (1-b2)*c^2} scale the moments' increments, and
 * {@code lr/bc1 * m / (sqrt(v)/sqrt(bc2) + eps) = (lr*sqrt(bc2)/bc1) * m / (sqrt(v) + eps*sqrt(bc2))}.
 * Each distinct learning-rate scale (layer-wise decay) is one group with its own decay and step
 * size, as PyTorch's {@code param_groups}. Parameters that got no gradient are skipped, as torch
 * skips those whose {@code grad} is None.
 *
 * <p>An engine with a fused AdamW kernel ({@link TrainingSession.UpdateOps#fusedAdamW}, PyTorch's
 * {@code _fused_adamw_}, what {@code torch.optim.AdamW(fused=True)} runs) does the same step in one
 * pass over value, gradient and moments with no temporaries, the clip coefficient and a loss scale
 * folded into its gradient divisor; the composite above is what other engines run.
 *
 * <p>The state is the session's slots {@value #FIRST_MOMENT} and {@value #SECOND_MOMENT} (torch's
 * names) and the step count; {@link #state()} and {@link #restore} carry it through checkpoints.
 */
@API(status = API.Status.INTERNAL, since = "0.1")
public final class AdamW implements AutoCloseable {
    /** Slot of the first moments. */
    public static final String FIRST_MOMENT = "exp_avg";
    /** Slot of the second moments. */
    public static final String SECOND_MOMENT = "exp_avg_sq";

    private final TrainingSession session;
    private final OptimizerSettings settings;
    /** Distinct learning-rate scales in order of first use; a parameter's group is its index. */
    private final List<Double> groupScales;
    private final Map<String, Integer> groupOf = new HashMap<>();
    private final TrainingSession.Program norm;
    private final TrainingSession.Program update;
    private long steps;

    /**
     * Starts training on a model: a session that trains every parameter not frozen in the settings,
     * with zero moments.
     *
     * @param model the model
     * @param settings the optimizer's settings
     */
    public AdamW(LoweredModel model, OptimizerSettings settings) {
        this.settings = settings;
        this.session = model.startTraining(settings.frozen(), List.of(FIRST_MOMENT, SECOND_MOMENT));
        try {
            List<Double> scales = new java.util.ArrayList<>();
            for (Parameter p : session.parameters()) {
                double scale = settings.learningRateScale(p.name());
                int group = scales.indexOf(scale);
                if (group < 0) {
                    group = scales.size();
                    scales.add(scale);
                }
                groupOf.put(p.name(), group);
            }
            this.groupScales = List.copyOf(scales);
            this.norm = session.compile((ops, p) -> ops.squaredNorm(ops.gradient(p)));
            this.update = session.compile(this::update);
        } catch (RuntimeException e) {
            session.close();
            throw e;
        }
    }

    /**
     * One parameter's update: the in-place ops and early releases whose libtorch calls the PyTorch
     * engine was tuned with (at most two parameter-sized temporaries alive at once).
     */
    private Tensor update(TrainingSession.UpdateOps ops, Parameter p) {
        int group = groupOf.get(p.name());
        boolean decays = p.decay() && settings.weightDecay() != 0;
        // an engine with torch's fused AdamW kernel runs the whole step in one pass over the tensors
        if (ops.fusedAdamW(p, new TrainingSession.UpdateOps.AdamWHypers(FIRST_MOMENT, SECOND_MOMENT, "lr." + group,
                decays ? "weight_decay" : "no_decay", "beta1", "beta2", "epsilon", "step", "grad_divisor"))) {
            return null;
        }
        Tensor value = ops.parameter(p);
        Tensor g = ops.gradient(p);
        Tensor m = ops.slot(FIRST_MOMENT, p);
        Tensor v = ops.slot(SECOND_MOMENT, p);
        if (decays) {
            ops.mulInPlace(value, ops.hyper("decay." + group));
        }
        // v = b2*v + (1-b2)c^2 * g*g
        Tensor gg = ops.mul(g, g);
        ops.mulInPlace(gg, ops.hyper("v_scale"));
        ops.mulInPlace(v, ops.hyper("beta2"));
        ops.addInPlace(v, gg);
        ops.release(gg);
        // m = b1*m + (1-b1)c * g; the gradient is scaled in place, it is dropped after the step
        ops.mulInPlace(g, ops.hyper("m_scale"));
        ops.mulInPlace(m, ops.hyper("beta1"));
        ops.addInPlace(m, g);
        // p -= (lr*sqrt(bc2)/bc1) * m / (sqrt(v) + eps*sqrt(bc2))
        Tensor denom = ops.sqrt(v);
        ops.addInPlace(denom, ops.hyper("eps"));
        Tensor step = ops.div(m, denom);
        ops.release(denom);
        ops.mulInPlace(step, ops.hyper("step_size." + group));
        ops.subInPlace(value, step);
        ops.release(step);
        return null;
    }

    /** @return the session: forward and backward passes, dropout seeds, gradual unfreezing */
    public TrainingSession session() {
        return session;
    }

    /**
     * Clips the accumulated gradients to the global norm, applies one AdamW step and drops the
     * gradients.
     *
     * @param learningRate the step's learning rate (before each group's scale)
     * @return the global gradient norm before clipping; when it is not finite nothing was updated
     */
    public float step(double learningRate) {
        return step(learningRate, 1.0, true);
    }

    /**
     * One step on gradients of a loss multiplied by {@code gradScale} (float16 loss scaling, {@link
     * GradScaler}): the gradients are read divided by the scale (folded into the update's factors, no
     * extra pass), clipped and applied as by {@link #step(double)}. When they hold an inf or a NaN the
     * step is skipped as {@code GradScaler.step} skips it: nothing changes, not even the step count
     * that the bias corrections use; the gradients are dropped.
     *
     * @param learningRate the step's learning rate (before each group's scale)
     * @param gradScale the factor the loss was multiplied by before the backward pass
     * @return the global norm of the unscaled gradients before clipping; not finite when the step was skipped
     */
    public float stepScaled(double learningRate, double gradScale) {
        return step(learningRate, gradScale, false);
    }

    private float step(double learningRate, double gradScale, boolean countNonFinite) {
        float n = (float) (Math.sqrt(norm.run(Map.of())) / gradScale);
        if (!Float.isFinite(n)) {
            if (countNonFinite) {
                steps++;
            }
            session.clearGradients();
            return n;
        }
        steps++;
        double clip = 1.0;
        if (settings.maxGradNorm() > 0) {
            clip = Math.min(1.0, settings.maxGradNorm() / (n + 1e-6));
        }
        double b1 = settings.beta1();
        double b2 = settings.beta2();
        double bc1 = 1 - Math.pow(b1, steps);
        double sqrtBc2 = Math.sqrt(1 - Math.pow(b2, steps));
        Map<String, Double> hypers = new HashMap<>();
        hypers.put("m_scale", (1 - b1) * clip / gradScale);
        hypers.put("v_scale", (1 - b2) * clip * clip / (gradScale * gradScale));
        hypers.put("beta1", b1);
        hypers.put("beta2", b2);
        hypers.put("eps", settings.epsilon() * sqrtBc2);
        // the fused step's scalars (torch's own arguments: it computes the bias corrections itself)
        hypers.put("epsilon", settings.epsilon());
        hypers.put("weight_decay", settings.weightDecay());
        hypers.put("no_decay", 0.0);
        hypers.put("step", (double) steps);
        hypers.put("grad_divisor", gradScale / clip);
        for (int group = 0; group < groupScales.size(); group++) {
            double lr = learningRate * groupScales.get(group);
            hypers.put("decay." + group, 1 - lr * settings.weightDecay());
            hypers.put("step_size." + group, lr * sqrtBc2 / bc1);
            hypers.put("lr." + group, lr);
        }
        update.run(hypers);
        session.clearGradients();
        return n;
    }

    /** @return optimizer steps taken (skipped non-finite steps included) */
    public long steps() {
        return steps;
    }

    /**
     * Pauses or resumes parameters (gradual unfreezing); see {@link TrainingSession#setFrozen}.
     *
     * @param names the parameters to hold fixed from now on
     */
    public void setFrozen(Set<String> names) {
        session.setFrozen(names);
    }

    /**
     * Snapshots the moments and the step count on the host, for a checkpoint.
     *
     * @return the state, tensors named {@code exp_avg/<parameter>} and {@code exp_avg_sq/<parameter>}
     */
    public OptimizerState state() {
        return new OptimizerState(steps, new LinkedHashMap<>(session.slots()));
    }

    /**
     * Puts the model and the optimizer back as a checkpoint held them: parameter values, moments and
     * the step count; the gradients are dropped.
     *
     * @param parameters every parameter's value, by name (as {@code FineTunedModel.stateDict()} gives them)
     * @param state the optimizer state from {@link #state()}
     * @throws dev.attune.error.InvalidCheckpointException when a tensor is missing or has another shape
     */
    public void restore(Map<String, TensorData> parameters, OptimizerState state) {
        session.restore(parameters, state.tensors());
        steps = state.steps();
    }

    /** Ends training: the session closes. */
    @Override
    public void close() {
        session.close();
    }
}
