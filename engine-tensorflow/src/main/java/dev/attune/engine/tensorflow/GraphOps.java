package dev.attune.engine.tensorflow;

import dev.attune.ops.DType;
import dev.attune.ops.Ops;
import dev.attune.ops.Parameter;
import dev.attune.ops.Tensor;
import java.util.HashMap;
import java.util.Map;
import java.util.function.Consumer;
import java.util.function.Function;
import org.tensorflow.Graph;
import org.tensorflow.GraphOperationBuilder;
import org.tensorflow.Output;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.op.OpScope;
import org.tensorflow.op.Scope;
import org.tensorflow.proto.DataType;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.TInt64;
import org.tensorflow.types.family.TType;

/**
 * The ops contract lowered to TensorFlow graph nodes: each call adds raw operations to a {@link
 * Graph} under one name scope, so one forward pass traced with placeholders serves every batch
 * (batch and sequence axes stay dynamic).
 *
 * <p>Engine quirks live here, each with its reason:
 *
 * <ul>
 *   <li>Only ops whose gradients TensorFlow's C++ gradient registry has are emitted, so {@code
 *       Graph.addGradients} works on every forward pass: GELU stays the erf composite of the contract
 *       (TF's {@code Gelu} op has no C++ gradient); {@link #gather} is a one-hot product instead of
 *       {@code GatherNd}; slicing is {@code StridedSlice}.
 *   <li>{@link #logSoftmax} runs {@code LogSoftmax} on a 2-D view: its C++ gradient sums over axis
 *       1, which is the class axis only for rank 2 (a language model's [B, T, V] logits trained
 *       with wrong gradients before).
 *   <li>{@link #reshape}'s 0 ("copy this dimension") has no TF equivalent: the target shape is built
 *       from constants and the input's dynamic {@code Shape}.
 *   <li>{@link #linear} and a matmul against a rank-2 weight flatten the leading axes into one
 *       {@code MatMul}, TensorFlow's fastest and best-supported gradient path.
 *   <li>Dropout draws from {@code StatelessRandomUniform} with a seed fed at run time, so the trainer
 *       can reseed each pass without rebuilding the graph.
 * </ul>
 */
class GraphOps implements Ops {
    /**
     * A graph value. The training session's in-place update ops rebind it to the node computing the
     * new value, so later reads of it in the same kernel see that value.
     */
    static final class T implements Tensor {
        private Output<?> o;

        T(Output<?> o) {
            this.o = o;
        }

        Output<?> o() {
            return o;
        }

        void rebind(Output<?> next) {
            o = next;
        }
    }

    private final Graph graph;
    private final Scope scope;
    private final Function<Parameter, Output<?>> params;
    private final boolean training;
    private final Output<?> seed;
    private final Map<Float, Output<?>> scalars = new HashMap<>();
    private int dropouts;

    /**
     * @param graph the graph to add to
     * @param prefix name scope of every op added (unique per trace)
     * @param params the value of each parameter (a variable read)
     * @param training whether dropout is active
     * @param seed INT64 {@code [2]} placeholder seeding dropout, or null when not training
     */
    GraphOps(Graph graph, String prefix, Function<Parameter, Output<?>> params, boolean training, Output<?> seed) {
        this.graph = graph;
        this.scope = new OpScope(graph).withSubScope(prefix);
        this.params = params;
        this.training = training;
        this.seed = seed;
    }

    static Output<?> o(Tensor t) {
        return ((T) t).o();
    }

    // ---------------------------------------------------------------- graph building helpers

    /** Adds one operation with the given inputs and attributes; returns its first output. */
    Output<?> op(String type, Consumer<GraphOperationBuilder> attrs, Output<?>... inputs) {
        return build(graph, scope, type, attrs, inputs);
    }

    static Output<?> build(Graph graph, Scope scope, String type, Consumer<GraphOperationBuilder> attrs,
            Output<?>... inputs) {
        GraphOperationBuilder b = graph.opBuilder(type, scope.makeOpName(type), scope);
        for (Output<?> in : inputs) {
            b.addInput(in);
        }
        if (attrs != null) {
            attrs.accept(b);
        }
        return b.build().output(0);
    }

    Output<?> op(String type, Output<?>... inputs) {
        return op(type, null, inputs);
    }

    /** A constant from a tensor that is closed once the graph holds its copy. */
    static Output<?> constant(Graph graph, Scope scope, TType value) {
        try (value) {
            return build(graph, scope, "Const", b -> b.setAttr("value", value).setAttr("dtype", value.dataType()));
        }
    }

    Output<?> constant(TType value) {
        return constant(graph, scope, value);
    }

    Output<?> i32(int... values) {
        return constant(TInt32.vectorOf(values));
    }

    Output<?> i32Scalar(int value) {
        return constant(TInt32.scalarOf(value));
    }

    Output<?> i64(long... values) {
        return constant(TInt64.vectorOf(values));
    }

    Output<?> i64Scalar(long value) {
        return constant(TInt64.scalarOf(value));
    }

    static int rank(Output<?> x) {
        int r = x.shape().numDimensions();
        if (r < 0) {
            throw new IllegalStateException("rank of " + x.name() + " is unknown in the traced graph");
        }
        return r;
    }

    static int axis(Output<?> x, int axis) {
        return axis < 0 ? axis + rank(x) : axis;
    }

    /** @return INT64 {@code shape(x)} */
    Output<?> shapeOf(Output<?> x) {
        return op("Shape", b -> b.setAttr("out_type", DataType.DT_INT64), x);
    }

    /** @return INT64 scalar size of one axis: a constant when statically known */
    Output<?> dim(Output<?> x, int axis) {
        long known = x.shape().numDimensions() < 0 ? -1 : x.shape().size(axis);
        if (known >= 0) {
            return i64Scalar(known);
        }
        return stridedSlice(shapeOf(x), new long[] {axis}, new long[] {axis + 1}, 0, 0, 1);
    }

    /** StridedSlice with explicit begin/end vectors and masks. */
    Output<?> stridedSlice(Output<?> x, long[] begin, long[] end, long beginMask, long endMask, long shrinkMask) {
        // int32 indices: TF's C++ StridedSlice gradient builds its shape input as int32
        int[] b32 = new int[begin.length];
        int[] e32 = new int[end.length];
        int[] strides = new int[begin.length];
        for (int i = 0; i < b32.length; i++) {
            b32[i] = Math.toIntExact(begin[i]);
            e32[i] = (int) Math.min(Integer.MAX_VALUE, end[i]);
            strides[i] = 1;
        }
        return op("StridedSlice", b -> b.setAttr("begin_mask", beginMask).setAttr("end_mask", endMask)
                .setAttr("shrink_axis_mask", shrinkMask), x, i32(b32), i32(e32), i32(strides));
    }

    static DataType dataType(DType type) {
        return switch (type) {
            case FLOAT32 -> DataType.DT_FLOAT;
            case FLOAT16 -> DataType.DT_HALF;
            case INT64 -> DataType.DT_INT64;
            case INT32 -> DataType.DT_INT32;
            case BOOL -> DataType.DT_BOOL;
            case BFLOAT16 -> DataType.DT_BFLOAT16;
        };
    }

    /**
     * @return the value type of a reference type ({@code float_ref}, what a read of a ref variable
     *     has), else the type itself: a type taken from a variable read and handed to an attribute
     *     ({@code Cast}'s {@code DstT}) must not be a reference type
     */
    static DataType valueType(DataType t) {
        int n = t.getNumber();
        return n > 100 ? DataType.forNumber(n - 100) : t;
    }

    private Output<?> castTo(Output<?> x, DataType to) {
        DataType type = valueType(to);
        if (valueType(x.dataType()) == type) {
            return x;
        }
        return op("Cast", b -> b.setAttr("DstT", type), x);
    }

    private static boolean isFloat(DataType t) {
        return t == DataType.DT_FLOAT || t == DataType.DT_HALF || t == DataType.DT_DOUBLE;
    }

    /**
     * PyTorch promotes mixed operands (an integer tensor times a float scalar); TensorFlow refuses
     * them, so the integer side is cast to float32, or both integers widened to int64.
     */
    private Output<?>[] promote(Output<?> a, Output<?> b) {
        DataType ta = valueType(a.dataType());
        DataType tb = valueType(b.dataType());
        if (ta == tb) {
            return new Output<?>[] {a, b};
        }
        DataType to = isFloat(ta) || isFloat(tb) ? DataType.DT_FLOAT : DataType.DT_INT64;
        return new Output<?>[] {castTo(a, to), castTo(b, to)};
    }

    private T binary(String type, Tensor a, Tensor b) {
        Output<?>[] p = promote(o(a), o(b));
        return new T(op(type, p[0], p[1]));
    }

    // ---------------------------------------------------------------- values

    @Override
    public Tensor parameter(Parameter p) {
        return new T(params.apply(p));
    }

    @Override
    public Tensor scalar(float value) {
        return new T(scalars.computeIfAbsent(value, v -> constant(TFloat32.scalarOf(v))));
    }

    @Override
    public Tensor constant(long[] shape, float[] values) {
        return new T(constant(TFloat32.tensorOf(Shape.of(shape), DataBuffers.of(values, true, false))));
    }

    @Override
    public boolean isTraining() {
        return training;
    }

    // ---------------------------------------------------------------- elementwise

    @Override
    public Tensor add(Tensor a, Tensor b) {
        return binary("AddV2", a, b);
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
        Output<?>[] p = promote(o(a), o(b));
        return new T(op(isFloat(p[0].dataType()) ? "RealDiv" : "FloorDiv", p[0], p[1]));
    }

    @Override
    public Tensor neg(Tensor x) {
        return new T(op("Neg", o(x)));
    }

    @Override
    public Tensor exp(Tensor x) {
        return new T(op("Exp", o(x)));
    }

    @Override
    public Tensor log(Tensor x) {
        return new T(op("Log", o(x)));
    }

    @Override
    public Tensor sqrt(Tensor x) {
        return new T(op("Sqrt", o(x)));
    }

    @Override
    public Tensor pow(Tensor x, float exponent) {
        return new T(op("Pow", o(x), o(scalar(exponent))));
    }

    @Override
    public Tensor tanh(Tensor x) {
        return new T(op("Tanh", o(x)));
    }

    @Override
    public Tensor sigmoid(Tensor x) {
        return new T(op("Sigmoid", o(x)));
    }

    @Override
    public Tensor relu(Tensor x) {
        return new T(op("Relu", o(x)));
    }

    @Override
    public Tensor erf(Tensor x) {
        return new T(op("Erf", o(x)));
    }

    @Override
    public Tensor cos(Tensor x) {
        return new T(op("Cos", o(x)));
    }

    @Override
    public Tensor sin(Tensor x) {
        return new T(op("Sin", o(x)));
    }

    // ---------------------------------------------------------------- neural network

    /** {@code x W^T + b} as one 2-D MatMul (transpose_b) and BiasAdd over the flattened leading axes. */
    @Override
    public Tensor linear(Tensor x, Tensor weight, Tensor bias) {
        Output<?> in = o(x);
        Output<?> w = o(weight);
        long out = w.shape().size(0);
        int r = rank(in);
        long inDim = w.shape().size(1);
        // a weight fed as an input has unknown dimensions in the trace: its size is read at run time
        Output<?> flatShape = inDim >= 0 ? i64(-1, inDim) : concatOutputs(0, i64(-1), op("Reshape", dim(w, 1), i64(1)));
        Output<?> flat = r == 2 ? in : op("Reshape", in, flatShape);
        Output<?> y = op("MatMul", b -> b.setAttr("transpose_b", true), flat, w);
        if (bias != null) {
            y = op("BiasAdd", y, o(bias));
        }
        return new T(r == 2 ? y : unflatten(y, in, out));
    }

    /** Reshapes {@code [N, out]} back to {@code like.shape[:-1] + [out]}. */
    private Output<?> unflatten(Output<?> y, Output<?> like, long out) {
        int r = rank(like);
        Output<?>[] dims = new Output<?>[r];
        for (int i = 0; i < r - 1; i++) {
            dims[i] = op("Reshape", dim(like, i), i64(1));
        }
        dims[r - 1] = i64(out);
        Output<?> shape = concatOutputs(0, dims);
        return op("Reshape", y, shape);
    }

    @Override
    public Tensor matmul(Tensor a, Tensor b) {
        Output<?> x = o(a);
        Output<?> y = o(b);
        if (rank(y) == 2 && rank(x) > 2 && y.shape().size(0) >= 0 && y.shape().size(1) >= 0) {
            // x [..., k] @ W [k, n] with W's shape known (a weight): one MatMul over the flattened
            // leading axes (GPT-2's Conv1D); an operand of unknown shape takes the broadcasting BatchMatMulV3
            Output<?> flat = op("Reshape", x, i64(-1, y.shape().size(0)));
            return new T(unflatten(op("MatMul", flat, y), x, y.shape().size(1)));
        }
        if (rank(x) == 2 && rank(y) == 2) {
            return new T(op("MatMul", x, y));
        }
        return new T(op("BatchMatMulV3", bld -> bld.setAttr("Tout", valueType(x.dataType())), x, y));
    }

    @Override
    public Tensor embedding(Tensor table, Tensor ids) {
        return new T(op("GatherV2", o(table), o(ids), i32Scalar(0)));
    }

    @Override
    public Tensor layerNorm(Tensor x, Tensor gamma, Tensor beta, float eps) {
        Output<?> in = o(x);
        Output<?> axes = i32(-1);
        // Centered first and squared with Square, not SquaredDifference: grappler's oneDNN remapper
        // fuses the SquaredDifference form into a layer norm and then aborts the process (TF 2.16)
        // when gamma and beta are variables, in our sessions and in any that loads an export.
        Output<?> mean = op("Mean", b -> b.setAttr("keep_dims", true), in, axes);
        Output<?> centered = op("Sub", in, mean);
        Output<?> var = op("Mean", b -> b.setAttr("keep_dims", true), op("Square", centered), axes);
        Output<?> inv = op("Rsqrt", op("AddV2", var, o(scalar(eps))));
        Output<?> norm = op("Mul", centered, inv);
        return new T(op("AddV2", op("Mul", norm, o(gamma)), o(beta)));
    }

    /** Softmax ops of TF act on the last axis; another axis is moved there and back. */
    private Tensor lastAxis(String type, Tensor x, int axis) {
        Output<?> in = o(x);
        int r = rank(in);
        int ax = axis(in, axis);
        if (ax == r - 1) {
            return new T(op(type, in));
        }
        int[] perm = new int[r];
        for (int i = 0; i < r; i++) {
            perm[i] = i;
        }
        perm[ax] = r - 1;
        perm[r - 1] = ax;
        Output<?> moved = op(type, op("Transpose", in, i32(perm)));
        return new T(op("Transpose", moved, i32(perm)));
    }

    @Override
    public Tensor softmax(Tensor x, int axis) {
        return lastAxis("Softmax", x, axis);
    }

    /**
     * LogSoftmax on a 2-D view: TF's C++ gradient of {@code LogSoftmax} (nn_grad.cc, TF 2.16) sums the
     * incoming gradient over axis 1, not the last axis, so on a rank-3 input ([B, T, V] language-model
     * logits) it mixes positions and the gradient is wrong though the forward value is right. The
     * input is flattened to {@code [-1, C]} around the op, where axis 1 is the last one.
     */
    @Override
    public Tensor logSoftmax(Tensor x, int axis) {
        Output<?> in = o(x);
        int r = rank(in);
        int ax = axis(in, axis);
        if (ax != r - 1) {
            int[] perm = new int[r];
            for (int i = 0; i < r; i++) {
                perm[i] = i;
            }
            perm[ax] = r - 1;
            perm[r - 1] = ax;
            Tensor moved = logSoftmax(new T(op("Transpose", in, i32(perm))), -1);
            return new T(op("Transpose", o(moved), i32(perm)));
        }
        if (r == 2) {
            return new T(op("LogSoftmax", in));
        }
        long classes = in.shape().size(r - 1);
        Output<?> twoD = classes >= 0 ? i64(-1, classes)
                : concatOutputs(0, i64(-1), op("Reshape", dim(in, r - 1), i64(1)));
        Output<?> flat = op("LogSoftmax", op("Reshape", in, twoD));
        return new T(op("Reshape", flat, shapeOf(in)));
    }

    @Override
    public Tensor dropout(Tensor x, float p) {
        if (!training || p <= 0f) {
            return x;
        }
        Output<?> in = o(x);
        // a distinct stream per dropout site: seed + [0, site]
        Output<?> siteSeed = op("AddV2", seed, i64(0, ++dropouts));
        Output<?> u = op("StatelessRandomUniform", b -> b.setAttr("dtype", DataType.DT_FLOAT), shapeOf(in), siteSeed);
        Output<?> keep = op("Cast", b -> b.setAttr("DstT", DataType.DT_FLOAT), op("GreaterEqual", u, o(scalar(p))));
        return new T(op("Mul", op("Mul", in, keep), o(scalar(1f / (1f - p)))));
    }

    // ---------------------------------------------------------------- shape

    @Override
    public Tensor reshape(Tensor x, long... dims) {
        Output<?> in = o(x);
        boolean copies = false;
        for (long d : dims) {
            copies |= d == 0;
        }
        if (!copies) {
            return new T(op("Reshape", in, i64(dims)));
        }
        Output<?>[] parts = new Output<?>[dims.length];
        for (int i = 0; i < dims.length; i++) {
            parts[i] = dims[i] == 0 ? op("Reshape", dim(in, i), i64(1)) : i64(dims[i]);
        }
        return new T(op("Reshape", in, concatOutputs(0, parts)));
    }

    @Override
    public Tensor transpose(Tensor x, int... perm) {
        return new T(op("Transpose", o(x), i32(perm)));
    }

    @Override
    public Tensor unsqueeze(Tensor x, int axis) {
        return new T(op("ExpandDims", o(x), i32Scalar(axis)));
    }

    @Override
    public Tensor select(Tensor x, int axis, long index) {
        Output<?> in = o(x);
        int r = rank(in);
        int ax = axis(in, axis);
        long[] begin = new long[r];
        long[] end = new long[r];
        begin[ax] = index;
        end[ax] = index + 1;
        long all = ((1L << r) - 1) & ~(1L << ax);
        return new T(stridedSlice(in, begin, end, all, all, 1L << ax));
    }

    @Override
    public Tensor slice(Tensor x, int axis, long start, long end) {
        Output<?> in = o(x);
        int r = rank(in);
        int ax = axis(in, axis);
        long[] b = new long[r];
        long[] e = new long[r];
        b[ax] = start;
        e[ax] = end;
        long all = ((1L << r) - 1) & ~(1L << ax);
        return new T(stridedSlice(in, b, e, all, all, 0));
    }

    private Output<?> concatOutputs(int axis, Output<?>... xs) {
        GraphOperationBuilder b = graph.opBuilder("ConcatV2", scope.makeOpName("ConcatV2"), scope);
        b.addInputList(xs);
        b.addInput(i32Scalar(axis));
        return b.build().output(0);
    }

    @Override
    public Tensor concat(int axis, Tensor... xs) {
        Output<?>[] outs = new Output<?>[xs.length];
        for (int i = 0; i < xs.length; i++) {
            outs[i] = o(xs[i]);
        }
        return new T(concatOutputs(axis, outs));
    }

    /**
     * {@code take_along_axis} as a one-hot product: the gathered axis is moved last, the indices
     * one-hot encoded over its size and multiplied in, then summed out. Mul and Sum have gradients,
     * where {@code GatherNd}'s is missing from TF's C++ registry in this release.
     */
    @Override
    public Tensor gather(Tensor x, int axis, Tensor indices) {
        Output<?> in = o(x);
        Output<?> idx = o(indices);
        int r = rank(in);
        int ax = axis(in, axis);
        int[] perm = new int[r];
        for (int i = 0; i < r; i++) {
            perm[i] = i;
        }
        perm[ax] = r - 1;
        perm[r - 1] = ax;
        boolean move = ax != r - 1;
        Output<?> xs = move ? op("Transpose", in, i32(perm)) : in;
        Output<?> is = move ? op("Transpose", idx, i32(perm)) : idx;
        Output<?> depth = op("Cast", b -> b.setAttr("DstT", DataType.DT_INT32), dim(in, ax));
        Output<?> on = castTo(o(scalar(1f)), xs.dataType());
        Output<?> off = castTo(o(scalar(0f)), xs.dataType());
        Output<?> hot = op("OneHot", b -> b.setAttr("axis", -1L), is, depth, on, off); // [..., k, C]
        Output<?> expanded = op("ExpandDims", xs, i32Scalar(-2)); // [..., 1, C]
        Output<?> picked = op("Sum", b -> b.setAttr("keep_dims", false), op("Mul", expanded, hot), i32(-1));
        return new T(move ? op("Transpose", picked, i32(perm)) : picked);
    }

    @Override
    public Tensor range(Tensor like, int axis) {
        Output<?> in = o(like);
        return new T(op("Range", i64Scalar(0), dim(in, axis(in, axis)), i64Scalar(1)));
    }

    // ---------------------------------------------------------------- types, comparison, selection

    @Override
    public Tensor cast(Tensor x, DType type) {
        return new T(castTo(o(x), dataType(type)));
    }

    @Override
    public Tensor notEqual(Tensor x, long value) {
        Output<?> in = o(x);
        Output<?> v = castTo(i64Scalar(value), in.dataType());
        return new T(op("NotEqual", in, v));
    }

    @Override
    public Tensor equal(Tensor a, Tensor b) {
        return binary("Equal", a, b);
    }

    @Override
    public Tensor greater(Tensor a, Tensor b) {
        return binary("Greater", a, b);
    }

    @Override
    public Tensor where(Tensor condition, Tensor a, Tensor b) {
        Output<?>[] p = promote(o(a), o(b));
        return new T(op("SelectV2", o(condition), p[0], p[1]));
    }

    // ---------------------------------------------------------------- reductions

    private Tensor reduce(String type, Tensor x, int axis, boolean keepDims) {
        return new T(op(type, b -> b.setAttr("keep_dims", keepDims), o(x), i32(axis)));
    }

    @Override
    public Tensor sum(Tensor x, int axis, boolean keepDims) {
        return reduce("Sum", x, axis, keepDims);
    }

    @Override
    public Tensor mean(Tensor x, int axis, boolean keepDims) {
        return reduce("Mean", x, axis, keepDims);
    }

    @Override
    public Tensor sumAll(Tensor x) {
        Output<?> in = o(x);
        int r = rank(in);
        int[] axes = new int[r];
        for (int i = 0; i < r; i++) {
            axes[i] = i;
        }
        return new T(op("Sum", b -> b.setAttr("keep_dims", false), in, i32(axes)));
    }

    @Override
    public Tensor max(Tensor x, int axis, boolean keepDims) {
        return reduce("Max", x, axis, keepDims);
    }

    @Override
    public Tensor cumsum(Tensor x, int axis) {
        return new T(op("Cumsum", o(x), i32Scalar(axis)));
    }
}
