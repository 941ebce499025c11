package dev.attune.tasks.metrics;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Entity-level precision, recall and F1 of tagged sequences, as seqeval computes them in its
 * default (not strict) mode, which is what the HuggingFace token-classification examples report.
 *
 * <p>Tags are {@code O} or a prefix letter, a dash and a type ({@code B-PER}, {@code I-LOC}); the
 * prefixes {@code B} (begin), {@code I} (inside), {@code E} (end) and {@code S} (single) are
 * understood. {@link #entities} reads chunks leniently, like seqeval's default mode: an {@code I-X}
 * after {@code O} or after a tag of another type starts a new entity, and a change of type ends
 * one, so IOB1 and IOB2 sequences (and malformed predictions) all give entities. Sentences never
 * share an entity. An entity counts as found when its type, start and end all match a gold entity;
 * scores are micro-averaged over all entities, with 0 where a denominator is 0.
 *
 * <p>{@link #metrics()} also reports {@code accuracy}: the fraction of positions whose predicted
 * tag equals the gold tag. Not thread-safe.
 */
public final class EntityMetrics {
    /** Key of entity precision. */
    public static final String PRECISION = "precision";
    /** Key of entity recall. */
    public static final String RECALL = "recall";
    /** Key of entity F1. */
    public static final String F1 = "f1";
    /** Key of tag accuracy. */
    public static final String ACCURACY = "accuracy";

    private long truePositives;
    private long goldEntities;
    private long predictedEntities;
    private long rightTags;
    private long tags;

    /** Creates an empty accumulator. */
    public EntityMetrics() {}

    /**
     * Adds one sentence.
     *
     * @param gold gold tags, one per position
     * @param predicted predicted tags, as many
     */
    public void add(List<String> gold, List<String> predicted) {
        if (gold.size() != predicted.size()) {
            throw new IllegalArgumentException(gold.size() + " gold tags but " + predicted.size() + " predicted");
        }
        Set<EntitySpan> g = new HashSet<>(entities(gold));
        List<EntitySpan> p = entities(predicted);
        for (EntitySpan e : p) {
            if (g.contains(e)) {
                truePositives++;
            }
        }
        goldEntities += g.size();
        predictedEntities += p.size();
        for (int i = 0; i < gold.size(); i++) {
            if (gold.get(i).equals(predicted.get(i))) {
                rightTags++;
            }
        }
        tags += gold.size();
    }

    /** @return precision, recall, f1 (entity level, micro) and accuracy (tag level), in that order */
    public Map<String, Double> metrics() {
        double precision = ratio(truePositives, predictedEntities);
        double recall = ratio(truePositives, goldEntities);
        Map<String, Double> m = new LinkedHashMap<>();
        m.put(PRECISION, precision);
        m.put(RECALL, recall);
        m.put(F1, precision + recall == 0 ? 0 : 2 * precision * recall / (precision + recall));
        m.put(ACCURACY, ratio(rightTags, tags));
        return m;
    }

    /**
     * @param gold gold tags of sentences
     * @param predicted predicted tags of the same sentences
     * @return their metrics
     */
    public static Map<String, Double> compute(List<List<String>> gold, List<List<String>> predicted) {
        if (gold.size() != predicted.size()) {
            throw new IllegalArgumentException(gold.size() + " gold sentences but " + predicted.size() + " predicted");
        }
        EntityMetrics m = new EntityMetrics();
        for (int i = 0; i < gold.size(); i++) {
            m.add(gold.get(i), predicted.get(i));
        }
        return m.metrics();
    }

    /**
     * Reads the entities of one tagged sentence with seqeval's default (lenient) chunking rules.
     *
     * @param tags the tags
     * @return its entities, in order
     */
    public static List<EntitySpan> entities(List<String> tags) {
        List<EntitySpan> out = new ArrayList<>();
        char prevPrefix = 'O';
        String prevType = "";
        int begin = 0;
        for (int i = 0; i <= tags.size(); i++) {
            String tag = i < tags.size() ? tags.get(i) : "O";
            char prefix = tag.isEmpty() ? 'O' : tag.charAt(0);
            String type = type(tag);
            if (ends(prevPrefix, prefix, prevType, type)) {
                out.add(new EntitySpan(prevType, begin, i));
            }
            if (starts(prevPrefix, prefix, prevType, type)) {
                begin = i;
            }
            prevPrefix = prefix;
            prevType = type;
        }
        return out;
    }

    /** The type of a tag: what follows its first dash, or "_" for a tag without one ({@code O}). */
    private static String type(String tag) {
        int dash = tag.indexOf('-');
        String t = dash < 0 ? "" : tag.substring(dash + 1);
        return t.isEmpty() ? "_" : t;
    }

    private static boolean inside(char prefix) {
        return prefix != 'O' && prefix != '.';
    }

    /** Whether the chunk that the previous tag belongs to ends before the current tag. */
    private static boolean ends(char prev, char cur, String prevType, String type) {
        if (prev == 'E' || prev == 'S') {
            return true;
        }
        if ((prev == 'B' || prev == 'I') && (cur == 'B' || cur == 'S' || cur == 'O')) {
            return true;
        }
        return inside(prev) && !prevType.equals(type);
    }

    /** Whether a chunk starts at the current tag. */
    private static boolean starts(char prev, char cur, String prevType, String type) {
        if (cur == 'B' || cur == 'S') {
            return true;
        }
        if ((prev == 'E' || prev == 'S' || prev == 'O') && (cur == 'E' || cur == 'I')) {
            return true;
        }
        return inside(cur) && !prevType.equals(type);
    }

    private static double ratio(long numerator, long denominator) {
        return denominator == 0 ? 0 : (double) numerator / denominator;
    }
}
