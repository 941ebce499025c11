package dev.attune.engine.pytorch;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.engine.PtNDManager;
import ai.djl.pytorch.jni.JniUtils;
import dev.attune.engine.Batch;
import dev.attune.engine.OptimizerSettings;
import dev.attune.engine.OptimizerState;
import dev.attune.engine.TrainingSession;
import dev.attune.error.EngineException;
import dev.attune.error.InvalidCheckpointException;
import dev.attune.ops.DType;
import dev.attune.ops.Parameter;
import dev.attune.ops.Tensor;
import dev.attune.ops.TensorData;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Training on libtorch: autograd accumulates gradients across {@link #forwardBackward} calls; {@link
 * #step} clips them to a global L2 norm and applies AdamW with the exact arithmetic of {@code
 * torch.optim.AdamW} (decoupled decay {@code p *= 1 - lr*wd}, bias-corrected moments, {@code eps}
 * added after dividing {@code sqrt(v)} by {@code sqrt(1 - beta2^t)}). DJL's optimizers are not used:
 * they decay every parameter and clip per element.
 */
final class PtTrainingSession implements TrainingSession {
    private final PtLoweredModel model;
    private final OptimizerSettings settings;
    private final PtNDManager state;
    private final List<Slot> slots = new ArrayList<>();
    private long steps;
    private boolean open = true;
    private boolean hasGradients;
    private Set<String> paused = Set.of();

    /** One trainable parameter and its Adam moments; its current value is {@link #value(Slot)}. */
    private record Slot(Parameter parameter, PtNDArray m, PtNDArray v) {}

    /** The parameter's handle, held by the model (it changes after every step, see {@link #releaseGradients}). */
    private PtNDArray value(Slot s) {
        return model.value(s.parameter());
    }

    PtTrainingSession(PtLoweredModel model, OptimizerSettings settings) {
        this.model = model;
        this.settings = settings;
        this.state = (PtNDManager) model.root().newSubManager();
        for (Parameter p : model.definition().parameters().all()) {
            PtNDArray value = model.value(p);
            if (settings.frozen().contains(p.name())) {
                JniUtils.attachGradient(value, false);
                continue;
            }
            JniUtils.attachGradient(value, true);
            PtNDArray m = (PtNDArray) state.zeros(value.getShape());
            PtNDArray v = (PtNDArray) state.zeros(value.getShape());
            slots.add(new Slot(p, m, v));
        }
    }

    boolean isOpen() {
        return open;
    }

    @Override
    public float forwardBackward(Batch batch, float lossScale) {
        ensureOpen();
        boolean grad = JniUtils.isGradMode();
        JniUtils.setGradMode(true);
        try (PtNDManager step = (PtNDManager) model.root().newSubManager()) {
            EagerOps ops = new EagerOps(step, model::value, true);
            Map<String, Tensor> out = model.forward(ops, step, batch);
            Tensor lossT = out.get("loss");
            if (lossT == null) {
                throw new EngineException(
                        model.definition().architecture() + " returned no 'loss': the batch needs labels");
            }
            PtNDArray loss = EagerOps.a(lossT);
            float value = loss.toFloatArray()[0];
            PtNDArray seed = (PtNDArray) step.full(loss.getShape(), lossScale, loss.getDataType());
            JniUtils.backward(loss, seed, false, false);
            hasGradients = true;
            return value;
        } finally {
            JniUtils.setGradMode(grad);
        }
    }

    @Override
    public float step(double learningRate) {
        ensureOpen();
        if (!hasGradients) {
            throw new IllegalStateException("step() without a forwardBackward() since the last step");
        }
        boolean grad = JniUtils.isGradMode();
        JniUtils.setGradMode(false);
        try (PtNDManager tmp = (PtNDManager) state.newSubManager()) {
            List<PtNDArray> grads = new ArrayList<>(slots.size());
            PtNDArray sumSq = null;
            for (Slot s : slots) {
                PtNDArray g = paused.contains(s.parameter().name()) ? null : JniUtils.getGradient(value(s));
                if (g == null) {
                    grads.add(null);
                    continue;
                }
                g.attach(tmp);
                grads.add(g);
                PtNDArray n = JniUtils.norm(g, 2, allAxes(g), false);
                n.attach(tmp);
                PtNDArray sq = JniUtils.mul(n, n);
                sq.attach(tmp);
                if (sumSq == null) {
                    sumSq = sq;
                } else {
                    PtNDArray next = JniUtils.add(sumSq, sq);
                    next.attach(tmp);
                    sumSq = next;
                }
            }
            float norm = sumSq == null ? 0f : (float) Math.sqrt(sumSq.toFloatArray()[0]);
            if (!Float.isFinite(norm)) {
                releaseGradients();
                steps++;
                return norm;
            }
            double clip = 1.0;
            if (settings.maxGradNorm() > 0) {
                clip = Math.min(1.0, settings.maxGradNorm() / (norm + 1e-6));
            }
            steps++;
            double bc1 = 1 - Math.pow(settings.beta1(), steps);
            double sqrtBc2 = Math.sqrt(1 - Math.pow(settings.beta2(), steps));
            double b1 = settings.beta1();
            double b2 = settings.beta2();
            // The clipping coefficient rides on the moment scalars instead of a pass over the gradient:
            // m = b1*m + ((1-b1)*c)*g and v = b2*v + ((1-b2)*c^2)*g*g, which is torch's update of the
            // clipped gradient c*g. sqrt(1-b2^t) is folded the same way:
            // lr/bc1 * m / (sqrt(v)/sqrt(bc2) + eps) = (lr*sqrt(bc2)/bc1) * m / (sqrt(v) + eps*sqrt(bc2)).
            PtNDArray mScale = scalar(tmp, (float) ((1 - b1) * clip));
            PtNDArray vScale = scalar(tmp, (float) ((1 - b2) * clip * clip));
            PtNDArray b1S = scalar(tmp, (float) b1);
            PtNDArray b2S = scalar(tmp, (float) b2);
            PtNDArray epsS = scalar(tmp, (float) (settings.epsilon() * sqrtBc2));
            Map<Double, PtNDArray[]> byScale = new java.util.HashMap<>();
            for (int i = 0; i < slots.size(); i++) {
                Slot s = slots.get(i);
                PtNDArray g = grads.get(i);
                if (g == null) {
                    continue;
                }
                // one learning rate per parameter group, as PyTorch's param_groups with their own lr
                double lr = learningRate * settings.learningRateScale(s.parameter().name());
                PtNDArray[] lrScalars = byScale.computeIfAbsent(lr, r -> new PtNDArray[] {
                    scalar(tmp, (float) (1 - r * settings.weightDecay())), scalar(tmp, (float) (r * sqrtBc2 / bc1))});
                PtNDArray decayS = lrScalars[0];
                PtNDArray stepSize = lrScalars[1];
                if (s.parameter().decay() && settings.weightDecay() != 0) {
                    JniUtils.muli(value(s), decayS);
                }
                // v = b2*v + (1-b2)c^2 * g*g
                PtNDArray gg = JniUtils.mul(g, g);
                gg.attach(tmp);
                JniUtils.muli(gg, vScale);
                JniUtils.muli(s.v(), b2S);
                JniUtils.addi(s.v(), gg);
                gg.close();
                // m = b1*m + (1-b1)c * g; the gradient is scaled in place, it is released after the step
                JniUtils.muli(g, mScale);
                JniUtils.muli(s.m(), b1S);
                JniUtils.addi(s.m(), g);
                // p -= (lr*sqrt(bc2)/bc1) * m / (sqrt(v) + eps*sqrt(bc2))
                PtNDArray denom = JniUtils.sqrt(s.v());
                denom.attach(tmp);
                JniUtils.addi(denom, epsS);
                PtNDArray update = JniUtils.div(s.m(), denom);
                update.attach(tmp);
                denom.close();
                JniUtils.muli(update, stepSize);
                JniUtils.subi(value(s), update);
                update.close();
            }
            releaseGradients();
            return norm;
        } finally {
            JniUtils.setGradMode(grad);
        }
    }

    @Override
    public OptimizerState optimizerState() {
        ensureOpen();
        Map<String, TensorData> tensors = new LinkedHashMap<>();
        for (Slot s : slots) {
            tensors.put(OptimizerState.FIRST_MOMENT + s.parameter().name(), PtLoweredModel.toHost(s.m()));
        }
        for (Slot s : slots) {
            tensors.put(OptimizerState.SECOND_MOMENT + s.parameter().name(), PtLoweredModel.toHost(s.v()));
        }
        return new OptimizerState(steps, tensors);
    }

    @Override
    public void restore(Map<String, TensorData> parameters, OptimizerState state) {
        ensureOpen();
        boolean grad = JniUtils.isGradMode();
        JniUtils.setGradMode(false);
        try {
            for (Parameter p : model.definition().parameters().all()) {
                copyInto(model.value(p), parameters.get(p.name()), "parameter " + p.name());
            }
            for (Slot s : slots) {
                String name = s.parameter().name();
                copyInto(s.m(), state.tensors().get(OptimizerState.FIRST_MOMENT + name),
                        "optimizer tensor " + OptimizerState.FIRST_MOMENT + name);
                copyInto(s.v(), state.tensors().get(OptimizerState.SECOND_MOMENT + name),
                        "optimizer tensor " + OptimizerState.SECOND_MOMENT + name);
            }
            releaseGradients();
            steps = state.steps();
        } finally {
            JniUtils.setGradMode(grad);
        }
    }

    /**
     * Overwrites a tensor's values in place, bit for bit (a copy, no arithmetic, so -0.0 and NaN survive).
     *
     * <p>The bytes go into a temporary tensor that DJL ties to its buffer, and from there into the
     * target's own storage with an indexed copy. DJL's {@code JniUtils.set} must not be used: it makes
     * the target's storage point at the Java buffer without owning it, so once the buffer is garbage
     * collected the tensor reads freed memory (a resumed run turned NaN a few steps later).
     */
    private static void copyInto(PtNDArray target, TensorData data, String what) {
        if (data == null) {
            throw new InvalidCheckpointException("the checkpoint has no " + what + "; it was written for another model "
                    + "or other frozen parameters: resume with the settings of the run that wrote it");
        }
        long[] shape = target.getShape().getShape();
        if (!Arrays.equals(shape, data.shape())) {
            throw new InvalidCheckpointException("the checkpoint's " + what + " has shape " + Arrays.toString(data.shape())
                    + " but the model has " + Arrays.toString(shape));
        }
        TensorData f32 = data.dtype() == DType.FLOAT32 ? data : data.toFloat32();
        ByteBuffer src = f32.buffer().duplicate().order(ByteOrder.LITTLE_ENDIAN);
        ByteBuffer direct = ByteBuffer.allocateDirect(src.remaining()).order(ByteOrder.nativeOrder());
        if (ByteOrder.nativeOrder() == ByteOrder.LITTLE_ENDIAN) {
            direct.put(src);
        } else {
            while (src.hasRemaining()) {
                direct.putFloat(src.getFloat());
            }
        }
        direct.rewind();
        try (NDManager scratch = target.getManager().newSubManager()) {
            NDArray values = scratch.create(direct, target.getShape(), DataType.FLOAT32).toDevice(target.getDevice(), false);
            target.set(new NDIndex("..."), values);
        }
    }

    @Override
    public void reseed(long seed) {
        JniUtils.setSeed(seed);
    }

    @Override
    public void setFrozen(Set<String> names) {
        ensureOpen();
        Set<String> next = new HashSet<>(names);
        for (Slot s : slots) {
            boolean freeze = next.contains(s.parameter().name());
            if (freeze != paused.contains(s.parameter().name())) {
                JniUtils.zeroGrad(value(s));
                JniUtils.attachGradient(value(s), !freeze);
            }
        }
        paused = Set.copyOf(next);
    }

    /**
     * Drops the gradients, as PyTorch's {@code zero_grad(set_to_none=True)}: each trainable parameter
     * is replaced by a detached alias of its storage that requires a gradient and has none yet, so
     * the next backward pass hands its gradient over instead of adding it to a zeroed one (no fill
     * and no accumulation pass over every parameter), and a parameter that gets no gradient is left
     * alone by the next step, as torch's optimizers skip parameters whose grad is None.
     */
    private void releaseGradients() {
        for (Slot s : slots) {
            if (paused.contains(s.parameter().name())) {
                continue;
            }
            PtNDArray old = value(s);
            PtNDArray fresh = JniUtils.detachGradient(old);
            JniUtils.attachGradient(fresh, true);
            model.replace(s.parameter(), fresh);
            old.close();
        }
        hasGradients = false;
    }

    private static PtNDArray scalar(PtNDManager m, float v) {
        return (PtNDArray) m.create(v);
    }

    private static int[] allAxes(PtNDArray a) {
        int[] axes = new int[a.getShape().dimension()];
        for (int i = 0; i < axes.length; i++) {
            axes[i] = i;
        }
        return axes;
    }

    @Override
    public long steps() {
        return steps;
    }

    private void ensureOpen() {
        if (!open) {
            throw new IllegalStateException("training session is closed");
        }
    }

    @Override
    public void close() {
        if (!open) {
            return;
        }
        open = false;
        for (Slot s : slots) {
            JniUtils.attachGradient(value(s), false);
        }
        state.close();
    }
}
