package dev.attune.tasks.metrics;

/**
 * The two reductions of a row of logits that decoding a prediction needs. The runtime has its own
 * for generation; tasks keep these so they depend on the API alone.
 */
public final class Logits {
    private Logits() {}

    /**
     * @param scores logits
     * @return the index of the largest (the first on ties)
     */
    public static int argmax(float[] scores) {
        int best = 0;
        for (int i = 1; i < scores.length; i++) {
            if (scores[i] > scores[best]) {
                best = i;
            }
        }
        return best;
    }

    /**
     * @param scores logits
     * @return their softmax in double precision, after subtracting the maximum so no exponent overflows
     */
    public static double[] softmax(float[] scores) {
        double max = Double.NEGATIVE_INFINITY;
        for (float s : scores) {
            max = Math.max(max, s);
        }
        double[] out = new double[scores.length];
        double sum = 0;
        for (int i = 0; i < scores.length; i++) {
            out[i] = Math.exp(scores[i] - max);
            sum += out[i];
        }
        for (int i = 0; i < out.length; i++) {
            out[i] /= sum;
        }
        return out;
    }
}
