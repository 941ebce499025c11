package dev.attune.tasks.qa;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * Chooses the answer span from the start and end logits of an example's windows, as HuggingFace's
 * {@code postprocess_qa_predictions} does for SQuAD v1.1: in each window, the {@code nBest} highest
 * start logits and {@code nBest} highest end logits are paired; a pair is a candidate when both
 * positions are context tokens, the end is not before the start and the span has at most {@code
 * maxAnswerLength} tokens; its score is the sum of the two logits. The best-scoring candidate over
 * all windows wins, mapped back to character offsets of the context. Its score is its softmax
 * probability among the {@code nBest} best candidates.
 */
public final class SpanDecoder {
    private final int nBest;
    private final int maxAnswerLength;

    /**
     * @param nBest start and end candidates per window, and candidates kept for the score
     * @param maxAnswerLength most tokens of an answer
     */
    public SpanDecoder(int nBest, int maxAnswerLength) {
        if (nBest < 1 || maxAnswerLength < 1) {
            throw new IllegalArgumentException("nBest and maxAnswerLength must be at least 1");
        }
        this.nBest = nBest;
        this.maxAnswerLength = maxAnswerLength;
    }

    /**
     * One window's outputs.
     *
     * @param window which positions are context tokens and their character spans
     * @param startLogits start logits, at least {@code window.length()} (more for a padded batch)
     * @param endLogits end logits, as many
     */
    public record Scored(ContextWindow window, float[] startLogits, float[] endLogits) {
        /** Validates. */
        public Scored {
            if (startLogits.length < window.length() || endLogits.length < window.length()) {
                throw new IllegalArgumentException("start/end logits have " + startLogits.length + "/"
                        + endLogits.length + " values but the feature has " + window.length() + " tokens");
            }
        }
    }

    private record Candidate(double score, int start, int end) {}

    /**
     * @param context the context the windows cover
     * @param windows the example's windows with their logits
     * @return the best span, or an empty answer at 0 with score 0 when no window has a valid span
     */
    public QaPrediction decode(String context, List<Scored> windows) {
        List<Candidate> candidates = new ArrayList<>();
        for (Scored w : windows) {
            ContextWindow cw = w.window();
            int[] starts = top(w.startLogits(), cw.length());
            int[] ends = top(w.endLogits(), cw.length());
            for (int s : starts) {
                for (int e : ends) {
                    if (!cw.inContext(s) || !cw.inContext(e) || e < s || e - s + 1 > maxAnswerLength) {
                        continue;
                    }
                    candidates.add(new Candidate((double) w.startLogits()[s] + w.endLogits()[e],
                            cw.charStarts()[s], cw.charEnds()[e]));
                }
            }
        }
        if (candidates.isEmpty()) {
            return new QaPrediction("", 0, 0, 0);
        }
        candidates.sort(Comparator.comparingDouble(Candidate::score).reversed());
        List<Candidate> kept = candidates.subList(0, Math.min(nBest, candidates.size()));
        double max = kept.get(0).score();
        double sum = 0;
        for (Candidate c : kept) {
            sum += Math.exp(c.score() - max);
        }
        Candidate best = kept.get(0);
        return new QaPrediction(context.substring(best.start(), best.end()), best.start(), best.end(), 1 / sum);
    }

    /** @return the positions of the nBest largest of the first {@code n} values, largest first (earlier on ties) */
    private int[] top(float[] values, int n) {
        Integer[] order = new Integer[n];
        for (int i = 0; i < n; i++) {
            order[i] = i;
        }
        java.util.Arrays.sort(order, (a, b) -> Float.compare(values[b], values[a]));
        int k = Math.min(nBest, n);
        int[] out = new int[k];
        for (int i = 0; i < k; i++) {
            out[i] = order[i];
        }
        return out;
    }
}
