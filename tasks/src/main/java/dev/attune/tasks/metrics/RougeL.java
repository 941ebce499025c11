package dev.attune.tasks.metrics;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.regex.Pattern;

/**
 * ROUGE-L as Google's {@code rouge_score} package computes it by default ({@code
 * RougeScorer(['rougeL'])}, no stemming): text lower-cased, every run of characters other than
 * {@code a-z0-9} replaced by a space, split on spaces; precision {@code LCS / prediction tokens},
 * recall {@code LCS / reference tokens}, F1 {@code 2PR / (P + R)}, all 0 when either side has no
 * token. A corpus score is the mean of the sentence F1 values (HuggingFace {@code evaluate}'s
 * aggregate is a bootstrap estimate of that mean), reported here on a 0-1 scale.
 */
public final class RougeL {
    private static final Pattern NON_ALPHANUMERIC = Pattern.compile("[^a-z0-9]+");

    private RougeL() {}

    /**
     * One sentence's ROUGE-L.
     *
     * @param precision LCS over prediction length
     * @param recall LCS over reference length
     * @param f1 harmonic mean
     */
    public record Score(double precision, double recall, double f1) {}

    /**
     * @param text a sentence
     * @return rouge_score's default tokens
     */
    public static List<String> tokenize(String text) {
        String clean = NON_ALPHANUMERIC.matcher(text.toLowerCase(Locale.ROOT)).replaceAll(" ").strip();
        return clean.isEmpty() ? List.of() : Arrays.asList(clean.split(" "));
    }

    /**
     * @param a tokens
     * @param b tokens
     * @return the length of their longest common subsequence
     */
    public static int lcs(List<String> a, List<String> b) {
        int[] prev = new int[b.size() + 1];
        int[] cur = new int[b.size() + 1];
        for (int i = 1; i <= a.size(); i++) {
            for (int j = 1; j <= b.size(); j++) {
                cur[j] = a.get(i - 1).equals(b.get(j - 1)) ? prev[j - 1] + 1 : Math.max(prev[j], cur[j - 1]);
            }
            int[] t = prev;
            prev = cur;
            cur = t;
        }
        return prev[b.size()];
    }

    /**
     * @param prediction system output
     * @param reference reference text
     * @return sentence ROUGE-L
     */
    public static Score sentence(String prediction, String reference) {
        List<String> p = tokenize(prediction);
        List<String> r = tokenize(reference);
        if (p.isEmpty() || r.isEmpty()) {
            return new Score(0, 0, 0);
        }
        int l = lcs(p, r);
        double precision = (double) l / p.size();
        double recall = (double) l / r.size();
        double f1 = precision + recall > 0 ? 2 * precision * recall / (precision + recall) : 0;
        return new Score(precision, recall, f1);
    }

    /**
     * @param predictions system outputs
     * @param references one reference each
     * @return mean sentence F1 (0 for an empty corpus)
     */
    public static double meanF1(List<String> predictions, List<String> references) {
        if (predictions.size() != references.size()) {
            throw new IllegalArgumentException(predictions.size() + " predictions but " + references.size() + " references");
        }
        List<Double> f = new ArrayList<>();
        for (int i = 0; i < predictions.size(); i++) {
            f.add(sentence(predictions.get(i), references.get(i)).f1());
        }
        return f.stream().mapToDouble(Double::doubleValue).average().orElse(0);
    }
}
