package dev.attune.engine.pytorch;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.engine.PtNDManager;
import ai.djl.pytorch.jni.JniUtils;
import dev.attune.engine.Batch;
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
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Training on libtorch: autograd accumulates gradients across {@link #forwardBackward} calls; a
 * compiled program calls its kernel eagerly on each active parameter, every in-place op one libtorch
 * call on the tensor itself ({@code mul_}, {@code add_}, {@code sub_}), each temporary freed when
 * the kernel releases it or at the latest when it returns. Gradients are dropped as {@code zero_grad(set_to_none=True)} drops
 * them, so a parameter without a gradient is skipped by the next program.
 */
final class PtTrainingSession implements TrainingSession {
    private final PtLoweredModel model;
    private final PtNDManager state;
    private final List<String> slotNames;
    private final List<Slot> slots = new ArrayList<>();
    private final List<Parameter> trained = new ArrayList<>();
    private boolean open = true;
    private Set<String> paused = Set.of();
    private boolean checkpointing;
    /** Tests only: training passes on batches of the sizes it accepts fail as libtorch's allocator fails. */
    static volatile java.util.function.IntPredicate allocationFault;

    /** One trained parameter and its optimizer state, one tensor per slot name; its value is {@link #value(Slot)}. */
    private record Slot(Parameter parameter, PtNDArray[] state) {}

    /** The parameter's handle, held by the model (it changes after every step, see {@link #clearGradients}). */
    private PtNDArray value(Slot s) {
        return model.value(s.parameter());
    }

    PtTrainingSession(PtLoweredModel model, Set<String> frozen, List<String> slotNames) {
        this.model = model;
        this.slotNames = List.copyOf(slotNames);
        if (this.slotNames.size() != Set.copyOf(this.slotNames).size()) {
            throw new IllegalArgumentException("slot names repeat: " + slotNames);
        }
        this.state = (PtNDManager) model.root().newSubManager();
        for (Parameter p : model.definition().parameters().all()) {
            PtNDArray value = model.value(p);
            if (frozen.contains(p.name())) {
                JniUtils.attachGradient(value, false);
                continue;
            }
            JniUtils.attachGradient(value, true);
            PtNDArray[] tensors = new PtNDArray[this.slotNames.size()];
            for (int i = 0; i < tensors.length; i++) {
                tensors[i] = (PtNDArray) state.zeros(value.getShape());
            }
            slots.add(new Slot(p, tensors));
            trained.add(p);
        }
    }

    boolean isOpen() {
        return open;
    }

    @Override
    public List<Parameter> parameters() {
        return Collections.unmodifiableList(trained);
    }

    @Override
    public float forwardBackward(Batch batch, float lossScale) {
        ensureOpen();
        model.applyThreads();
        boolean grad = JniUtils.isGradMode();
        JniUtils.setGradMode(true);
        try (PtNDManager step = (PtNDManager) model.root().newSubManager()) {
            PtNDManager forward = (PtNDManager) step.newSubManager();
            EagerOps ops = new EagerOps(forward, model::value, true).autocast(model.computeType());
            if (checkpointing) {
                ops.checkpointing();
            }
            Map<String, Tensor> out = model.forward(ops, forward, batch);
            java.util.function.IntPredicate fault = allocationFault;
            if (fault != null && fault.test(batch.size())) {
                throw new ai.djl.engine.EngineException("DefaultCPUAllocator: can't allocate memory: you tried to"
                        + " allocate a tensor for " + batch.size() + " rows (injected by a test)");
            }
            Tensor lossT = out.get("loss");
            if (lossT == null) {
                throw new EngineException(
                        model.definition().architecture() + " returned no 'loss': the batch needs labels");
            }
            PtNDArray loss = EagerOps.a(lossT);
            if (!LowPrecision.isFloat32(loss)) {
                loss = ops.own(LowPrecision.up(loss, true, forward)).a(); // autocast: the loss and its seed in float32
            }
            float value = loss.toFloatArray()[0];
            long after = ops.endForward();
            loss.attach(step);
            if (!checkpointing) {
                // Every intermediate's handle is dropped before the backward pass: autograd holds what it
                // saved for backward and frees each as the pass goes by, as torch does, instead of every
                // activation living until the step's end next to the gradients being computed.
                forward.close();
            }
            PtNDArray seed = (PtNDArray) step.full(loss.getShape(), lossScale, loss.getDataType());
            JniUtils.backward(loss, seed, false, false);
            ops.backwardCheckpoints();
            JniUtils.setSeed(after);
            forward.close();
            return value;
        } catch (ai.djl.engine.EngineException e) {
            if (isOutOfMemory(e)) {
                throw outOfMemory(batch, e);
            }
            throw e;
        } catch (OutOfMemoryError e) {
            throw outOfMemory(batch, e);
        } finally {
            JniUtils.setGradMode(grad);
        }
    }

    /** libtorch's allocation failures, as DJL reports them: the CPU allocator's and CUDA's messages. */
    static boolean isOutOfMemory(Throwable e) {
        String m = String.valueOf(e.getMessage());
        return m.contains("can't allocate memory") || m.contains("out of memory") || m.contains("Out of memory")
                || m.contains("OutOfMemory");
    }

    private static EngineException.OutOfMemory outOfMemory(Batch batch, Throwable cause) {
        return new EngineException.OutOfMemory("out of memory in a training step on a batch of " + batch.size()
                + " rows (" + cause.getMessage() + "); use a smaller batch, gradient checkpointing"
                + " (--gradient-checkpointing) or --auto-find-batch-size", cause);
    }

    @Override
    public boolean setGradientCheckpointing(boolean enabled) {
        ensureOpen();
        checkpointing = enabled;
        return true;
    }

    @Override
    public Program compile(Kernel kernel) {
        ensureOpen();
        return hypers -> run(kernel, hypers);
    }

    /** Calls the kernel on every active parameter, outside autograd; sums what it returns on the device. */
    private double run(Kernel kernel, Map<String, Double> hypers) {
        ensureOpen();
        model.applyThreads();
        boolean grad = JniUtils.isGradMode();
        JniUtils.setGradMode(false);
        try (PtNDManager run = (PtNDManager) state.newSubManager()) {
            Update ops = new Update(run, hypers);
            PtNDArray sum = null;
            for (Slot s : slots) {
                if (paused.contains(s.parameter().name())) {
                    continue;
                }
                PtNDArray g = JniUtils.getGradient(value(s));
                if (g == null) {
                    continue; // no gradient since the last clear: skipped, as torch skips grad None
                }
                g.attach(run);
                ops.bind(s, g);
                try {
                    Tensor r = kernel.apply(ops, s.parameter());
                    if (r != null) {
                        PtNDArray x = ops.keep(r);
                        if (x.getShape().dimension() != 0) {
                            throw new IllegalStateException("a kernel returns a rank-0 tensor; for "
                                    + s.parameter().name() + " it returned shape " + x.getShape());
                        }
                        if (sum == null) {
                            sum = x;
                        } else {
                            PtNDArray next = JniUtils.add(sum, x);
                            next.attach(run);
                            sum = next;
                        }
                    }
                } finally {
                    ops.release();
                }
            }
            ops.flushFused();
            return sum == null ? 0 : sum.toFloatArray()[0];
        } finally {
            JniUtils.setGradMode(grad);
        }
    }

    /** Parameters whose fused AdamW step waits for the end of the run, with their gradients and moments. */
    private static final class FusedGroup {
        final List<PtNDArray> values = new ArrayList<>();
        final List<PtNDArray> gradients = new ArrayList<>();
        final List<PtNDArray> firstMoments = new ArrayList<>();
        final List<PtNDArray> secondMoments = new ArrayList<>();
    }

    /**
     * The update ops for one run: the eager ops on the run's manager, bound to one parameter at a
     * time. Every result is a temporary closed when the kernel returns; hypers become scalars once per
     * run.
     */
    private final class Update extends EagerOps implements UpdateOps {
        private final PtNDManager run;
        private final Map<String, Double> values;
        private final Map<String, PtNDArray> hypers = new HashMap<>();
        /** Tensors an in-place op must not change: hypers and scalars, shared by every parameter of the run. */
        private final Set<PtNDArray> shared = Collections.newSetFromMap(new IdentityHashMap<>());
        private final List<PtNDArray> temporaries = new ArrayList<>();
        /** Fused AdamW steps queued in this run, by the hypers they read (insertion order kept). */
        private final Map<AdamWHypers, FusedGroup> fused = new java.util.LinkedHashMap<>();
        private Slot slot;
        private PtNDArray gradient;

        Update(PtNDManager run, Map<String, Double> values) {
            super(run, model::value, false);
            this.run = run;
            this.values = values;
        }

        void bind(Slot s, PtNDArray g) {
            slot = s;
            gradient = g;
        }

        @Override
        T own(PtNDArray r) {
            T t = super.own(r);
            temporaries.add(r);
            return t;
        }

        /** @return where a tensor is among the temporaries, by identity (PtNDArray.equals compares contents), or -1 */
        private int temporary(PtNDArray r) {
            int at = temporaries.size() - 1;
            while (at >= 0 && temporaries.get(at) != r) {
                at--;
            }
            return at;
        }

        /** Moves the kernel's result out of its temporaries, to the run's manager. */
        PtNDArray keep(Tensor t) {
            PtNDArray r = a(t);
            int at = temporary(r);
            if (at >= 0) {
                temporaries.remove(at);
            } else {
                // not computed by the kernel (a hyper, a state tensor): a copy the sum may own
                r = JniUtils.clone(r);
                r.attach(run);
            }
            return r;
        }

        @Override
        public void release(Tensor computed) {
            PtNDArray r = a(computed);
            int at = temporary(r);
            if (at < 0) {
                throw new IllegalArgumentException("release takes a tensor the kernel computed, not a value, gradient,"
                        + " slot, hyper or scalar");
            }
            temporaries.remove(at).close();
        }

        void release() {
            for (PtNDArray t : temporaries) {
                t.close();
            }
            temporaries.clear();
            slot = null;
            gradient = null;
        }

        private Slot bound(Parameter p) {
            if (slot == null || !slot.parameter().equals(p)) {
                throw new IllegalArgumentException("a kernel reads only its own parameter, not " + p.name());
            }
            return slot;
        }

        @Override
        public Tensor parameter(Parameter p) {
            return new T(value(bound(p)));
        }

        @Override
        public Tensor gradient(Parameter p) {
            bound(p);
            return new T(gradient);
        }

        @Override
        public Tensor slot(String name, Parameter p) {
            int i = slotNames.indexOf(name);
            if (i < 0) {
                throw new IllegalArgumentException("no optimizer slot '" + name + "'; the session has " + slotNames);
            }
            return new T(bound(p).state()[i]);
        }

        @Override
        public Tensor hyper(String name) {
            PtNDArray h = hypers.get(name);
            if (h == null) {
                Double v = values.get(name);
                if (v == null) {
                    throw new IllegalArgumentException("the program reads hyper '" + name + "' but the run gave only "
                            + values.keySet());
                }
                h = (PtNDArray) run.create(v.floatValue());
                hypers.put(name, h);
                shared.add(h);
            }
            return new T(h);
        }

        @Override
        public Tensor scalar(float value) {
            Tensor s = super.scalar(value);
            shared.add(a(s));
            return s;
        }

        private PtNDArray target(Tensor t) {
            PtNDArray a = a(t);
            if (shared.contains(a)) {
                throw new IllegalArgumentException("an in-place op cannot change a hyper or a scalar");
            }
            return a;
        }

        @Override
        public void mulInPlace(Tensor target, Tensor factor) {
            JniUtils.muli(target(target), a(factor));
        }

        @Override
        public void addInPlace(Tensor target, Tensor x) {
            JniUtils.addi(target(target), a(x));
        }

        @Override
        public void subInPlace(Tensor target, Tensor x) {
            JniUtils.subi(target(target), a(x));
        }

        /**
         * libtorch's fused AdamW kernel ({@link FusedAdamW}): one pass, no temporaries. The divisor is
         * left out when it is 1 (no unscaling pass at all). The step is queued with the other
         * parameters that read the same hypers and applied in one call when the run has visited every
         * parameter ({@link #flushFused}): nothing reads a parameter in between.
         */
        @Override
        public boolean fusedAdamW(Parameter p, AdamWHypers h) {
            Slot s = bound(p);
            PtNDArray value = value(s);
            if (!LowPrecision.isFloat32(value) || !LowPrecision.isFloat32(gradient) || !FusedAdamW.available()) {
                return false;
            }
            for (String hyper : List.of(h.gradientDivisor(), h.learningRate(), h.weightDecay(), h.beta1(), h.beta2(),
                    h.epsilon(), h.step())) {
                hyperValue(hyper); // a missing hyper fails here, naming it, not at the flush
            }
            FusedGroup group = fused.computeIfAbsent(h, k -> new FusedGroup());
            group.values.add(value);
            group.gradients.add(gradient);
            group.firstMoments.add(a(slot(h.firstMoment(), p)));
            group.secondMoments.add(a(slot(h.secondMoment(), p)));
            return true;
        }

        /** Applies the queued fused steps, one kernel call per set of hypers. */
        void flushFused() {
            try {
                for (Map.Entry<AdamWHypers, FusedGroup> e : fused.entrySet()) {
                    AdamWHypers h = e.getKey();
                    FusedGroup g = e.getValue();
                    double divisor = hyperValue(h.gradientDivisor());
                    boolean ran = FusedAdamW.applyAll(g.values, g.gradients, g.firstMoments, g.secondMoments,
                            a(hyper(h.step())), divisor == 1.0 ? null : a(hyper(h.gradientDivisor())),
                            hyperValue(h.learningRate()), hyperValue(h.weightDecay()), hyperValue(h.beta1()),
                            hyperValue(h.beta2()), hyperValue(h.epsilon()));
                    if (!ran) {
                        // the module loaded (available() said so) but libtorch refused the call: the step
                        // is lost for these parameters, so fail rather than train on silently
                        throw new IllegalStateException("libtorch refused the fused AdamW step for " + g.values.size()
                                + " parameters; run with -D" + FusedAdamW.DISABLE + "=true to compose it instead");
                    }
                }
            } finally {
                fused.clear();
            }
        }

        private double hyperValue(String hyper) {
            Double v = values.get(hyper);
            if (v == null) {
                throw new IllegalArgumentException("the program reads hyper '" + hyper + "' but the run gave only "
                        + values.keySet());
            }
            return v;
        }

        /** The 2-norm reduced by libtorch and squared: no element-wise square as a temporary. */
        @Override
        public Tensor squaredNorm(Tensor x) {
            PtNDArray in = a(x);
            PtNDArray n = own(JniUtils.norm(in, 2, allAxes(in), false)).a();
            return own(JniUtils.mul(n, n));
        }
    }

    @Override
    public void clearGradients() {
        ensureOpen();
        releaseGradients();
    }

    @Override
    public Map<String, TensorData> slots() {
        ensureOpen();
        Map<String, TensorData> tensors = new LinkedHashMap<>();
        for (int i = 0; i < slotNames.size(); i++) {
            for (Slot s : slots) {
                tensors.put(slotNames.get(i) + "/" + s.parameter().name(), PtLoweredModel.toHost(s.state()[i]));
            }
        }
        return tensors;
    }

    @Override
    public void restore(Map<String, TensorData> parameters, Map<String, TensorData> state) {
        ensureOpen();
        // every tensor checked before any is written, so a bad checkpoint leaves the model as it was
        List<PtNDArray> targets = new ArrayList<>();
        List<TensorData> values = new ArrayList<>();
        for (Parameter p : model.definition().parameters().all()) {
            if (!parameters.containsKey(p.name()) && !trained.contains(p)) {
                continue; // not trained here: keeps its value (a LoRA checkpoint holds what trains only)
            }
            PtNDArray target = model.value(p);
            targets.add(target);
            values.add(checked(target, parameters.get(p.name()), "parameter " + p.name()));
        }
        for (int i = 0; i < slotNames.size(); i++) {
            for (Slot s : slots) {
                String key = slotNames.get(i) + "/" + s.parameter().name();
                targets.add(s.state()[i]);
                values.add(checked(s.state()[i], state.get(key), "optimizer tensor " + key));
            }
        }
        boolean grad = JniUtils.isGradMode();
        JniUtils.setGradMode(false);
        try {
            for (int i = 0; i < targets.size(); i++) {
                copyInto(targets.get(i), values.get(i));
            }
            releaseGradients();
        } finally {
            JniUtils.setGradMode(grad);
        }
    }

    private static TensorData checked(PtNDArray target, TensorData data, String what) {
        if (data == null) {
            throw new InvalidCheckpointException("the checkpoint has no " + what + "; it was written for another model "
                    + "or other frozen parameters: resume with the settings of the run that wrote it");
        }
        long[] shape = target.getShape().getShape();
        if (!Arrays.equals(shape, data.shape())) {
            throw new InvalidCheckpointException("the checkpoint's " + what + " has shape " + Arrays.toString(data.shape())
                    + " but the model has " + Arrays.toString(shape));
        }
        return data;
    }

    /**
     * Overwrites a tensor's values in place, bit for bit (a copy, no arithmetic, so -0.0 and NaN survive).
     *
     * <p>The bytes go into a temporary tensor that DJL ties to its buffer, and from there into the
     * target's own storage with an indexed copy. DJL's {@code JniUtils.set} must not be used: it makes
     * the target's storage point at the Java buffer without owning it, so once the buffer is garbage
     * collected the tensor reads freed memory (a resumed run turned NaN a few steps later).
     */
    private static void copyInto(PtNDArray target, TensorData data) {
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
     * alone by the next program, as torch's optimizers skip parameters whose grad is None.
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
    }

    private static int[] allAxes(PtNDArray a) {
        int[] axes = new int[a.getShape().dimension()];
        for (int i = 0; i < axes.length; i++) {
            axes[i] = i;
        }
        return axes;
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
