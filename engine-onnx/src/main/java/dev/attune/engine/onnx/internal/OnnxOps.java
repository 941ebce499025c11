package dev.attune.engine.onnx.internal;

import static dev.attune.engine.onnx.internal.OnnxGraph.attr;
import static dev.attune.engine.onnx.internal.OnnxGraph.attrInts;

import dev.attune.engine.Engine.ParameterSource;
import dev.attune.error.InvalidCheckpointException;
import dev.attune.ops.DType;
import dev.attune.ops.Ops;
import dev.attune.ops.Parameter;
import dev.attune.ops.Tensor;
import dev.attune.ops.TensorData;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The ops contract lowered to ONNX: every call emits nodes into an {@link OnnxGraph} and returns a
 * {@link Sym}, the name of the value it produced with its element type and rank. Nothing is
 * computed; batch and sequence sizes stay symbolic because every shape-changing op is emitted in
 * ONNX's relative form (Reshape's 0 and -1, Shape-derived ranges). Dropout is the identity
 * (inference graph). Parameters become initializers under their HuggingFace names, the first time
 * the forward pass reads them, so parameters a head does not use are not exported.
 */
public final class OnnxOps implements Ops {
    /** A value of the graph. */
    public record Sym(String name, DType dtype, int rank) implements Tensor {}

    private final OnnxGraph g;
    private final ParameterSource values;
    private final boolean float16Weights;
    private final boolean fused;
    /** Every value emitted so far, by name (ranks and types for the fusions' checks). */
    private final java.util.Map<String, Sym> syms = new java.util.HashMap<>();
    /** Attention outputs in heads layout [B, heads, T, d] whose [B, T, heads*d] form exists: view name to 3D value. */
    private final java.util.Map<String, Heads> headsOf = new java.util.HashMap<>();
    /** Their transposes back to [B, T, heads, d]: view name to the 3D value the final reshape returns. */
    private final java.util.Map<String, Heads> mergedOf = new java.util.HashMap<>();

    /**
     * @param graph where nodes go
     * @param values parameter values
     * @param float16Weights store float weights as FLOAT16 initializers (cast to float32 on use)
     */
    public OnnxOps(OnnxGraph graph, ParameterSource values, boolean float16Weights) {
        this(graph, values, float16Weights, false);
    }

    /**
     * @param graph where nodes go
     * @param values parameter values
     * @param float16Weights store float weights as FLOAT16 initializers (cast to float32 on use)
     * @param fused emit ONNX Runtime's fused transformer kernels ((see the fused kernels section)) where the
     *     contract's composites match them; false for standard ONNX operators only
     */
    public OnnxOps(OnnxGraph graph, ParameterSource values, boolean float16Weights, boolean fused) {
        this.g = graph;
        this.values = values;
        this.float16Weights = float16Weights;
        this.fused = fused;
    }

    static Sym s(Tensor t) {
        if (t instanceof Sym sym) {
            return sym;
        }
        throw new IllegalArgumentException("not a value of the ONNX lowering: " + t);
    }

    private Sym op(String type, DType dtype, int rank, List<String> in, dev.attune.engine.onnx.proto.OnnxProto.AttributeProto... attrs) {
        return remember(new Sym(g.node(type, in, attrs), dtype, rank));
    }

    private Sym contrib(String type, DType dtype, int rank, List<String> in,
            dev.attune.engine.onnx.proto.OnnxProto.AttributeProto... attrs) {
        return remember(new Sym(g.nodeIn(OnnxGraph.MICROSOFT, type, in, attrs), dtype, rank));
    }

    private Sym remember(Sym s) {
        syms.put(s.name(), s);
        return s;
    }

    private static int norm(int axis, int rank) {
        int a = axis < 0 ? axis + rank : axis;
        if (a < 0 || a >= Math.max(rank, 1)) {
            throw new IllegalArgumentException("axis " + axis + " out of range for rank " + rank);
        }
        return a;
    }

    // ---------------------------------------------------------------- values

    @Override
    public Tensor parameter(Parameter p) {
        String name = p.name();
        DType stored = float16Weights ? DType.FLOAT16 : DType.FLOAT32;
        if (!g.hasInitializer(name)) {
            TensorData data = values.valueOf(p);
            if (!Arrays.equals(data.shape(), p.shape())) {
                throw new InvalidCheckpointException("parameter " + name + " has shape " + Arrays.toString(data.shape())
                        + " but the model declares " + Arrays.toString(p.shape()));
            }
            g.initializer(OnnxGraph.tensor(name, stored, p.shape(), bytesAs(data, stored)));
        }
        if (stored == DType.FLOAT16) {
            return op("Cast", DType.FLOAT32, p.shape().length, List.of(name), attr("to", (long) OnnxGraph.elemType(DType.FLOAT32)));
        }
        return remember(new Sym(name, DType.FLOAT32, p.shape().length));
    }

    static ByteBuffer bytesAs(TensorData data, DType type) {
        if (data.dtype() == type) {
            return data.buffer();
        }
        float[] f = data.toFloatArray();
        if (type == DType.FLOAT32) {
            ByteBuffer b = ByteBuffer.allocate(f.length * 4).order(ByteOrder.LITTLE_ENDIAN);
            b.asFloatBuffer().put(f);
            return b;
        }
        ByteBuffer b = ByteBuffer.allocate(f.length * 2).order(ByteOrder.LITTLE_ENDIAN);
        for (float v : f) {
            b.putShort(TensorData.floatToHalf(OnnxGraph.clampToHalf(v)));
        }
        b.rewind();
        return b;
    }

    @Override
    public Tensor scalar(float value) {
        return new Sym(g.floats(DType.FLOAT32, new long[0], new float[] {value}), DType.FLOAT32, 0);
    }

    @Override
    public Tensor constant(long[] shape, float[] v) {
        return new Sym(g.floats(DType.FLOAT32, shape, v), DType.FLOAT32, shape.length);
    }

    @Override
    public boolean isTraining() {
        return false;
    }

    private Sym constantLike(Sym like, double value) {
        return switch (like.dtype()) {
            case INT64 -> new Sym(g.longs(true, (long) value), DType.INT64, 0);
            default -> new Sym(g.floats(DType.FLOAT32, new long[0], new float[] {(float) value}), DType.FLOAT32, 0);
        };
    }

    // ---------------------------------------------------------------- elementwise

    /** Binary op with PyTorch's promotion of an integer operand to float32 when the other is float. */
    private Sym binary(String type, Tensor a, Tensor b) {
        Sym x = s(a);
        Sym y = s(b);
        if (x.dtype() != y.dtype()) {
            if (x.dtype() != DType.FLOAT32) {
                x = s(cast(x, DType.FLOAT32));
            }
            if (y.dtype() != DType.FLOAT32) {
                y = s(cast(y, DType.FLOAT32));
            }
        }
        return op(type, x.dtype(), Math.max(x.rank(), y.rank()), List.of(x.name(), y.name()));
    }

    @Override
    public Tensor add(Tensor a, Tensor b) {
        return binary("Add", a, b);
    }

    @Override
    public Tensor sub(Tensor a, Tensor b) {
        return binary("Sub", a, b);
    }

    @Override
    public Tensor mul(Tensor a, Tensor b) {
        if (fused) {
            Sym rms = rmsNorm(s(a), s(b));
            if (rms == null) {
                rms = rmsNorm(s(b), s(a));
            }
            if (rms != null) {
                return rms;
            }
        }
        return binary("Mul", a, b);
    }

    @Override
    public Tensor div(Tensor a, Tensor b) {
        return binary("Div", a, b);
    }

    @Override
    public Tensor mul(Tensor x, float v) {
        return binary("Mul", x, constantLike(s(x), v));
    }

    @Override
    public Tensor add(Tensor x, float v) {
        return binary("Add", x, constantLike(s(x), v));
    }

    private Sym unary(String type, Tensor x) {
        Sym v = s(x);
        return op(type, v.dtype(), v.rank(), List.of(v.name()));
    }

    @Override
    public Tensor exp(Tensor x) {
        return unary("Exp", x);
    }

    @Override
    public Tensor log(Tensor x) {
        return unary("Log", x);
    }

    @Override
    public Tensor sqrt(Tensor x) {
        return unary("Sqrt", x);
    }

    @Override
    public Tensor pow(Tensor x, float exponent) {
        return binary("Pow", x, scalar(exponent));
    }

    @Override
    public Tensor tanh(Tensor x) {
        return unary("Tanh", x);
    }

    @Override
    public Tensor sigmoid(Tensor x) {
        return unary("Sigmoid", x);
    }

    @Override
    public Tensor relu(Tensor x) {
        return unary("Relu", x);
    }

    @Override
    public Tensor erf(Tensor x) {
        return unary("Erf", x);
    }

    @Override
    public Tensor cos(Tensor x) {
        return unary("Cos", x);
    }

    @Override
    public Tensor sin(Tensor x) {
        return unary("Sin", x);
    }

    // ---------------------------------------------------------------- neural network

    @Override
    public Tensor matmul(Tensor a, Tensor b) {
        Sym x = s(a);
        Sym y = s(b);
        return op("MatMul", DType.FLOAT32, Math.max(x.rank(), y.rank()), List.of(x.name(), y.name()));
    }

    @Override
    public Tensor embedding(Tensor table, Tensor ids) {
        Sym t = s(table);
        Sym i = s(ids);
        return op("Gather", t.dtype(), i.rank() + t.rank() - 1, List.of(t.name(), i.name()), attr("axis", 0L));
    }

    @Override
    public Tensor layerNorm(Tensor x, Tensor gamma, Tensor beta, float eps) {
        Sym v = s(x);
        if (fused) {
            Sym skip = skipLayerNorm(v, s(gamma), s(beta), eps);
            if (skip != null) {
                return skip;
            }
        }
        return op("LayerNormalization", v.dtype(), v.rank(), List.of(v.name(), s(gamma).name(), s(beta).name()),
                attr("axis", -1L), attr("epsilon", eps));
    }

    @Override
    public Tensor softmax(Tensor x, int axis) {
        Sym v = s(x);
        return op("Softmax", v.dtype(), v.rank(), List.of(v.name()), attr("axis", (long) axis));
    }

    @Override
    public Tensor logSoftmax(Tensor x, int axis) {
        Sym v = s(x);
        return op("LogSoftmax", v.dtype(), v.rank(), List.of(v.name()), attr("axis", (long) axis));
    }

    @Override
    public Tensor dropout(Tensor x, float p) {
        return x;
    }

    // ---------------------------------------------------------------- ONNX Runtime's fused kernels
    //
    // With `fused`, the contract's composites that ONNX Runtime has one kernel for are emitted as
    // that com.microsoft contrib op. ONNX Runtime's own graph optimizer (on at session creation)
    // does not find them in this graph: its GeluFusion looks for Div(x, sqrt 2) where the contract
    // writes Mul(x, 1/sqrt 2), its SkipLayerNormFusion needs shapes it cannot infer through the
    // Reshape(0, 0, ...) forms, and its AttentionFusion matches only the node order of PyTorch's
    // exporter with a -10000 mask. Emitting the fused ops here instead is exact by construction:
    // each rewrite below checks that its inputs were produced by the very nodes this class emits for
    // the composite (linear = MatMul + Add of a rank-1 bias, HuggingFace's head split, BERT's padding
    // mask), and falls back to the composite otherwise. The nodes a fusion leaves unused are dropped
    // from the graph (OnnxGraph.pruneDeadNodes); parameters keep their HuggingFace names.

    /** A fused attention's output, [B, T, hidden]. */
    private record Heads(Sym value, long hidden) {}

    /** @return {@code [matmul output, bias]} when {@code v} is linear's {@code Add(MatMul(...), bias)}, else null */
    private String[] biasedMatMul(String v) {
        var add = g.producer(v);
        if (add == null || !add.getOpType().equals("Add") || !add.getDomain().isEmpty() || add.getInputCount() != 2) {
            return null;
        }
        var mm = g.producer(add.getInput(0));
        Sym bias = syms.get(add.getInput(1));
        if (mm == null || !mm.getOpType().equals("MatMul") || bias == null || bias.rank() != 1
                || bias.dtype() != DType.FLOAT32) {
            return null;
        }
        return new String[] {add.getInput(0), add.getInput(1)};
    }

    @Override
    public Tensor gelu(Tensor x) {
        Sym v = s(x);
        if (!fused || v.dtype() != DType.FLOAT32) {
            return Ops.super.gelu(x);
        }
        String[] mb = biasedMatMul(v.name());
        return mb != null ? contrib("BiasGelu", DType.FLOAT32, v.rank(), List.of(mb[0], mb[1]))
                : contrib("Gelu", DType.FLOAT32, v.rank(), List.of(v.name()));
    }

    @Override
    public Tensor geluTanh(Tensor x) {
        Sym v = s(x);
        if (!fused || v.dtype() != DType.FLOAT32) {
            return Ops.super.geluTanh(x);
        }
        String[] mb = biasedMatMul(v.name());
        return contrib("FastGelu", DType.FLOAT32, v.rank(), mb != null ? List.of(mb[0], mb[1]) : List.of(v.name()));
    }

    /**
     * LayerNorm of a residual sum {@code a + b} of two [B, T, H] values as SkipLayerNormalization,
     * with the bias of a linear layer feeding the sum folded in.
     */
    private Sym skipLayerNorm(Sym x, Sym gamma, Sym beta, float eps) {
        var add = g.producer(x.name());
        if (x.rank() != 3 || x.dtype() != DType.FLOAT32 || add == null || !add.getOpType().equals("Add")
                || !add.getDomain().isEmpty() || add.getInputCount() != 2 || gamma.rank() != 1 || beta.rank() != 1) {
            return null;
        }
        Sym a = syms.get(add.getInput(0));
        Sym b = syms.get(add.getInput(1));
        if (a == null || b == null || a.rank() != 3 || b.rank() != 3) {
            return null; // SkipLayerNormalization takes equal [B, T, H] shapes, not broadcasting
        }
        String[] mb = biasedMatMul(a.name());
        Sym other = b;
        if (mb == null) {
            mb = biasedMatMul(b.name());
            other = a;
        }
        List<String> in = mb != null ? List.of(mb[0], other.name(), gamma.name(), beta.name(), mb[1])
                : List.of(a.name(), b.name(), gamma.name(), beta.name());
        return contrib("SkipLayerNormalization", DType.FLOAT32, 3, in, attr("epsilon", eps));
    }

    /**
     * Llama's RMSNorm, {@code weight * (x * (mean(x * x, -1) + eps)^-0.5)} as the contract's ops
     * write it, as ONNX Runtime's {@code SimplifiedLayerNormalization} (an ONNX Runtime kernel
     * registered in the ONNX domain, not a standard ONNX operator; T5's norm divides by a square
     * root instead and keeps the plain ops).
     *
     * @param weight the rank-1 scale
     * @param normed the product {@code x * (variance + eps)^-0.5}
     * @return the fused node, or null when {@code normed} is not that composite
     */
    private Sym rmsNorm(Sym weight, Sym normed) {
        if (weight.rank() != 1 || weight.dtype() != DType.FLOAT32 || normed.dtype() != DType.FLOAT32
                || normed.rank() < 1) {
            return null;
        }
        var mul = g.producer(normed.name());
        if (!plain(mul, "Mul", 2)) {
            return null;
        }
        String x = mul.getInput(0);
        var pow = g.producer(mul.getInput(1));
        if (!plain(pow, "Pow", 2) || !Float.valueOf(-0.5f).equals(floatOf(pow.getInput(1)))) {
            return null;
        }
        var add = g.producer(pow.getInput(0));
        Float eps = add == null ? null : floatOf(add.getInput(1));
        if (!plain(add, "Add", 2) || eps == null || eps < 0) {
            return null;
        }
        var mean = g.producer(add.getInput(0));
        Sym xs = syms.get(x);
        if (!plain(mean, "ReduceMean", 1) || xs == null || xs.dtype() != DType.FLOAT32
                || xs.rank() != normed.rank()) {
            return null;
        }
        long axes = -1;
        long keep = 1;
        int axesSeen = 0;
        for (var a : mean.getAttributeList()) {
            if (a.getName().equals("axes") && a.getIntsCount() == 1) {
                axes = a.getInts(0);
                axesSeen++;
            } else if (a.getName().equals("keepdims")) {
                keep = a.getI();
            }
        }
        var square = g.producer(mean.getInput(0));
        if (axesSeen != 1 || keep != 1 || (axes != -1 && axes != xs.rank() - 1) || !plain(square, "Mul", 2)
                || !square.getInput(0).equals(x) || !square.getInput(1).equals(x)) {
            return null;
        }
        return op("SimplifiedLayerNormalization", DType.FLOAT32, xs.rank(), List.of(x, weight.name()),
                attr("axis", -1L), attr("epsilon", eps));
    }

    /** @return whether {@code n} is a standard ONNX node of that type with that many inputs */
    private static boolean plain(dev.attune.engine.onnx.proto.OnnxProto.NodeProto n, String type, int inputs) {
        return n != null && n.getDomain().isEmpty() && n.getOpType().equals(type) && n.getInputCount() == inputs;
    }

    /** @return {@code [source, heads, headSize]} when {@code x} is Transpose(Reshape(source [B,T,H], [0,0,h,d]), 0,2,1,3) */
    private Object[] splitHeads(Sym x) {
        var t = g.producer(x.name());
        if (t == null || !t.getOpType().equals("Transpose") || t.getAttributeCount() != 1
                || !t.getAttribute(0).getIntsList().equals(List.of(0L, 2L, 1L, 3L))) {
            return null;
        }
        var r = g.producer(t.getInput(0));
        if (r == null || !r.getOpType().equals("Reshape")) {
            return null;
        }
        Sym source = syms.get(r.getInput(0));
        long[] dims = longsOf(r.getInput(1));
        if (source == null || source.rank() != 3 || source.dtype() != DType.FLOAT32 || dims == null
                || dims.length != 4 || dims[0] != 0 || dims[1] != 0 || dims[2] <= 0 || dims[3] <= 0) {
            return null;
        }
        return new Object[] {source, dims[2], dims[3]};
    }

    /** @return the values of a constant INT64 initializer, or null */
    private long[] longsOf(String name) {
        var t = g.initializer(name);
        if (t == null || t.getDataType() != dev.attune.engine.onnx.proto.OnnxProto.TensorProto.DataType.INT64_VALUE) {
            return null;
        }
        var b = t.getRawData().asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN).asLongBuffer();
        long[] out = new long[b.remaining()];
        b.get(out);
        return out;
    }

    /** @return the value of a constant float32 scalar initializer, or null */
    private Float floatOf(String name) {
        var t = g.initializer(name);
        if (t == null || t.getDataType() != dev.attune.engine.onnx.proto.OnnxProto.TensorProto.DataType.FLOAT_VALUE
                || t.getRawData().size() != 4) {
            return null;
        }
        return t.getRawData().asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN).getFloat();
    }

    /**
     * Recognises BERT's padding-mask bias ({@code Bert.maskBias}: {@code (1 - float(mask)) * c},
     * unsqueezed to [B, 1, 1, T]).
     *
     * @return {@code [mask, c]}: the integer [B, T] mask and the fill value, or null
     */
    private Object[] paddingMask(Sym bias) {
        var u2 = g.producer(bias.name());
        if (u2 == null || !u2.getOpType().equals("Unsqueeze") || !Arrays.equals(longsOf(u2.getInput(1)), new long[] {1})) {
            return null;
        }
        var u1 = g.producer(u2.getInput(0));
        if (u1 == null || !u1.getOpType().equals("Unsqueeze") || !Arrays.equals(longsOf(u1.getInput(1)), new long[] {1})) {
            return null;
        }
        var mul = g.producer(u1.getInput(0));
        if (mul == null || !mul.getOpType().equals("Mul")) {
            return null;
        }
        Float fill = floatOf(mul.getInput(1));
        var sub = g.producer(mul.getInput(0));
        if (fill == null || fill > -1e4f || sub == null || !sub.getOpType().equals("Sub")) {
            return null; // a fill above -1e4 would not zero the masked weights as the composite does
        }
        Float one = floatOf(sub.getInput(0));
        var cast = g.producer(sub.getInput(1));
        if (one == null || one != 1f || cast == null || !cast.getOpType().equals("Cast")) {
            return null;
        }
        return new Object[] {cast.getInput(0), fill};
    }

    /**
     * Multi-head attention over HuggingFace's head split of three [B, T, H] projections, with no
     * bias or BERT's padding mask, as one MultiHeadAttention kernel (projection biases packed into
     * its bias input, the mask as its key padding mask).
     */
    private Tensor multiHeadAttention(Sym q, Sym k, Sym v, Sym bias, float scale) {
        Object[] qs = splitHeads(q);
        Object[] ks = splitHeads(k);
        Object[] vs = splitHeads(v);
        if (qs == null || ks == null || vs == null || !qs[1].equals(ks[1]) || !qs[1].equals(vs[1])
                || !qs[2].equals(ks[2]) || !qs[2].equals(vs[2])) {
            return null;
        }
        Object[] mask = bias == null ? null : paddingMask(bias);
        if (bias != null && mask == null) {
            return null; // causal or position biases: the composite
        }
        long heads = (Long) qs[1];
        long headSize = (Long) qs[2];
        String[] bq = biasedMatMul(((Sym) qs[0]).name());
        String[] bk = biasedMatMul(((Sym) ks[0]).name());
        String[] bv = biasedMatMul(((Sym) vs[0]).name());
        List<String> in = new ArrayList<>();
        if (bq != null && bk != null && bv != null) {
            in.addAll(List.of(bq[0], bk[0], bv[0]));
            in.add(op("Concat", DType.FLOAT32, 1, List.of(bq[1], bk[1], bv[1]), attr("axis", 0L)).name());
        } else {
            in.addAll(List.of(((Sym) qs[0]).name(), ((Sym) ks[0]).name(), ((Sym) vs[0]).name(), ""));
        }
        var attrs = new ArrayList<dev.attune.engine.onnx.proto.OnnxProto.AttributeProto>();
        attrs.add(attr("num_heads", heads));
        attrs.add(attr("scale", scale));
        if (mask != null) {
            in.add(op("Cast", DType.INT32, 2, List.of((String) mask[0]),
                    attr("to", (long) OnnxGraph.elemType(DType.INT32))).name());
            attrs.add(attr("mask_filter_value", (Float) mask[1]));
        } else if (in.get(3).isEmpty()) {
            in.remove(3);
        }
        Sym out = contrib("MultiHeadAttention", DType.FLOAT32, 3, in,
                attrs.toArray(new dev.attune.engine.onnx.proto.OnnxProto.AttributeProto[0]));
        Sym view = s(transpose(reshape(out, 0, 0, heads, headSize), 0, 2, 1, 3));
        headsOf.put(view.name(), new Heads(out, heads * headSize));
        return view;
    }

    @Override
    public Tensor attention(Tensor q, Tensor k, Tensor v, Tensor bias, float scale, float dropout) {
        if (fused) {
            Tensor t = multiHeadAttention(s(q), s(k), s(v), bias == null ? null : s(bias), scale);
            if (t != null) {
                return t;
            }
        }
        return Ops.super.attention(q, k, v, bias, scale, dropout);
    }

    // ---------------------------------------------------------------- shape

    @Override
    public Tensor reshape(Tensor x, long... dims) {
        Sym v = s(x);
        Heads merged = mergedOf.get(v.name());
        if (merged != null && dims.length == 3 && dims[0] == 0 && dims[1] == 0 && dims[2] == merged.hidden()) {
            return merged.value(); // [B, T, heads, d] -> [B, T, hidden] of a fused attention: its own output
        }
        return op("Reshape", v.dtype(), dims.length, List.of(v.name(), g.longs(false, dims)));
    }

    @Override
    public Tensor transpose(Tensor x, int... perm) {
        Sym v = s(x);
        long[] p = new long[perm.length];
        for (int i = 0; i < perm.length; i++) {
            p[i] = norm(perm[i], v.rank());
        }
        Sym t = op("Transpose", v.dtype(), v.rank(), List.of(v.name()), attrInts("perm", p));
        Heads heads = headsOf.get(v.name());
        if (heads != null && Arrays.equals(p, new long[] {0, 2, 1, 3})) {
            mergedOf.put(t.name(), heads);
        }
        return t;
    }

    @Override
    public Tensor unsqueeze(Tensor x, int axis) {
        Sym v = s(x);
        return op("Unsqueeze", v.dtype(), v.rank() + 1, List.of(v.name(), g.longs(false, axis)));
    }

    @Override
    public Tensor select(Tensor x, int axis, long index) {
        Sym v = s(x);
        return op("Gather", v.dtype(), v.rank() - 1, List.of(v.name(), g.longs(true, index)),
                attr("axis", (long) norm(axis, v.rank())));
    }

    @Override
    public Tensor slice(Tensor x, int axis, long start, long end) {
        Sym v = s(x);
        return op("Slice", v.dtype(), v.rank(), List.of(v.name(), g.longs(false, start), g.longs(false, end),
                g.longs(false, norm(axis, v.rank()))));
    }

    @Override
    public Tensor concat(int axis, Tensor... xs) {
        List<String> names = new ArrayList<>();
        for (Tensor t : xs) {
            names.add(s(t).name());
        }
        Sym first = s(xs[0]);
        return op("Concat", first.dtype(), first.rank(), names, attr("axis", (long) norm(axis, first.rank())));
    }

    @Override
    public Tensor gather(Tensor x, int axis, Tensor indices) {
        Sym v = s(x);
        return op("GatherElements", v.dtype(), v.rank(), List.of(v.name(), s(indices).name()),
                attr("axis", (long) norm(axis, v.rank())));
    }

    @Override
    public Tensor range(Tensor like, int axis) {
        Sym v = s(like);
        int a = norm(axis, v.rank());
        Sym size = op("Shape", DType.INT64, 1, List.of(v.name()), attr("start", (long) a), attr("end", (long) a + 1));
        Sym n = op("Squeeze", DType.INT64, 0, List.of(size.name(), g.longs(false, 0)));
        return op("Range", DType.INT64, 1, List.of(g.longs(true, 0), n.name(), g.longs(true, 1)));
    }

    // ---------------------------------------------------------------- types, comparison, selection

    @Override
    public Tensor cast(Tensor x, DType type) {
        Sym v = s(x);
        if (v.dtype() == type) {
            return v;
        }
        return op("Cast", type, v.rank(), List.of(v.name()), attr("to", (long) OnnxGraph.elemType(type)));
    }

    @Override
    public Tensor notEqual(Tensor x, long value) {
        Sym v = s(x);
        Sym eq = op("Equal", DType.BOOL, v.rank(), List.of(v.name(), constantLike(v, value).name()));
        return op("Not", DType.BOOL, v.rank(), List.of(eq.name()));
    }

    @Override
    public Tensor equal(Tensor a, Tensor b) {
        Sym x = s(a);
        Sym y = s(b);
        return op("Equal", DType.BOOL, Math.max(x.rank(), y.rank()), List.of(x.name(), y.name()));
    }

    @Override
    public Tensor greater(Tensor a, Tensor b) {
        Sym x = s(a);
        Sym y = s(b);
        return op("Greater", DType.BOOL, Math.max(x.rank(), y.rank()), List.of(x.name(), y.name()));
    }

    @Override
    public Tensor where(Tensor condition, Tensor a, Tensor b) {
        Sym c = s(condition);
        Sym x = s(a);
        Sym y = s(b);
        if (x.dtype() != y.dtype()) {
            y = s(cast(y, x.dtype()));
        }
        return op("Where", x.dtype(), Math.max(c.rank(), Math.max(x.rank(), y.rank())),
                List.of(c.name(), x.name(), y.name()));
    }

    // ---------------------------------------------------------------- reductions

    @Override
    public Tensor sum(Tensor x, int axis, boolean keepDims) {
        Sym v = s(x);
        return op("ReduceSum", v.dtype(), keepDims ? v.rank() : v.rank() - 1,
                List.of(v.name(), g.longs(false, norm(axis, v.rank()))), attr("keepdims", keepDims ? 1L : 0L));
    }

    @Override
    public Tensor mean(Tensor x, int axis, boolean keepDims) {
        Sym v = s(x);
        return op("ReduceMean", v.dtype(), keepDims ? v.rank() : v.rank() - 1, List.of(v.name()),
                attrInts("axes", norm(axis, v.rank())), attr("keepdims", keepDims ? 1L : 0L));
    }

    @Override
    public Tensor sumAll(Tensor x) {
        Sym v = s(x);
        return op("ReduceSum", v.dtype(), 0, List.of(v.name()), attr("keepdims", 0L));
    }

    @Override
    public Tensor max(Tensor x, int axis, boolean keepDims) {
        Sym v = s(x);
        return op("ReduceMax", v.dtype(), keepDims ? v.rank() : v.rank() - 1, List.of(v.name()),
                attrInts("axes", norm(axis, v.rank())), attr("keepdims", keepDims ? 1L : 0L));
    }

    @Override
    public Tensor cumsum(Tensor x, int axis) {
        Sym v = s(x);
        return op("CumSum", v.dtype(), v.rank(), List.of(v.name(), g.longs(true, norm(axis, v.rank()))));
    }
}
