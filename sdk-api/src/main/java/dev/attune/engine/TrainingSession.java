package dev.attune.engine;

import dev.attune.ops.Ops;
import dev.attune.ops.Parameter;
import dev.attune.ops.Tensor;
import dev.attune.ops.TensorData;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apiguardian.api.API;

/**
 * The training side of a lowered model: forward and backward passes that accumulate gradients, and
 * the few tensors and in-place ops an optimizer is written against. The optimizer itself (AdamW,
 * clipping, learning-rate groups) lives outside the engine, written once: it {@link #compile
 * compiles} a {@link Kernel} applied to each trained parameter (its value, gradient and state
 * {@linkplain UpdateOps#slot slots}) and runs the {@link Program} every step with that step's
 * scalars ({@linkplain UpdateOps#hyper hypers}). An eager engine calls the kernel each run; a graph
 * engine traces it once and feeds the hypers, so its graph does not grow with the steps.
 *
 * <p>The session trains every parameter of the definition except those frozen when it was started
 * ({@link LoweredModel#startTraining}); {@link #setFrozen} pauses more of them for a while.
 */
@API(status = API.Status.EXPERIMENTAL, since = "0.1")
public interface TrainingSession extends AutoCloseable {
    /**
     * Runs forward (training mode) and backward, adding {@code lossScale * d(loss)} to the gradients.
     *
     * @param batch inputs including labels
     * @param lossScale factor on the loss before backward (1 / accumulation steps)
     * @return the unscaled loss of the batch
     */
    float forwardBackward(Batch batch, float lossScale);

    /** @return the parameters this session trains (not frozen at start), in declaration order */
    List<Parameter> parameters();

    /**
     * Prepares a per-parameter computation over the trained parameters (an optimizer update, a
     * reduction of the gradients). A graph engine traces the kernel here, once per parameter; an
     * eager engine keeps it and calls it on every {@link Program#run}.
     *
     * @param kernel what to do with one parameter
     * @return the program, valid while the session is open
     */
    Program compile(Kernel kernel);

    /**
     * Drops the accumulated gradients (PyTorch's {@code zero_grad(set_to_none=True)}): until the next
     * {@link #forwardBackward} no parameter has a gradient, and programs skip every parameter.
     */
    void clearGradients();

    /**
     * Copies the optimizer state to the host, for a checkpoint.
     *
     * @return every slot tensor (FLOAT32) under {@code <slot>/<parameter>} (as {@code torch.optim}
     *     names its state: {@code exp_avg/bert.pooler.dense.weight}), slot by slot in the order given
     *     at start, each in parameter order
     */
    Map<String, TensorData> slots();

    /**
     * Puts parameter values and optimizer state back bit for bit (a checkpoint resumed), and drops
     * the gradients.
     *
     * @param parameters a value for every declared parameter, by name; a parameter this session does not
     *     train may be left out and keeps its value (a LoRA checkpoint holds the adapter and the head only)
     * @param slots a value for every slot of every trained parameter, named as {@link #slots()} names them
     * @throws dev.attune.error.InvalidCheckpointException when a tensor is missing or has another shape
     */
    void restore(Map<String, TensorData> parameters, Map<String, TensorData> slots);

    /**
     * Reseeds the engine's random generator that dropout draws from. The trainer calls this before
     * every forward pass with a seed derived from the run's seed and the pass's position, so the
     * random stream is a function of the position in training and a resumed run draws the same masks.
     *
     * @param seed the seed
     */
    void reseed(long seed);

    /**
     * Pauses or resumes training of parameters (gradual unfreezing): paused parameters get no
     * gradient and programs skip them. Parameters frozen at start stay frozen whatever this says.
     *
     * @param names the parameters to hold fixed from now on (replaces the previous set)
     */
    void setFrozen(Set<String> names);

    /**
     * Turns gradient checkpointing on or off for the following {@link #forwardBackward} calls: each
     * {@link Ops#checkpoint} segment keeps only its input through the forward pass and
     * is recomputed during the backward pass, for less memory at the cost of a second forward
     * computation. The gradients are the same either way. The default does nothing and returns
     * false: an engine that keeps every activation anyway (a graph engine) trains as before.
     *
     * @param enabled true to recompute segments in the backward pass
     * @return true when this engine recomputes; false when it ignores the setting
     */
    @API(status = API.Status.EXPERIMENTAL, since = "0.2")
    default boolean setGradientCheckpointing(boolean enabled) {
        return false;
    }

    @Override
    void close();

    /**
     * What a {@link Kernel} computes with: the ops contract (on the engine's device, no gradients
     * recorded) plus the one parameter's tensors, the step's scalars and in-place updates.
     *
     * <p>{@link Ops#parameter(Parameter)} gives the parameter's current value. In-place ops change
     * their target for every later read of it in the kernel; values computed from the target before
     * keep what they had. Their target is the parameter's value, one of its slots, its gradient, or
     * a tensor the kernel computed; never a hyper or a scalar. Changes to the value and the slots
     * persist; the gradient is scratch: a kernel may scale it in place, and what later programs of
     * the same step read of it is unspecified.
     */
    @API(status = API.Status.EXPERIMENTAL, since = "0.1")
    interface UpdateOps extends Ops {
        /**
         * @param p the kernel's parameter
         * @return its accumulated gradient
         */
        Tensor gradient(Parameter p);

        /**
         * @param name a slot named when the session was started
         * @param p the kernel's parameter
         * @return the parameter's tensor in that slot (its shape, zero at start)
         * @throws IllegalArgumentException when the slot was not declared
         */
        Tensor slot(String name, Parameter p);

        /**
         * @param name a scalar the program is given on every {@link Program#run}
         * @return its value for this run, FLOAT32, rank 0
         */
        Tensor hyper(String name);

        /** {@code target *= factor} ({@code factor} broadcast to the target's shape). */
        void mulInPlace(Tensor target, Tensor factor);

        /** {@code target += x} ({@code x} broadcast to the target's shape). */
        void addInPlace(Tensor target, Tensor x);

        /** {@code target -= x} ({@code x} broadcast to the target's shape). */
        void subInPlace(Tensor target, Tensor x);

        /**
         * Says the kernel will not read a tensor it computed again, so an eager engine frees it now
         * instead of when the kernel returns and can reuse its memory for the next temporary; a
         * graph engine ignores it.
         *
         * @param computed a tensor the kernel computed (not a value, gradient, slot, hyper or scalar)
         */
        default void release(Tensor computed) {
        }

        /**
         * @param x a tensor
         * @return the sum of its squared elements (rank 0); engines may reduce without the
         *     element-wise square as a temporary
         */
        default Tensor squaredNorm(Tensor x) {
            return sumAll(mul(x, x));
        }

        /**
         * One AdamW step on the kernel's parameter in a single fused pass, where the engine has such a
         * kernel ({@code torch.optim.AdamW(fused=True)}'s): with {@code g = gradient / gradientDivisor},
         * {@code value *= 1 - lr*weightDecay}, {@code m = beta1*m + (1-beta1)*g}, {@code v = beta2*v +
         * (1-beta2)*g*g}, {@code value -= lr/(1-beta1^step) * m / (sqrt(v)/sqrt(1-beta2^step) + epsilon)}.
         * Each argument names a {@linkplain #hyper hyper}. An engine without the kernel returns false
         * and changes nothing: the caller then composes the same step from the ops above (the
         * default).
         *
         * @param p the kernel's parameter (its value, gradient and the two moment slots are updated)
         * @param hypers the hypers holding the step's scalars
         * @return true when the step was applied
         */
        @API(status = API.Status.EXPERIMENTAL, since = "0.2")
        default boolean fusedAdamW(Parameter p, AdamWHypers hypers) {
            return false;
        }

        /**
         * The names of the hypers a {@link #fusedAdamW} step reads.
         *
         * @param firstMoment the slot of the first moments
         * @param secondMoment the slot of the second moments
         * @param learningRate hyper: the learning rate
         * @param weightDecay hyper: the decoupled weight decay (0 for parameters not decayed)
         * @param beta1 hyper: the first moments' decay
         * @param beta2 hyper: the second moments' decay
         * @param epsilon hyper: added to the bias-corrected {@code sqrt(v)}
         * @param step hyper: the step count the bias corrections use (1 on the first step)
         * @param gradientDivisor hyper: what the gradient is divided by (a loss scale over the clip
         *     coefficient; 1 leaves it as it is)
         */
        @API(status = API.Status.EXPERIMENTAL, since = "0.2")
        record AdamWHypers(String firstMoment, String secondMoment, String learningRate, String weightDecay,
                String beta1, String beta2, String epsilon, String step, String gradientDivisor) {}
    }

    /** A computation applied to each trained parameter. */
    @API(status = API.Status.EXPERIMENTAL, since = "0.1")
    @FunctionalInterface
    interface Kernel {
        /**
         * @param ops the parameter's tensors and the ops to update them with
         * @param p the parameter
         * @return a rank-0 FLOAT32 tensor to add to the program's result, or null
         */
        Tensor apply(UpdateOps ops, Parameter p);
    }

    /** A compiled {@link Kernel}. */
    @API(status = API.Status.EXPERIMENTAL, since = "0.1")
    @FunctionalInterface
    interface Program {
        /**
         * Applies the kernel to every active parameter: trained, not paused, with a gradient since
         * the last {@link #clearGradients()}.
         *
         * @param hypers a value for every {@link UpdateOps#hyper hyper} the kernel reads (more are ignored)
         * @return the sum of what the kernel returned over the active parameters, read back to the
         *     host (float32 arithmetic on the engine); 0 when none returned a tensor
         * @throws IllegalArgumentException when a hyper the kernel reads has no value
         */
        double run(Map<String, Double> hypers);
    }
}
