package dev.attune.testing;

/**
 * How far a computed value may be from the expected one, as NumPy's {@code allclose} and Keras's
 * {@code assertAllClose} put it: {@code |actual - expected| <= atol + rtol * |expected|}. A NaN is
 * close only to a NaN, an infinity only to the same infinity.
 *
 * @param atol absolute tolerance, {@code >= 0}
 * @param rtol relative tolerance, {@code >= 0}
 */
public record Tolerance(double atol, double rtol) {
    /** Bit-for-bit equality (copies, integer outputs). */
    public static final Tolerance EXACT = new Tolerance(0, 0);

    /** Validates. */
    public Tolerance {
        if (!(atol >= 0) || !(rtol >= 0)) {
            throw new IllegalArgumentException("tolerances must be >= 0: atol=" + atol + ", rtol=" + rtol);
        }
    }

    /**
     * @param atol absolute tolerance
     * @param rtol relative tolerance
     * @return the tolerance
     */
    public static Tolerance of(double atol, double rtol) {
        return new Tolerance(atol, rtol);
    }

    /**
     * @param atol absolute tolerance
     * @return an absolute tolerance (no relative part)
     */
    public static Tolerance absolute(double atol) {
        return new Tolerance(atol, 0);
    }

    /**
     * @param expected the expected value
     * @return the largest difference allowed around it
     */
    public double allowed(double expected) {
        return atol + rtol * Math.abs(expected);
    }

    /**
     * @param actual the computed value
     * @param expected the expected value
     * @return whether they are close
     */
    public boolean allows(double actual, double expected) {
        if (Double.isNaN(expected) || Double.isNaN(actual)) {
            return Double.isNaN(expected) && Double.isNaN(actual);
        }
        if (Double.isInfinite(expected) || Double.isInfinite(actual)) {
            return actual == expected;
        }
        return Math.abs(actual - expected) <= allowed(expected);
    }

    @Override
    public String toString() {
        return this.equals(EXACT) ? "exact" : "atol=" + atol + ", rtol=" + rtol;
    }
}
