package dev.attune.engine.pytorch;

import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.engine.PtNDManager;
import ai.djl.pytorch.jni.JniUtils;
import dev.attune.ops.DType;
import dev.attune.ops.Ops;
import dev.attune.ops.Parameter;
import dev.attune.ops.Tensor;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * The ops contract lowered to eager libtorch calls through DJL's JNI layer. Every result is owned by
 * one step manager that the caller closes after the step, so no intermediate outlives its step.
 *
 * <p>Engine quirks live here: DJL attaches a result to the manager of its first operand, so results
 * computed from parameters are moved to the step manager; scalars are cached per step so a constant
 * costs one native allocation.
 */
class EagerOps implements Ops {
    /** An eager value. */
    record T(PtNDArray a) implements Tensor {}

    /** Holds the cached scalars and, outside a checkpointed segment, every result. */
    private final PtNDManager step;
    /** Where results go: the step manager, or the manager of the checkpointed segment being run. */
    private PtNDManager results;
    private final Function<Parameter, PtNDArray> params;
    private final boolean training;
    private final Map<Float, PtNDArray> scalars = new HashMap<>();
    /** Autocast's low-precision type for matrix products and attention; null runs everything in float32. */
    private DType low;
    /** Casts made this step, by input (a weight or an activation read by several products is cast once). */
    private final Map<PtNDArray, PtNDArray> lowCasts = new IdentityHashMap<>();
    /** Segments recomputed in backward passes, all sessions together: tests read it to see checkpointing happen. */
    static final java.util.concurrent.atomic.AtomicLong RECOMPUTED_SEGMENTS = new java.util.concurrent.atomic.AtomicLong();

    /** Non-null while training with gradient checkpointing: the segments run so far, in order. */
    private List<Checkpointed> checkpointed;

    /** A segment run without recording, its input, its output (a leaf), and the seed its dropout drew from. */
    private record Checkpointed(Segment segment, PtNDArray input, PtNDArray output, long seed) {}

    EagerOps(PtNDManager step, Function<Parameter, PtNDArray> params, boolean training) {
        this.step = step;
        this.results = step;
        this.params = params;
        this.training = training;
    }

    /**
     * Autocast, as {@code torch.autocast}: matrix products ({@link #linear}, {@link #matmul}) and
     * attention run in {@code type}, their inputs (float32 weights included) cast down on the native
     * side; softmax, log-softmax and layer norm compute in float32, whatever their input; every other
     * op follows torch's type promotion (a low-precision product plus a float32 residual is float32).
     *
     * @param type BFLOAT16 or FLOAT16; FLOAT32 or null turns autocast off
     * @return these ops
     */
    EagerOps autocast(DType type) {
        low = type == null || type == DType.FLOAT32 ? null : type;
        return this;
    }

    /** @return x in autocast's low precision (cast once per step per input) */
    private PtNDArray lowered(PtNDArray x) {
        if (!LowPrecision.isFloat32(x)) {
            return x; // already low (the output of a product), or not a float tensor
        }
        PtNDArray cast = lowCasts.get(x);
        if (cast == null) {
            cast = LowPrecision.down(x, low, training, results);
            lowCasts.put(x, cast);
        }
        return cast;
    }

    /** @return x in float32 when autocast is on and x is not (norms and softmax compute in float32) */
    private PtNDArray widened(PtNDArray x) {
        if (low == null || LowPrecision.isFloat32(x) || !LowPrecision.isFloatingPoint(x)) {
            return x;
        }
        return own(LowPrecision.up(x, training, results)).a();
    }

    /** Turns gradient checkpointing on for this forward pass (training only); see {@link #backwardCheckpoints}. */
    EagerOps checkpointing() {
        if (training) {
            checkpointed = new ArrayList<>();
        }
        return this;
    }

    /**
     * While training, every segment first reseeds the generator with a seed drawn from it, with or
     * without checkpointing, so a recomputation can replay the segment's dropout masks exactly (DJL
     * gives no access to the generator's state) and both ways draw the same masks. With
     * checkpointing, the segment runs without recording on a manager of its own that is closed when
     * it returns, and its output becomes a leaf that requires a gradient: the graph after it ends
     * there, and {@link #backwardCheckpoints} carries the gradient through the segment later.
     */
    @Override
    public Tensor checkpoint(Segment segment, Tensor x) {
        if (!training) {
            return segment.apply(this, x);
        }
        long seed = drawSeed();
        JniUtils.setSeed(seed);
        if (checkpointed == null) {
            return scoped(segment, x);
        }
        PtNDManager outer = results;
        boolean grad = JniUtils.isGradMode();
        PtNDArray output;
        try (PtNDManager own = (PtNDManager) step.newSubManager()) {
            results = own;
            JniUtils.setGradMode(false);
            PtNDArray y = a(segment.apply(this, x));
            output = JniUtils.detachGradient(y);
            output.attach(step);
        } finally {
            results = outer;
            JniUtils.setGradMode(grad);
            lowCasts.clear(); // autocast's casts made in the segment went with its manager
        }
        JniUtils.attachGradient(output, true);
        PtNDArray input = a(x);
        checkpointed.add(new Checkpointed(segment, input, output, seed));
        return new T(output);
    }

    /**
     * Runs a segment on a manager of its own and keeps only its output: every other handle the segment
     * made is closed when it returns. Autograd holds its own references to what the backward pass
     * needs, so this frees just the intermediates nothing will read again (at BERT-base, batch 16,
     * sequence 128, up to about 900 MB held only by handles; the peak resident set fell 170 to 310 MB,
     * glibc keeping part of what was freed), the same for full and adapter training.
     * The segment contract (it reads only its input, parameters and tensors made before it) is what
     * makes this safe.
     */
    private Tensor scoped(Segment segment, Tensor x) {
        PtNDManager outer = results;
        java.util.Set<PtNDArray> castBefore = java.util.Collections.newSetFromMap(new IdentityHashMap<>());
        castBefore.addAll(lowCasts.keySet());
        try (PtNDManager own = (PtNDManager) outer.newSubManager()) {
            results = own;
            PtNDArray y = a(segment.apply(this, x));
            if (y.getManager() == own) {
                y.attach(outer);
            }
            return new T(y);
        } finally {
            results = outer;
            lowCasts.keySet().retainAll(castBefore); // autocast's casts made in the segment went with its manager
        }
    }

    /** A seed from the generator dropout draws from, so the stream stays a function of the last reseed. */
    long drawSeed() {
        try (PtNDArray r = JniUtils.randint(step, 0, Long.MAX_VALUE, new Shape(), DataType.INT64, ai.djl.Device.cpu())) {
            return r.toLongArray()[0];
        }
    }

    /**
     * Ends a training forward pass: the generator is reseeded from itself, so what draws from it next
     * does not depend on whether segments are recomputed in between.
     *
     * @return the seed to put back after the backward pass
     */
    long endForward() {
        long seed = drawSeed();
        JniUtils.setSeed(seed);
        return seed;
    }

    /**
     * The backward pass through the checkpointed segments, last to first, once the loss's backward
     * pass has given their outputs gradients: each segment runs again from its kept input, recording,
     * with the seed of its first run, then its output is backpropagated with that gradient, which
     * adds to the parameters' gradients and to the gradient of its input (the previous segment's
     * output, or through the graph before the first segment). The recomputation's tensors are freed
     * before the next segment runs. The graphs before the first segment may be shared by several
     * segments (a position bias), so they are kept until the step ends.
     */
    void backwardCheckpoints() {
        if (checkpointed == null) {
            return;
        }
        boolean grad = JniUtils.isGradMode();
        PtNDManager outer = results;
        try {
            JniUtils.setGradMode(true);
            for (int i = checkpointed.size() - 1; i >= 0; i--) {
                Checkpointed c = checkpointed.get(i);
                try (PtNDManager own = (PtNDManager) step.newSubManager()) {
                    PtNDArray g = JniUtils.getGradient(c.output());
                    if (g == null) {
                        continue; // the output did not reach the loss
                    }
                    g.attach(own);
                    results = own;
                    JniUtils.setSeed(c.seed());
                    PtNDArray y = a(c.segment().apply(this, new T(c.input())));
                    JniUtils.backward(y, g, true, false);
                    RECOMPUTED_SEGMENTS.incrementAndGet();
                }
                results = outer;
                lowCasts.clear(); // autocast's casts made in the recomputation went with its manager
            }
        } finally {
            results = outer;
            JniUtils.setGradMode(grad);
            checkpointed.clear();
        }
    }

    static PtNDArray a(Tensor t) {
        return ((T) t).a();
    }

    /** Takes a result into the step manager; the training session's update ops also note it as a temporary. */
    T own(PtNDArray r) {
        if (r.getManager() != results) {
            r.attach(results);
        }
        return new T(r);
    }

    /** Wraps an array the step manager already owns (model inputs). */
    T wrap(PtNDArray array) {
        return own(array);
    }

    @Override
    public Tensor parameter(Parameter p) {
        return new T(params.apply(p));
    }

    @Override
    public Tensor scalar(float value) {
        return new T(scalars.computeIfAbsent(value, v -> (PtNDArray) step.create(v.floatValue())));
    }

    @Override
    public Tensor constant(long[] shape, float[] values) {
        return own((PtNDArray) results.create(values, new Shape(shape)));
    }

    @Override
    public boolean isTraining() {
        return training;
    }

    @Override
    public Tensor add(Tensor x, Tensor y) {
        return own(JniUtils.add(a(x), a(y)));
    }

    @Override
    public Tensor sub(Tensor x, Tensor y) {
        return own(JniUtils.sub(a(x), a(y)));
    }

    @Override
    public Tensor mul(Tensor x, Tensor y) {
        return own(JniUtils.mul(a(x), a(y)));
    }

    @Override
    public Tensor div(Tensor x, Tensor y) {
        return own(JniUtils.div(a(x), a(y)));
    }

    @Override
    public Tensor neg(Tensor x) {
        return own(JniUtils.neg(a(x)));
    }

    @Override
    public Tensor exp(Tensor x) {
        return own(JniUtils.exp(a(x)));
    }

    @Override
    public Tensor log(Tensor x) {
        return own(JniUtils.log(a(x)));
    }

    @Override
    public Tensor sqrt(Tensor x) {
        return own(JniUtils.sqrt(a(x)));
    }

    @Override
    public Tensor pow(Tensor x, float exponent) {
        return own(JniUtils.pow(a(x), a(scalar(exponent))));
    }

    @Override
    public Tensor tanh(Tensor x) {
        return own(JniUtils.tanh(a(x)));
    }

    @Override
    public Tensor sigmoid(Tensor x) {
        return own(JniUtils.sigmoid(a(x)));
    }

    @Override
    public Tensor relu(Tensor x) {
        return own(JniUtils.relu(a(x)));
    }

    @Override
    public Tensor erf(Tensor x) {
        return own(JniUtils.erf(a(x)));
    }

    @Override
    public Tensor cos(Tensor x) {
        return own(JniUtils.cos(a(x)));
    }

    @Override
    public Tensor sin(Tensor x) {
        return own(JniUtils.sin(a(x)));
    }

    /** libtorch's exact GELU kernel (same function as the erf composite, one op). */
    @Override
    public Tensor gelu(Tensor x) {
        return own(JniUtils.gelu(a(x)));
    }

    /**
     * libtorch's fused linear (addmm), the call HuggingFace's nn.Linear makes. DJL's JNI calls the C++
     * frontend's linear, which fuses the bias into the matrix product only for 2-D input and does
     * matmul then add_ otherwise; so inputs of higher rank are flattened to rows (a view when
     * contiguous) and the result viewed back, which gives the addmm that nn.Linear runs.
     */
    @Override
    public Tensor linear(Tensor x, Tensor weight, Tensor bias) {
        PtNDArray in = a(x);
        PtNDArray w = a(weight);
        PtNDArray b = bias == null ? null : a(bias);
        if (low != null) {
            in = lowered(in);
            w = lowered(w);
            b = b == null ? null : lowered(b);
        }
        long[] dims = in.getShape().getShape();
        if (b == null || dims.length <= 2) {
            return own(JniUtils.linear(in, w, b));
        }
        long[] outDims = dims.clone();
        outDims[outDims.length - 1] = w.getShape().get(0);
        return overRows(in, w, b, outDims);
    }

    /**
     * libtorch's linear of {@code in} flattened to rows, viewed back as {@code outDims}: one addmm
     * with {@code b} a [out] bias or a [rows, out] addend.
     */
    private T overRows(PtNDArray in, PtNDArray w, PtNDArray b, long[] outDims) {
        long[] dims = in.getShape().getShape();
        PtNDArray rows = own(JniUtils.reshape(in, new long[] {-1, dims[dims.length - 1]})).a();
        PtNDArray out = own(JniUtils.linear(rows, w, b)).a();
        T result = own(JniUtils.reshape(out, outDims));
        // the result is a view of out's storage: dropping these handles frees nothing now, but lets a
        // release of the result free the storage (autograd keeps its own references to what it saved)
        rows.close();
        out.close();
        return result;
    }

    /** {@code addend + x W^T} as one {@code addmm} over the rows: no layer-sized product is made and then added. */
    @Override
    public Tensor linearAdd(Tensor x, Tensor weight, Tensor addend) {
        PtNDArray in = a(x);
        PtNDArray w = a(weight);
        PtNDArray c = a(addend);
        if (low != null) {
            in = lowered(in);
            w = lowered(w);
        }
        long[] dims = c.getShape().getShape();
        long out = w.getShape().get(0);
        if (dims.length == 0 || dims[dims.length - 1] != out || in.getDataType() != c.getDataType()
                || in.getDataType() != w.getDataType()) {
            return Ops.super.linearAdd(x, weight, addend); // broadcasting or mixed types: the composite
        }
        if (dims.length <= 2) {
            return own(JniUtils.linear(in, w, c));
        }
        PtNDArray acc = own(JniUtils.reshape(c, new long[] {-1, out})).a();
        T result = overRows(in, w, acc, dims);
        acc.close();
        return result;
    }

    /**
     * Frees a temporary before the step ends: closing the handle drops this side's reference to the
     * libtorch tensor, whose storage goes once no view and no saved autograd variable holds it.
     * Only results of this step or of the segment being run are closed: parameters and cached scalars
     * are left alone.
     */
    @Override
    public void release(Tensor x) {
        PtNDArray r = a(x);
        if ((r.getManager() == step || r.getManager() == results) && !scalars.containsValue(r)) {
            r.close();
        }
    }

    @Override
    public Tensor matmul(Tensor x, Tensor y) {
        if (low != null) {
            return own(JniUtils.matmul(lowered(a(x)), lowered(a(y))));
        }
        return own(JniUtils.matmul(a(x), a(y)));
    }

    @Override
    public Tensor embedding(Tensor table, Tensor ids) {
        return own(JniUtils.embedding(a(ids), a(table), false));
    }

    @Override
    public Tensor layerNorm(Tensor x, Tensor gamma, Tensor beta, float eps) {
        PtNDArray g = a(gamma);
        return own(JniUtils.layerNorm(widened(a(x)), g.getShape(), g, a(beta), eps));
    }

    @Override
    public Tensor softmax(Tensor x, int axis) {
        return own(JniUtils.softmax(widened(a(x)), axis, DataType.FLOAT32));
    }

    @Override
    public Tensor logSoftmax(Tensor x, int axis) {
        return own(JniUtils.logSoftmax(widened(a(x)), axis, DataType.FLOAT32));
    }

    /**
     * Inverted dropout, as torch's: each element kept with probability 1 - p and scaled by 1 / (1 - p).
     * On the CPU the mask comes from random bits drawn in Java ({@link #cpuKeep}); elsewhere (and with
     * {@link #UNIFORM_DROPOUT}) it is the floor of uniform numbers in [1 - p, 2 - p). Both replace
     * libtorch's dropout, whose bernoulli_ sampling took about 3.4 ms of a 3.5 ms call on bert-mini's
     * [32, 64, 256] activations (two threads). The gradient is the upstream gradient times the same
     * scaled mask. Only the mask outlives the call (the product keeps it for the backward pass): on the
     * CPU in float32 a boolean one, elsewhere the scaled mask in the input's type.
     */
    @Override
    public Tensor dropout(Tensor x, float p) {
        if (!training || p <= 0f) {
            return x;
        }
        PtNDArray in = a(x);
        if (p >= 1f) {
            return own(JniUtils.dropout(in, p, true));
        }
        if (ai.djl.Device.Type.CPU.equals(in.getDevice().getDeviceType()) && !Boolean.getBoolean(UNIFORM_DROPOUT)) {
            if (Math.round((1.0 - p) * 4294967296.0) >= 4294967296L) {
                return x; // p under 2^-33: the 32-bit mask would keep everything
            }
            if (LowPrecision.isFloat32(in)) {
                // y = (x * keep) * scale with a boolean keep: the product's backward keeps the boolean
                // mask (1 byte an element, where a float mask took 4: ~230 MB less at BERT-base, batch
                // 16, sequence 128), and y, which no backward reads, is scaled in place. Bit for bit the
                // float mask's result: x * 1 and x * 0 are exact, so one rounding (x * scale) either way.
                PtNDArray y;
                try (PtNDArray keep = cpuKeep(in, p)) {
                    y = own(JniUtils.mul(in, keep)).a();
                }
                JniUtils.muli(y, a(scalar(1f / (1f - p))));
                return new T(y);
            }
            return own(JniUtils.mul(in, cpuMask(in, p)));
        }
        // floor of a uniform number in [1 - p, 2 - p) is 1 with probability 1 - p, else 0
        PtNDArray mask;
        // The uniform numbers are drawn in float32 whatever the input's type, so an autocast run draws the
        // masks of the float32 run with the same seed; a float16 input gets the mask cast to float16 (exact:
        // it holds 0 and 1), a bfloat16 one keeps it in float32 (DJL cannot name bfloat16 when it casts)
        DataType maskType = LowPrecision.isFloat32(in) ? in.getDataType() : DataType.FLOAT32;
        try (PtNDArray u = JniUtils.uniform(results, 1 - p, 2 - p, in.getShape(), maskType, in.getDevice())) {
            mask = own(JniUtils.floor(u)).a();
        }
        if (in.getDataType() == DataType.FLOAT16) {
            mask = own(JniUtils.to(mask, DataType.FLOAT16, in.getDevice())).a();
        }
        JniUtils.muli(mask, a(scalar(1f / (1f - p))));
        return own(JniUtils.mul(in, mask));
    }

    /** System property: {@code true} draws CPU dropout masks from libtorch's uniform sampler, as GPUs do. */
    static final String UNIFORM_DROPOUT = "attune.pytorch.uniformDropout";

    /** Random bits for CPU masks, reused call after call (the int32 tensor over them is closed before the next). */
    private static final ThreadLocal<ByteBuffer> MASK_BITS = new ThreadLocal<>();

    /**
     * A scaled CPU dropout mask for a low-precision input: {@link #cpuKeep}'s, in float16 for a float16
     * input and in float32 for a bfloat16 one (float32 inputs multiply by the boolean mask instead).
     */
    private PtNDArray cpuMask(PtNDArray in, float p) {
        PtNDArray mask;
        try (PtNDArray keep = cpuKeep(in, p)) {
            mask = own(JniUtils.to(keep, in.getDataType() == DataType.FLOAT16 ? DataType.FLOAT16 : DataType.FLOAT32,
                    in.getDevice())).a();
        }
        JniUtils.muli(mask, a(scalar(1f / (1f - p))));
        return mask;
    }

    /**
     * A CPU dropout's boolean keep mask in {@code in}'s shape (the caller closes it): 32 random bits per
     * element, kept when they fall below {@code (1 - p) * 2^32} (read as a signed number, shifted by
     * 2^31). libtorch's CPU samplers draw from its Mersenne Twister one element at a time on one thread
     * (about 1.3 ms of a 1.7 ms mask at bert-mini's [32, 64, 256], while the other core waits); here a
     * SplittableRandom seeded from libtorch's generator (so a seed still fixes every mask, and a
     * checkpointed segment's recomputation draws the same ones) fills two elements per 64-bit draw in
     * Java, and libtorch compares in parallel.
     */
    private PtNDArray cpuKeep(PtNDArray in, float p) {
        long n = in.getShape().size();
        long words = (n + 1) / 2;
        ByteBuffer bits = MASK_BITS.get();
        if (bits == null || bits.capacity() < words * 8) {
            bits = ByteBuffer.allocateDirect((int) Math.max(words * 8, 1 << 20)).order(ByteOrder.nativeOrder());
            MASK_BITS.set(bits);
        }
        java.util.SplittableRandom random = new java.util.SplittableRandom(drawSeed());
        bits.clear();
        java.nio.LongBuffer longs = bits.asLongBuffer();
        for (long i = 0; i < words; i++) {
            longs.put(random.nextLong());
        }
        bits.limit((int) (words * 8));
        // kept when the bits, read as a signed 32-bit number, are below (1 - p) * 2^32 - 2^31
        long threshold = Math.round((1.0 - p) * 4294967296.0) - 2147483648L;
        try (PtNDArray raw = JniUtils.createNdFromByteBuffer(results, bits, new Shape(words * 2), DataType.INT32,
                ai.djl.ndarray.types.SparseFormat.DENSE, in.getDevice());
                PtNDArray lanes = n == words * 2 ? null : JniUtils.slice(raw, 0, 0, n, 1);
                PtNDArray bound = (PtNDArray) results.create((int) threshold);
                PtNDArray keep = JniUtils.lt(lanes == null ? raw : lanes, bound)) {
            return JniUtils.reshape(keep, in.getShape().getShape());
        }
    }

    /**
     * Outside training, libtorch's fused kernel ({@link FusedAttention}); while training, the
     * composite, so gradients and dropout stay those of the eager ops.
     */
    @Override
    public Tensor attention(Tensor q, Tensor k, Tensor v, Tensor bias, float scale, float dropout) {
        if (low != null && !training && !Boolean.getBoolean(PyTorchEngineProvider.DISABLE_FUSED_ATTENTION)) {
            return own(LowPrecision.attention(results, low, a(q), a(k), a(v), bias == null ? null : a(bias), scale));
        }
        PtNDArray fused = training ? null
                : FusedAttention.apply(results, a(q), a(k), a(v), bias == null ? null : a(bias), scale);
        if (fused != null) {
            return own(fused);
        }
        return Ops.super.attention(q, k, v, bias, scale, dropout);
    }

    @Override
    public Tensor reshape(Tensor x, long... dims) {
        PtNDArray in = a(x);
        long[] target = dims.clone();
        for (int i = 0; i < target.length; i++) {
            if (target[i] == 0) {
                target[i] = in.getShape().get(i);
            }
        }
        return own(JniUtils.reshape(in, target));
    }

    @Override
    public Tensor transpose(Tensor x, int... perm) {
        long[] p = new long[perm.length];
        for (int i = 0; i < perm.length; i++) {
            p[i] = perm[i];
        }
        return own(JniUtils.permute(a(x), p));
    }

    @Override
    public Tensor unsqueeze(Tensor x, int axis) {
        return own(JniUtils.unsqueeze(a(x), axis));
    }

    @Override
    public Tensor select(Tensor x, int axis, long index) {
        PtNDArray in = a(x);
        int ax = axis < 0 ? axis + in.getShape().dimension() : axis;
        PtNDArray s = JniUtils.slice(in, ax, index, index + 1, 1);
        PtNDArray r = JniUtils.squeeze(s, ax);
        own(s);
        return own(r);
    }

    @Override
    public Tensor slice(Tensor x, int axis, long start, long end) {
        PtNDArray in = a(x);
        int ax = axis < 0 ? axis + in.getShape().dimension() : axis;
        return own(JniUtils.slice(in, ax, start, end, 1));
    }

    @Override
    public Tensor concat(int axis, Tensor... xs) {
        PtNDArray[] arrays = new PtNDArray[xs.length];
        for (int i = 0; i < xs.length; i++) {
            arrays[i] = a(xs[i]);
        }
        return own(JniUtils.cat(arrays, axis));
    }

    @Override
    public Tensor gather(Tensor x, int axis, Tensor indices) {
        PtNDArray in = a(x);
        int ax = axis < 0 ? axis + in.getShape().dimension() : axis;
        return own(JniUtils.gather(in, a(indices), ax));
    }

    @Override
    public Tensor range(Tensor like, int axis) {
        PtNDArray in = a(like);
        int ax = axis < 0 ? axis + in.getShape().dimension() : axis;
        long n = in.getShape().get(ax);
        return own((PtNDArray) results.arange(0, Math.toIntExact(n), 1, DataType.INT64));
    }

    @Override
    public Tensor cast(Tensor x, DType type) {
        PtNDArray in = a(x);
        if (type == DType.BFLOAT16) {
            return own(LowPrecision.down(in, type, training, results));
        }
        if (type == DType.FLOAT32 && LowPrecision.isFloatingPoint(in) && !LowPrecision.isFloat32(in)) {
            return own(LowPrecision.up(in, training, results)); // differentiable widening (DJL's cast is not)
        }
        DataType target = dataType(type);
        if (in.getDataType() == target) {
            return x;
        }
        return own(JniUtils.to(in, target, in.getDevice()));
    }

    @Override
    public Tensor notEqual(Tensor x, long value) {
        PtNDArray in = a(x);
        PtNDArray v = (PtNDArray) results.create(value).toType(in.getDataType(), false);
        return own(JniUtils.neq(in, v));
    }

    @Override
    public Tensor equal(Tensor x, Tensor y) {
        return own(JniUtils.eq(a(x), a(y)));
    }

    @Override
    public Tensor greater(Tensor x, Tensor y) {
        return own(JniUtils.gt(a(x), a(y)));
    }

    @Override
    public Tensor where(Tensor condition, Tensor x, Tensor y) {
        return own(JniUtils.where(a(condition), a(x), a(y)));
    }

    @Override
    public Tensor sum(Tensor x, int axis, boolean keepDims) {
        return own(JniUtils.sum(a(x), new long[] {axis}, keepDims));
    }

    @Override
    public Tensor mean(Tensor x, int axis, boolean keepDims) {
        return own(JniUtils.mean(a(x), axis, keepDims));
    }

    @Override
    public Tensor sumAll(Tensor x) {
        return own(JniUtils.sum(a(x)));
    }

    @Override
    public Tensor max(Tensor x, int axis, boolean keepDims) {
        return own(JniUtils.max(a(x), axis, keepDims));
    }

    /** libtorch promotes integer cumsum to INT64; cast back so the element type is kept as the contract says. */
    @Override
    public Tensor cumsum(Tensor x, int axis) {
        PtNDArray in = a(x);
        PtNDArray r = JniUtils.cumSum(in, axis);
        if (r.getDataType() != in.getDataType()) {
            own(r);
            return own(JniUtils.to(r, in.getDataType(), in.getDevice()));
        }
        return own(r);
    }

    static DataType dataType(DType type) {
        return switch (type) {
            case FLOAT32 -> DataType.FLOAT32;
            case FLOAT16 -> DataType.FLOAT16;
            case INT64 -> DataType.INT64;
            case INT32 -> DataType.INT32;
            case BOOL -> DataType.BOOLEAN;
            case BFLOAT16 -> throw new IllegalArgumentException(
                    "BFLOAT16 never reaches DJL (its native type map has none); widen to FLOAT32 first");
        };
    }

    static ByteBuffer direct(ByteBuffer heap) {
        ByteBuffer d = ByteBuffer.allocateDirect(heap.remaining()).order(ByteOrder.nativeOrder());
        d.put(heap.duplicate());
        d.flip();
        return d;
    }
}
