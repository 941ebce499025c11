package dev.attune.core.generate;

import org.apiguardian.api.API;

import dev.attune.generate.GenerationConfig;

import java.util.Arrays;
import java.util.Random;

/**
 * Next-token selection on the host, in HuggingFace's order: the repetition penalty, then (when
 * sampling) temperature, top-k and top-p, then the most likely token (greedy) or a draw from the
 * softmax (sampling). Removed tokens get {@code -infinity}. Public so that other decoders (beam
 * search, a chat loop) can reuse the steps.
 */
@API(status = API.Status.INTERNAL, since = "0.1")
public final class LogitsProcessing {
    private LogitsProcessing() {}

    /**
     * @param logits raw next-token logits (not modified)
     * @param previous the tokens so far (prompt and generated), for the repetition penalty
     * @param config decoding settings
     * @param random source of the sampling draws
     * @return the next token
     */
    public static long pick(float[] logits, long[] previous, GenerationConfig config, Random random) {
        float[] scores = logits.clone();
        repetitionPenalty(scores, previous, config.repetitionPenalty());
        if (!config.doSample()) {
            return argmax(scores);
        }
        if (config.temperature() != 1.0) {
            temperature(scores, config.temperature());
        }
        if (config.topK() > 0) {
            topK(scores, config.topK());
        }
        if (config.topP() < 1.0) {
            topP(scores, config.topP());
        }
        return sample(scores, random);
    }

    /**
     * HuggingFace's {@code RepetitionPenaltyLogitsProcessor}: each distinct previous token's score is
     * divided by {@code penalty} when positive and multiplied by it when negative.
     *
     * @param scores logits, changed in place
     * @param previous tokens so far
     * @param penalty 1 for none
     */
    public static void repetitionPenalty(float[] scores, long[] previous, double penalty) {
        if (penalty == 1.0) {
            return;
        }
        boolean[] seen = new boolean[scores.length];
        for (long t : previous) {
            int i = (int) t;
            if (i < 0 || i >= scores.length || seen[i]) {
                continue;
            }
            seen[i] = true;
            scores[i] = (float) (scores[i] < 0 ? scores[i] * penalty : scores[i] / penalty);
        }
    }

    /**
     * @param scores logits, divided in place
     * @param temperature the divisor
     */
    public static void temperature(float[] scores, double temperature) {
        for (int i = 0; i < scores.length; i++) {
            scores[i] = (float) (scores[i] / temperature);
        }
    }

    /**
     * Keeps the tokens whose score is at least the {@code k}-th largest (ties kept), as HuggingFace's
     * {@code TopKLogitsWarper}.
     *
     * @param scores logits, changed in place
     * @param k tokens to keep
     */
    public static void topK(float[] scores, int k) {
        if (k >= scores.length) {
            return;
        }
        float[] sorted = scores.clone();
        Arrays.sort(sorted);
        float threshold = sorted[sorted.length - k];
        for (int i = 0; i < scores.length; i++) {
            if (scores[i] < threshold) {
                scores[i] = Float.NEGATIVE_INFINITY;
            }
        }
    }

    /**
     * Nucleus filtering as HuggingFace's {@code TopPLogitsWarper}: walking the tokens from least to
     * most likely, removes them while their cumulative probability stays at most {@code 1 - p};
     * the most likely token always stays.
     *
     * @param scores logits, changed in place
     * @param p probability mass to keep
     */
    public static void topP(float[] scores, double p) {
        double[] probs = softmax(scores);
        Integer[] order = new Integer[scores.length];
        for (int i = 0; i < order.length; i++) {
            order[i] = i;
        }
        // ascending by score; a stable sort keeps equal scores in index order
        Arrays.sort(order, (a, b) -> Float.compare(scores[a], scores[b]));
        double cumulative = 0;
        for (int r = 0; r < order.length - 1; r++) {
            cumulative += probs[order[r]];
            if (cumulative > 1 - p) {
                break;
            }
            scores[order[r]] = Float.NEGATIVE_INFINITY;
        }
    }

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
     * @param scores logits, {@code -infinity} for removed tokens
     * @param random source of the draw
     * @return a token drawn from the softmax of the scores
     */
    public static int sample(float[] scores, Random random) {
        double[] probs = softmax(scores);
        double u = random.nextDouble();
        double cumulative = 0;
        int last = -1;
        for (int i = 0; i < probs.length; i++) {
            if (probs[i] > 0) {
                cumulative += probs[i];
                last = i;
                if (u < cumulative) {
                    return i;
                }
            }
        }
        return last; // rounding left u above the total
    }

    /**
     * @param scores logits
     * @return their softmax in double precision, computed after subtracting the maximum so that no
     *     exponent overflows ({@code -infinity} gives 0)
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
