package dev.attune.tasks.metrics;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * Corpus BLEU as sacreBLEU computes it with its defaults ({@code BLEU()}: 13a tokenisation, case
 * kept, n-grams up to 4, {@code smooth_method='exp'}, no effective order), so scores compare with
 * published sacreBLEU numbers. Scores are on sacreBLEU's 0-100 scale.
 *
 * <ul>
 *   <li>Counts: for each order n, clipped n-gram matches and hypothesis n-grams are summed over the
 *       whole corpus before dividing (corpus BLEU, not the mean of sentence BLEU). With several
 *       references per sentence an n-gram is clipped at its largest count in any one reference.
 *   <li>Brevity penalty: {@code exp(1 - r / c)} when the total hypothesis length {@code c} is below
 *       the total reference length {@code r} (each sentence's reference closest in length to its
 *       hypothesis, the shorter on ties), 1 otherwise, and 0 for an empty output.
 *   <li>Smoothing ({@code exp}): an order with hypothesis n-grams but no match gets precision {@code
 *       1 / (2^k * total)}, where k counts the orders so far without a match; an order with no
 *       hypothesis n-gram at all (every output shorter than n tokens) ends the loop and leaves its
 *       precision 0, which makes BLEU 0, as in sacreBLEU.
 * </ul>
 */
public final class Bleu {
    /** The n-gram orders. */
    public static final int MAX_ORDER = 4;

    private static final Pattern SYMBOLS = Pattern.compile("([\\{-\\~\\[-\\` -\\&\\(-\\+\\:-\\@\\/])");
    private static final Pattern PERIOD_COMMA_AFTER_NON_DIGIT = Pattern.compile("([^0-9])([\\.,])");
    private static final Pattern PERIOD_COMMA_BEFORE_NON_DIGIT = Pattern.compile("([\\.,])([^0-9])");
    private static final Pattern DASH_AFTER_DIGIT = Pattern.compile("([0-9])(-)");
    private static final Pattern SPACES = Pattern.compile("\\s+");

    private Bleu() {}

    /**
     * A corpus BLEU result.
     *
     * @param score BLEU, 0 to 100
     * @param precisions per order, in percent, after smoothing
     * @param brevityPenalty the brevity penalty
     * @param hypothesisLength total hypothesis tokens
     * @param referenceLength total (closest) reference tokens
     * @param matches clipped matching n-grams per order
     * @param totals hypothesis n-grams per order
     */
    public record Score(double score, double[] precisions, double brevityPenalty, long hypothesisLength,
            long referenceLength, long[] matches, long[] totals) {}

    /**
     * sacreBLEU's {@code 13a} tokeniser (mteval-v13a.pl's): drops {@code <skipped>}, joins lines,
     * unescapes {@code &quot; &amp; &lt; &gt;}, splits off punctuation and symbols, and periods and
     * commas unless they sit between digits (before or after), and a dash after a digit.
     *
     * @param line a sentence
     * @return its tokens
     */
    public static List<String> tokenize13a(String line) {
        line = line.replace("<skipped>", "").replace("-\n", "").replace("\n", " ");
        if (line.indexOf('&') >= 0) {
            line = line.replace("&quot;", "\"").replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">");
        }
        line = " " + line + " ";
        line = SYMBOLS.matcher(line).replaceAll(" $1 ");
        line = PERIOD_COMMA_AFTER_NON_DIGIT.matcher(line).replaceAll("$1 $2 ");
        line = PERIOD_COMMA_BEFORE_NON_DIGIT.matcher(line).replaceAll(" $1 $2");
        line = DASH_AFTER_DIGIT.matcher(line).replaceAll("$1 $2 ");
        String trimmed = SPACES.matcher(line).replaceAll(" ").strip();
        return trimmed.isEmpty() ? List.of() : Arrays.asList(trimmed.split(" "));
    }

    /**
     * @param hypotheses system outputs, one per sentence
     * @param references one reference per sentence
     * @return corpus BLEU
     */
    public static Score corpus(List<String> hypotheses, List<String> references) {
        List<List<String>> refs = new ArrayList<>();
        for (String r : references) {
            refs.add(List.of(r));
        }
        return corpusMultiReference(hypotheses, refs);
    }

    /**
     * @param hypotheses system outputs, one per sentence
     * @param references the references of each sentence (at least one each)
     * @return corpus BLEU
     * @throws IllegalArgumentException when the lists differ in length or a sentence has no reference
     */
    public static Score corpusMultiReference(List<String> hypotheses, List<List<String>> references) {
        if (hypotheses.size() != references.size()) {
            throw new IllegalArgumentException(
                    hypotheses.size() + " hypotheses but " + references.size() + " reference sets");
        }
        long[] matches = new long[MAX_ORDER];
        long[] totals = new long[MAX_ORDER];
        long sysLen = 0;
        long refLen = 0;
        for (int s = 0; s < hypotheses.size(); s++) {
            List<String> hyp = tokenize13a(hypotheses.get(s));
            if (references.get(s).isEmpty()) {
                throw new IllegalArgumentException("sentence " + s + " has no reference");
            }
            Map<List<String>, Integer> maxRefCounts = new HashMap<>();
            int closest = -1;
            for (String ref : references.get(s)) {
                List<String> tokens = tokenize13a(ref);
                int len = tokens.size();
                int d = Math.abs(len - hyp.size());
                if (closest < 0 || d < Math.abs(closest - hyp.size()) || (d == Math.abs(closest - hyp.size()) && len < closest)) {
                    closest = len;
                }
                ngrams(tokens).forEach((g, c) -> maxRefCounts.merge(g, c, Math::max));
            }
            sysLen += hyp.size();
            refLen += closest;
            for (Map.Entry<List<String>, Integer> e : ngrams(hyp).entrySet()) {
                int n = e.getKey().size();
                totals[n - 1] += e.getValue();
                matches[n - 1] += Math.min(e.getValue(), maxRefCounts.getOrDefault(e.getKey(), 0));
            }
        }
        return score(matches, totals, sysLen, refLen);
    }

    /** sacreBLEU's {@code compute_bleu} with {@code smooth_method='exp'}. */
    static Score score(long[] matches, long[] totals, long sysLen, long refLen) {
        double[] precisions = new double[MAX_ORDER];
        double bp;
        if (sysLen == 0) {
            return new Score(0, precisions, 0, sysLen, refLen, matches, totals);
        }
        bp = sysLen < refLen ? Math.exp(1 - (double) refLen / sysLen) : 1.0;
        double smooth = 1.0;
        for (int n = 1; n <= MAX_ORDER; n++) {
            if (totals[n - 1] == 0) {
                break;
            }
            if (matches[n - 1] == 0) {
                smooth *= 2;
                precisions[n - 1] = 100.0 / (smooth * totals[n - 1]);
            } else {
                precisions[n - 1] = 100.0 * matches[n - 1] / totals[n - 1];
            }
        }
        double logSum = 0;
        for (double p : precisions) {
            logSum += p == 0 ? -9999999999.0 : Math.log(p); // sacreBLEU's my_log
        }
        double score = bp * Math.exp(logSum / MAX_ORDER);
        return new Score(score, precisions, bp, sysLen, refLen, matches, totals);
    }

    private static Map<List<String>, Integer> ngrams(List<String> tokens) {
        Map<List<String>, Integer> counts = new HashMap<>();
        for (int n = 1; n <= MAX_ORDER; n++) {
            for (int i = 0; i + n <= tokens.size(); i++) {
                counts.merge(List.copyOf(tokens.subList(i, i + n)), 1, Integer::sum);
            }
        }
        return counts;
    }
}
