package dev.attune.testing;

import dev.attune.ops.DType;
import dev.attune.ops.TensorData;
import java.util.Arrays;
import java.util.function.DoubleBinaryOperator;
import java.util.function.DoubleUnaryOperator;
import org.apache.commons.math3.special.Erf;

/**
 * A small row-major tensor of doubles: the reference the op-conformance suite computes expected
 * values with, one plain loop per op, in double precision, independent of any engine. Inputs are
 * made of float32-representable values so that the engine and the reference start from the same
 * numbers.
 *
 * @param shape dimensions
 * @param v values, row-major
 */
public record Nd(long[] shape, double[] v) {
    /** Validates the size. */
    public Nd {
        shape = shape.clone();
        if (TensorData.elementCount(shape) != v.length) {
            throw new IllegalArgumentException(v.length + " values for shape " + Arrays.toString(shape));
        }
    }

    /**
     * @param shape dimensions
     * @param values row-major values
     * @return the tensor
     */
    public static Nd of(long[] shape, double... values) {
        return new Nd(shape, values.clone());
    }

    /**
     * Deterministic values in about [-2, 2], each exactly representable as a float32.
     *
     * @param seed varies the values
     * @param shape dimensions
     * @return the tensor
     */
    public static Nd seeded(int seed, long... shape) {
        double[] v = new double[Math.toIntExact(TensorData.elementCount(shape))];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) (2 * Math.sin(1.7 * i + 0.9 * seed + 0.3) * Math.cos(0.37 * i * seed + 0.1));
        }
        return new Nd(shape, v);
    }

    /**
     * @param shape dimensions
     * @param values row-major values
     * @return the tensor
     */
    public static Nd ofLongs(long[] shape, long... values) {
        double[] v = new double[values.length];
        for (int i = 0; i < v.length; i++) {
            v[i] = values[i];
        }
        return new Nd(shape, v);
    }

    /** @return the values as a FLOAT32 tensor */
    public TensorData floats() {
        float[] f = new float[v.length];
        for (int i = 0; i < f.length; i++) {
            f[i] = (float) v[i];
        }
        return TensorData.ofFloats(shape, f);
    }

    /** @return the values as an INT64 tensor (they must be whole numbers) */
    public TensorData longs() {
        return TensorData.ofLongs(shape, toLongs());
    }

    /** @return the values as longs (they must be whole numbers) */
    public long[] toLongs() {
        long[] l = new long[v.length];
        for (int i = 0; i < l.length; i++) {
            if (v[i] != Math.rint(v[i])) {
                throw new IllegalStateException("not a whole number: " + v[i]);
            }
            l[i] = (long) v[i];
        }
        return l;
    }

    /**
     * @param type the element type
     * @return the values as a tensor of that type (FLOAT32 or INT64)
     */
    public TensorData as(DType type) {
        return switch (type) {
            case FLOAT32 -> floats();
            case INT64 -> longs();
            default -> throw new IllegalArgumentException("inputs are FLOAT32 or INT64, not " + type);
        };
    }

    /** @return number of axes */
    public int rank() {
        return shape.length;
    }

    /** @return number of elements */
    public int size() {
        return v.length;
    }

    private int axis(int axis) {
        int a = axis < 0 ? axis + shape.length : axis;
        if (a < 0 || a >= shape.length) {
            throw new IllegalArgumentException("axis " + axis + " of rank " + shape.length);
        }
        return a;
    }

    private int outer(int axis) {
        int n = 1;
        for (int i = 0; i < axis; i++) {
            n *= (int) shape[i];
        }
        return n;
    }

    private int inner(int axis) {
        int n = 1;
        for (int i = axis + 1; i < shape.length; i++) {
            n *= (int) shape[i];
        }
        return n;
    }

    // ---------------------------------------------------------------- elementwise

    /**
     * @param f a function of one value
     * @return f applied to every element
     */
    public Nd map(DoubleUnaryOperator f) {
        double[] out = new double[v.length];
        for (int i = 0; i < out.length; i++) {
            out[i] = f.applyAsDouble(v[i]);
        }
        return new Nd(shape, out);
    }

    /**
     * NumPy broadcasting: shapes aligned from the right, axes of size 1 stretched.
     *
     * @param other the right operand
     * @param f the function of both values
     * @return the result, in the broadcast shape
     */
    public Nd zip(Nd other, DoubleBinaryOperator f) {
        int rank = Math.max(rank(), other.rank());
        long[] out = new long[rank];
        for (int i = 0; i < rank; i++) {
            long a = dimFromRight(shape, rank - 1 - i);
            long b = dimFromRight(other.shape, rank - 1 - i);
            if (a != b && a != 1 && b != 1) {
                throw new IllegalArgumentException("cannot broadcast " + Arrays.toString(shape) + " and "
                        + Arrays.toString(other.shape));
            }
            out[i] = Math.max(a, b);
        }
        double[] values = new double[Math.toIntExact(TensorData.elementCount(out))];
        long[] idx = new long[rank];
        for (int flat = 0; flat < values.length; flat++) {
            unravel(out, flat, idx);
            values[flat] = f.applyAsDouble(v[broadcastOffset(shape, idx)], other.v[broadcastOffset(other.shape, idx)]);
        }
        return new Nd(out, values);
    }

    /**
     * @param a the first operand
     * @param b the second
     * @param c the third
     * @param f the function of the three values
     * @return f over the broadcast of the three shapes
     */
    static Nd zip3(Nd a, Nd b, Nd c, Ternary f) {
        // broadcast the positions: the flat index of each operand's element rides along as a value
        Nd ia = a.map(x -> 0).withIndices();
        Nd ib = b.map(x -> 0).withIndices();
        Nd ic = c.map(x -> 0).withIndices();
        Nd ab = ia.zip(ib, (x, y) -> x * 1_000_003 + y);
        return ab.zip(ic, (xy, z) -> {
            int x = (int) (xy / 1_000_003);
            int y = (int) (xy % 1_000_003);
            return f.apply(a.v[x], b.v[y], c.v[(int) z]);
        });
    }

    /** A function of three values. */
    @FunctionalInterface
    interface Ternary {
        double apply(double a, double b, double c);
    }

    private Nd withIndices() {
        double[] out = new double[v.length];
        for (int i = 0; i < out.length; i++) {
            out[i] = i;
        }
        return new Nd(shape, out);
    }

    private static long dimFromRight(long[] shape, int fromRight) {
        int i = shape.length - 1 - fromRight;
        return i < 0 ? 1 : shape[i];
    }

    private static void unravel(long[] shape, int flat, long[] idx) {
        long rest = flat;
        for (int a = shape.length - 1; a >= 0; a--) {
            idx[a] = rest % shape[a];
            rest /= shape[a];
        }
    }

    /** Offset in {@code shape} of the broadcast index {@code idx} (which may have more axes). */
    private static int broadcastOffset(long[] shape, long[] idx) {
        int offset = 0;
        int shift = idx.length - shape.length;
        for (int a = 0; a < shape.length; a++) {
            long i = shape[a] == 1 ? 0 : idx[a + shift];
            offset = (int) (offset * shape[a] + i);
        }
        return offset;
    }

    /** @return {@code this + o} */
    public Nd add(Nd o) {
        return zip(o, Double::sum);
    }

    /** @return {@code this - o} */
    public Nd sub(Nd o) {
        return zip(o, (a, b) -> a - b);
    }

    /** @return {@code this * o} */
    public Nd mul(Nd o) {
        return zip(o, (a, b) -> a * b);
    }

    /** @return {@code this / o} */
    public Nd div(Nd o) {
        return zip(o, (a, b) -> a / b);
    }

    /** @return the Gauss error function of every element */
    public Nd erf() {
        return map(Erf::erf);
    }

    /** @return exact GELU, {@code x * (1 + erf(x / sqrt 2)) / 2} */
    public Nd gelu() {
        return map(x -> x * 0.5 * (1 + Erf.erf(x / Math.sqrt(2))));
    }

    /** @return GELU's tanh approximation */
    public Nd geluTanh() {
        return map(x -> 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x))));
    }

    // ---------------------------------------------------------------- shape

    /**
     * @param dims new dimensions (no 0 or -1: the reference spells them out)
     * @return the same values in that shape
     */
    public Nd reshape(long... dims) {
        return new Nd(dims, v);
    }

    /**
     * @param perm a permutation of the axes
     * @return the permuted tensor
     */
    public Nd transpose(int... perm) {
        long[] out = new long[perm.length];
        for (int i = 0; i < perm.length; i++) {
            out[i] = shape[perm[i]];
        }
        double[] values = new double[v.length];
        long[] idx = new long[perm.length];
        long[] src = new long[perm.length];
        for (int flat = 0; flat < values.length; flat++) {
            unravel(out, flat, idx);
            for (int i = 0; i < perm.length; i++) {
                src[perm[i]] = idx[i];
            }
            values[flat] = v[broadcastOffset(shape, src)];
        }
        return new Nd(out, values);
    }

    /**
     * @param axis where the new axis goes (negative: counted from the end of the result)
     * @return the tensor with an axis of size 1 inserted
     */
    public Nd unsqueeze(int axis) {
        int a = axis < 0 ? axis + shape.length + 1 : axis;
        long[] out = new long[shape.length + 1];
        for (int i = 0, j = 0; i < out.length; i++) {
            out[i] = i == a ? 1 : shape[j++];
        }
        return new Nd(out, v);
    }

    /**
     * @param axis an axis
     * @param start first index
     * @param end index after the last
     * @return the slice
     */
    public Nd slice(int axis, long start, long end) {
        int a = axis(axis);
        int outer = outer(a);
        int inner = inner(a);
        int len = (int) shape[a];
        int n = (int) (end - start);
        long[] out = shape.clone();
        out[a] = n;
        double[] values = new double[outer * n * inner];
        for (int o = 0; o < outer; o++) {
            System.arraycopy(v, (o * len + (int) start) * inner, values, o * n * inner, n * inner);
        }
        return new Nd(out, values);
    }

    /**
     * @param axis an axis
     * @param index a position along it
     * @return the tensor at that position, without the axis
     */
    public Nd select(int axis, long index) {
        int a = axis(axis);
        Nd s = slice(a, index, index + 1);
        long[] out = new long[shape.length - 1];
        for (int i = 0, j = 0; i < shape.length; i++) {
            if (i != a) {
                out[j++] = shape[i];
            }
        }
        return new Nd(out, s.v);
    }

    /**
     * @param axis the axis to join along
     * @param parts tensors of equal shape but along the axis
     * @return the concatenation
     */
    public static Nd concat(int axis, Nd... parts) {
        int a = parts[0].axis(axis);
        int outer = parts[0].outer(a);
        int inner = parts[0].inner(a);
        long[] out = parts[0].shape.clone();
        out[a] = 0;
        for (Nd p : parts) {
            out[a] += p.shape[a];
        }
        double[] values = new double[Math.toIntExact(TensorData.elementCount(out))];
        int pos = 0;
        for (int o = 0; o < outer; o++) {
            for (Nd p : parts) {
                int n = (int) p.shape[a] * inner;
                System.arraycopy(p.v, o * n, values, pos, n);
                pos += n;
            }
        }
        return new Nd(out, values);
    }

    /**
     * NumPy {@code take_along_axis}: {@code out[o, j, i] = x[o, index[o, j, i], i]}.
     *
     * @param axis the axis to gather along
     * @param index whole numbers, the same rank, equal to this shape but along the axis
     * @return the gathered values, in the shape of the index
     */
    public Nd gather(int axis, Nd index) {
        int a = axis(axis);
        int outer = outer(a);
        int inner = inner(a);
        int len = (int) shape[a];
        int n = (int) index.shape[a];
        double[] values = new double[index.v.length];
        for (int o = 0; o < outer; o++) {
            for (int j = 0; j < n; j++) {
                for (int i = 0; i < inner; i++) {
                    int at = (int) index.v[(o * n + j) * inner + i];
                    values[(o * n + j) * inner + i] = v[(o * len + at) * inner + i];
                }
            }
        }
        return new Nd(index.shape, values);
    }

    /**
     * @param ids whole numbers, any shape
     * @return rows of this [rows, dim] table, shape {@code ids.shape + [dim]}
     */
    public Nd embedding(Nd ids) {
        int dim = (int) shape[1];
        long[] out = Arrays.copyOf(ids.shape, ids.rank() + 1);
        out[ids.rank()] = dim;
        double[] values = new double[ids.size() * dim];
        for (int i = 0; i < ids.size(); i++) {
            System.arraycopy(v, (int) ids.v[i] * dim, values, i * dim, dim);
        }
        return new Nd(out, values);
    }

    // ---------------------------------------------------------------- reductions

    /** A reduction of one row of values along an axis. */
    @FunctionalInterface
    interface Reduction {
        double apply(double[] row);
    }

    private Nd reduce(int axis, boolean keepDims, Reduction r) {
        int a = axis(axis);
        int outer = outer(a);
        int inner = inner(a);
        int len = (int) shape[a];
        double[] values = new double[outer * inner];
        double[] row = new double[len];
        for (int o = 0; o < outer; o++) {
            for (int i = 0; i < inner; i++) {
                for (int j = 0; j < len; j++) {
                    row[j] = v[(o * len + j) * inner + i];
                }
                values[o * inner + i] = r.apply(row);
            }
        }
        long[] out;
        if (keepDims) {
            out = shape.clone();
            out[a] = 1;
        } else {
            out = new long[shape.length - 1];
            for (int i = 0, j = 0; i < shape.length; i++) {
                if (i != a) {
                    out[j++] = shape[i];
                }
            }
        }
        return new Nd(out, values);
    }

    /** @return sum along the axis */
    public Nd sum(int axis, boolean keepDims) {
        return reduce(axis, keepDims, row -> Arrays.stream(row).sum());
    }

    /** @return mean along the axis */
    public Nd mean(int axis, boolean keepDims) {
        return reduce(axis, keepDims, row -> Arrays.stream(row).sum() / row.length);
    }

    /** @return maximum along the axis */
    public Nd max(int axis, boolean keepDims) {
        return reduce(axis, keepDims, row -> Arrays.stream(row).max().orElseThrow());
    }

    /** @return the sum of every element, rank 0 */
    public Nd sumAll() {
        return new Nd(new long[0], new double[] {Arrays.stream(v).sum()});
    }

    /** Replaces each row along an axis by a function of that row. */
    @FunctionalInterface
    interface RowMap {
        double[] apply(double[] row);
    }

    private Nd alongAxis(int axis, RowMap f) {
        int a = axis(axis);
        int outer = outer(a);
        int inner = inner(a);
        int len = (int) shape[a];
        double[] values = new double[v.length];
        double[] row = new double[len];
        for (int o = 0; o < outer; o++) {
            for (int i = 0; i < inner; i++) {
                for (int j = 0; j < len; j++) {
                    row[j] = v[(o * len + j) * inner + i];
                }
                double[] r = f.apply(row);
                for (int j = 0; j < len; j++) {
                    values[(o * len + j) * inner + i] = r[j];
                }
            }
        }
        return new Nd(shape, values);
    }

    /** @return inclusive cumulative sum along the axis */
    public Nd cumsum(int axis) {
        return alongAxis(axis, row -> {
            double[] out = new double[row.length];
            double s = 0;
            for (int j = 0; j < row.length; j++) {
                s += row[j];
                out[j] = s;
            }
            return out;
        });
    }

    /** @return log-softmax along the axis (computed around the row maximum) */
    public Nd logSoftmax(int axis) {
        return alongAxis(axis, row -> {
            double max = Arrays.stream(row).max().orElseThrow();
            double z = 0;
            for (double x : row) {
                z += Math.exp(x - max);
            }
            double log = Math.log(z) + max;
            double[] out = new double[row.length];
            for (int j = 0; j < row.length; j++) {
                out[j] = row[j] - log;
            }
            return out;
        });
    }

    /** @return softmax along the axis */
    public Nd softmax(int axis) {
        return logSoftmax(axis).map(Math::exp);
    }

    /**
     * @param gamma scale, [dim]
     * @param beta shift, [dim]
     * @param eps added to the (biased) variance
     * @return layer normalisation over the last axis
     */
    public Nd layerNorm(Nd gamma, Nd beta, double eps) {
        int dim = (int) shape[shape.length - 1];
        double[] out = new double[v.length];
        for (int r = 0; r < v.length / dim; r++) {
            double mean = 0;
            for (int j = 0; j < dim; j++) {
                mean += v[r * dim + j];
            }
            mean /= dim;
            double var = 0;
            for (int j = 0; j < dim; j++) {
                double d = v[r * dim + j] - mean;
                var += d * d;
            }
            var /= dim;
            for (int j = 0; j < dim; j++) {
                out[r * dim + j] = (v[r * dim + j] - mean) / Math.sqrt(var + eps) * gamma.v[j] + beta.v[j];
            }
        }
        return new Nd(shape, out);
    }

    /**
     * Batched matrix product over the last two axes, leading axes broadcast.
     *
     * @param b the right operand, {@code [..., k, m]}
     * @return {@code this @ b}
     */
    public Nd matmul(Nd b) {
        int n = (int) shape[rank() - 2];
        int k = (int) shape[rank() - 1];
        int m = (int) b.shape[b.rank() - 1];
        if (b.shape[b.rank() - 2] != k) {
            throw new IllegalArgumentException("matmul " + Arrays.toString(shape) + " @ " + Arrays.toString(b.shape));
        }
        long[] batchA = Arrays.copyOf(shape, rank() - 2);
        long[] batchB = Arrays.copyOf(b.shape, b.rank() - 2);
        // broadcast the batch axes with a placeholder elementwise op on index tensors
        Nd ia = new Nd(batchA, new double[Math.toIntExact(TensorData.elementCount(batchA))]).withIndices();
        Nd ib = new Nd(batchB, new double[Math.toIntExact(TensorData.elementCount(batchB))]).withIndices();
        Nd pairs = ia.zip(ib, (x, y) -> x * 1_000_003 + y);
        long[] out = Arrays.copyOf(pairs.shape, pairs.rank() + 2);
        out[pairs.rank()] = n;
        out[pairs.rank() + 1] = m;
        double[] values = new double[pairs.size() * n * m];
        for (int p = 0; p < pairs.size(); p++) {
            int x = (int) (pairs.v[p] / 1_000_003);
            int y = (int) (pairs.v[p] % 1_000_003);
            for (int i = 0; i < n; i++) {
                for (int j = 0; j < m; j++) {
                    double s = 0;
                    for (int t = 0; t < k; t++) {
                        s += v[(x * n + i) * k + t] * b.v[(y * k + t) * m + j];
                    }
                    values[(p * n + i) * m + j] = s;
                }
            }
        }
        return new Nd(out, values);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Nd n && Arrays.equals(shape, n.shape) && Arrays.equals(v, n.v);
    }

    @Override
    public int hashCode() {
        return 31 * Arrays.hashCode(shape) + Arrays.hashCode(v);
    }

    @Override
    public String toString() {
        return "Nd" + Arrays.toString(shape) + Arrays.toString(v);
    }
}
