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

    /**
     * @param graph where nodes go
     * @param values parameter values
     * @param float16Weights store float weights as FLOAT16 initializers (cast to float32 on use)
     */
    public OnnxOps(OnnxGraph graph, ParameterSource values, boolean float16Weights) {
        this.g = graph;
        this.values = values;
        this.float16Weights = float16Weights;
    }

    static Sym s(Tensor t) {
        if (t instanceof Sym sym) {
            return sym;
        }
        throw new IllegalArgumentException("not a value of the ONNX lowering: " + t);
    }

    private Sym op(String type, DType dtype, int rank, List<String> in, dev.attune.engine.onnx.proto.OnnxProto.AttributeProto... attrs) {
        return new Sym(g.node(type, in, attrs), dtype, rank);
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
        return new Sym(name, DType.FLOAT32, p.shape().length);
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

    // ---------------------------------------------------------------- shape

    @Override
    public Tensor reshape(Tensor x, long... dims) {
        Sym v = s(x);
        return op("Reshape", v.dtype(), dims.length, List.of(v.name(), g.longs(false, dims)));
    }

    @Override
    public Tensor transpose(Tensor x, int... perm) {
        Sym v = s(x);
        long[] p = new long[perm.length];
        for (int i = 0; i < perm.length; i++) {
            p[i] = norm(perm[i], v.rank());
        }
        return op("Transpose", v.dtype(), v.rank(), List.of(v.name()), attrInts("perm", p));
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
