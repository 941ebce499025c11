package dev.attune.tasks.metrics;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * Exact match and F1 of extractive answers, as the official SQuAD v1.1 evaluation defines them.
 *
 * <p>Both compare {@link #normalize normalised} answers: exact match is 1 when the normalised texts
 * are equal, F1 is the harmonic mean of the precision and recall of the normalised answers' words
 * (counted with multiplicity). A prediction scores the best value over an example's gold answers;
 * a data set's scores are the mean over its examples, as percentages (0 to 100). Not thread-safe.
 */
public final class SquadMetrics {
    /** Key of the exact-match percentage. */
    public static final String EXACT_MATCH = "exact_match";
    /** Key of the F1 percentage. */
    public static final String F1 = "f1";

    /** ASCII punctuation, as Python's {@code string.punctuation}. */
    private static final String PUNCTUATION = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";
    private static final Pattern ARTICLES = Pattern.compile("\\b(a|an|the)\\b", Pattern.UNICODE_CHARACTER_CLASS);
    private static final Pattern WHITESPACE = Pattern.compile("\\s+", Pattern.UNICODE_CHARACTER_CLASS);

    private double exactSum;
    private double f1Sum;
    private long count;

    /** Creates an empty accumulator. */
    public SquadMetrics() {}

    /**
     * Adds one example.
     *
     * @param prediction the predicted answer
     * @param golds its gold answers, at least one
     */
    public void add(String prediction, List<String> golds) {
        if (golds.isEmpty()) {
            throw new IllegalArgumentException("an example needs at least one gold answer to be scored");
        }
        double em = 0;
        double f1 = 0;
        for (String gold : golds) {
            em = Math.max(em, exactMatch(prediction, gold));
            f1 = Math.max(f1, f1(prediction, gold));
        }
        exactSum += em;
        f1Sum += f1;
        count++;
    }

    /** @return {@code exact_match} and {@code f1}, as percentages; 0 when no example was added */
    public Map<String, Double> metrics() {
        Map<String, Double> m = new java.util.LinkedHashMap<>();
        m.put(EXACT_MATCH, count == 0 ? 0 : 100 * exactSum / count);
        m.put(F1, count == 0 ? 0 : 100 * f1Sum / count);
        return m;
    }

    /**
     * Lower-cases, removes ASCII punctuation, removes the articles {@code a}, {@code an} and {@code
     * the} as whole words, and joins the remaining words with single spaces.
     *
     * @param text an answer
     * @return its normalised form
     */
    public static String normalize(String text) {
        String lower = text.toLowerCase(Locale.ROOT);
        StringBuilder noPunct = new StringBuilder(lower.length());
        for (int i = 0; i < lower.length(); i++) {
            char c = lower.charAt(i);
            if (PUNCTUATION.indexOf(c) < 0) {
                noPunct.append(c);
            }
        }
        String noArticles = ARTICLES.matcher(noPunct).replaceAll(" ");
        return String.join(" ", words(noArticles));
    }

    private static List<String> words(String text) {
        List<String> out = new ArrayList<>();
        for (String w : WHITESPACE.split(text)) {
            if (!w.isEmpty()) {
                out.add(w);
            }
        }
        return out;
    }

    /**
     * @param prediction predicted answer
     * @param gold gold answer
     * @return 1 when their normalised forms are equal, else 0
     */
    public static double exactMatch(String prediction, String gold) {
        return normalize(prediction).equals(normalize(gold)) ? 1 : 0;
    }

    /**
     * @param prediction predicted answer
     * @param gold gold answer
     * @return word-overlap F1 of their normalised forms, between 0 and 1 (0 when nothing is shared)
     */
    public static double f1(String prediction, String gold) {
        List<String> p = words(normalize(prediction));
        List<String> g = words(normalize(gold));
        Map<String, Integer> counts = new HashMap<>();
        for (String w : g) {
            counts.merge(w, 1, Integer::sum);
        }
        int same = 0;
        for (String w : p) {
            Integer c = counts.get(w);
            if (c != null && c > 0) {
                same++;
                counts.put(w, c - 1);
            }
        }
        if (same == 0) {
            return 0;
        }
        double precision = (double) same / p.size();
        double recall = (double) same / g.size();
        return 2 * precision * recall / (precision + recall);
    }
}
