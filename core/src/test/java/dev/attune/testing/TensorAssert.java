package dev.attune.testing;

import dev.attune.ops.DType;
import dev.attune.ops.TensorData;
import java.util.Arrays;
import org.assertj.core.api.AbstractAssert;

/**
 * AssertJ assertions on a {@link TensorData}: element type, shape, and values within a {@link
 * Tolerance}. A failure names the worst element by its index in the shape, with the actual and the
 * expected value, the difference and what was allowed, and how many elements are off, so one message
 * tells whether a lowering is off by rounding, by a row, or by a transposition.
 *
 * <pre>{@code
 * assertThatTensor(out.get("logits")).as("bert-seqcls logits")
 *         .hasShape(1, 2).isCloseTo(new long[] {1, 2}, expected, Tolerance.absolute(1e-5));
 * }</pre>
 */
public final class TensorAssert extends AbstractAssert<TensorAssert, TensorData> {
    private TensorAssert(TensorData actual) {
        super(actual, TensorAssert.class);
    }

    /**
     * @param actual the tensor under test
     * @return its assertion
     */
    public static TensorAssert assertThatTensor(TensorData actual) {
        return new TensorAssert(actual);
    }

    /**
     * @param dtype the expected element type
     * @return this
     */
    public TensorAssert hasDType(DType dtype) {
        isNotNull();
        if (actual.dtype() != dtype) {
            failWithMessage("expected element type %s but was %s", dtype, actual.dtype());
        }
        return this;
    }

    /**
     * @param shape the expected dimensions
     * @return this
     */
    public TensorAssert hasShape(long... shape) {
        isNotNull();
        if (!Arrays.equals(actual.shape(), shape)) {
            failWithMessage("expected shape %s but was %s", Arrays.toString(shape),
                    Arrays.toString(actual.shape()));
        }
        return this;
    }

    /**
     * Checks the shape, then every element (row-major) against the expected values.
     *
     * @param shape expected dimensions
     * @param expected expected values, row-major
     * @param tolerance what each element may differ by
     * @return this
     */
    public TensorAssert isCloseTo(long[] shape, double[] expected, Tolerance tolerance) {
        hasShape(shape);
        Difference d = Difference.of(actual.toFloatArray(), expected, tolerance);
        if (d.mismatches() > 0) {
            failWithMessage("%d of %d elements differ beyond %s; worst at %s (flat %d): actual %s, expected %s,"
                            + " |difference| %.4g > allowed %.4g",
                    d.mismatches(), expected.length, tolerance, index(shape, d.worst()), d.worst(),
                    d.actualAtWorst(), d.expectedAtWorst(), Difference.difference(d.actualAtWorst(), d.expectedAtWorst()),
                    tolerance.allowed(d.expectedAtWorst()));
        }
        return this;
    }

    /**
     * @param expected the expected tensor (its shape and values)
     * @param tolerance what each element may differ by
     * @return this
     */
    public TensorAssert isCloseTo(TensorData expected, Tolerance tolerance) {
        float[] f = expected.toFloatArray();
        double[] values = new double[f.length];
        for (int i = 0; i < f.length; i++) {
            values[i] = f[i];
        }
        return isCloseTo(expected.shape(), values, tolerance);
    }

    /**
     * Integer and boolean tensors: every element equal (booleans as 0 and 1).
     *
     * @param expected expected values, row-major
     * @return this
     */
    public TensorAssert containsExactly(long... expected) {
        isNotNull();
        if (actual.dtype() != DType.INT64 && actual.dtype() != DType.INT32 && actual.dtype() != DType.BOOL) {
            failWithMessage("expected integer or boolean values but the tensor is %s", actual.dtype());
        }
        long[] got = actual.toLongArray();
        if (got.length != expected.length) {
            failWithMessage("expected %d elements but was %d (shape %s)", expected.length, got.length,
                    Arrays.toString(actual.shape()));
        }
        for (int i = 0; i < got.length; i++) {
            if (got[i] != expected[i]) {
                failWithMessage("first difference at %s (flat %d): actual %d, expected %d;%n actual   %s%n expected %s",
                        index(actual.shape(), i), i, got[i], expected[i], Arrays.toString(got),
                        Arrays.toString(expected));
            }
        }
        return this;
    }

    /**
     * @param shape dimensions
     * @param flat a row-major position
     * @return the position as an index per axis, {@code [1, 0, 3]}
     */
    static String index(long[] shape, int flat) {
        if (flat < 0) {
            return "-";
        }
        long[] idx = new long[shape.length];
        long rest = flat;
        for (int a = shape.length - 1; a >= 0; a--) {
            idx[a] = shape[a] == 0 ? 0 : rest % shape[a];
            rest = shape[a] == 0 ? 0 : rest / shape[a];
        }
        return Arrays.toString(idx);
    }

    /**
     * How a computed tensor differs from the expected values.
     *
     * @param maxAbs largest |actual - expected| (infinite where a NaN or an infinity does not match)
     * @param worst flat position of the element furthest beyond its allowance (of the largest
     *     excess over the allowance among all elements when every one is close); -1 for none
     * @param mismatches elements beyond the tolerance
     * @param actualAtWorst the computed value there
     * @param expectedAtWorst the expected value there
     */
    public record Difference(double maxAbs, int worst, int mismatches, double actualAtWorst, double expectedAtWorst) {
        /**
         * @param actual computed values
         * @param expected expected values, as many
         * @param tolerance the allowance
         * @return the comparison
         * @throws AssertionError when the lengths differ
         */
        public static Difference of(float[] actual, double[] expected, Tolerance tolerance) {
            if (actual.length != expected.length) {
                throw new AssertionError("expected " + expected.length + " elements but was " + actual.length);
            }
            double maxAbs = 0;
            int mismatches = 0;
            int worstBad = -1;
            double worstBadExcess = Double.NEGATIVE_INFINITY;
            int worstAny = -1;
            double worstAnyExcess = Double.NEGATIVE_INFINITY;
            for (int i = 0; i < actual.length; i++) {
                double diff = difference(actual[i], expected[i]);
                maxAbs = Math.max(maxAbs, diff);
                double excess = diff - tolerance.allowed(expected[i]);
                if (!tolerance.allows(actual[i], expected[i])) {
                    mismatches++;
                    if (worstBad < 0 || excess > worstBadExcess) {
                        worstBad = i;
                        worstBadExcess = excess;
                    }
                }
                if (worstAny < 0 || excess > worstAnyExcess) {
                    worstAny = i;
                    worstAnyExcess = excess;
                }
            }
            int worst = mismatches > 0 ? worstBad : worstAny;
            return new Difference(maxAbs, worst, mismatches, worst < 0 ? Double.NaN : actual[worst],
                    worst < 0 ? Double.NaN : expected[worst]);
        }

        /** @return |a - e|: 0 for equal values (infinities, NaNs included), infinite for a NaN against a number */
        static double difference(double a, double e) {
            if (a == e || (Double.isNaN(a) && Double.isNaN(e))) {
                return 0;
            }
            double d = Math.abs(a - e);
            return Double.isNaN(d) ? Double.POSITIVE_INFINITY : d;
        }
    }
}
