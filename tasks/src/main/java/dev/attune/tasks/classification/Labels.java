package dev.attune.tasks.classification;

import dev.attune.error.ConfigurationException;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Pattern;

/** Label-list helpers of the classification tasks. */
final class Labels {
    private static final Pattern INTEGER = Pattern.compile("[-+]?\\d+");

    /** Integers by value (ties by text, so "01" and "1" stay apart), then everything else by text. */
    private static final Comparator<String> NUMERIC =
            Comparator.comparing((String s) -> new BigInteger(s))
                    .thenComparing(Comparator.naturalOrder());

    private Labels() {}

    /**
     * @param labels distinct label strings
     * @return them sorted: by numeric value when every one is an integer, else by text
     */
    static List<String> sorted(Collection<String> labels) {
        boolean numeric = labels.stream().allMatch(l -> INTEGER.matcher(l).matches());
        Set<String> sorted = new TreeSet<>(numeric ? NUMERIC : Comparator.naturalOrder());
        sorted.addAll(labels);
        return List.copyOf(sorted);
    }

    /**
     * @param option the {@code labels} option, comma-separated
     * @return the labels, trimmed, unchecked
     */
    static List<String> split(String option) {
        List<String> out = new ArrayList<>();
        for (String part : option.split(",", -1)) {
            out.add(part.strip());
        }
        return out;
    }

    /**
     * @param labels label names by id
     * @param what where they came from, for messages
     * @param min the fewest labels allowed
     * @return an immutable copy
     * @throws ConfigurationException when fewer than {@code min}, blank or repeated
     */
    static List<String> check(List<String> labels, String what, int min) {
        Set<String> seen = new HashSet<>();
        for (String l : labels) {
            if (l == null || l.isBlank()) {
                throw new ConfigurationException(what + " has an empty label; list label names separated by commas");
            }
            if (!seen.add(l)) {
                throw new ConfigurationException(what + " lists label '" + l + "' twice; each label must appear once");
            }
        }
        if (labels.size() < min) {
            throw new ConfigurationException(what + " has " + labels.size() + " label(s) " + labels
                    + (min == 2 ? "; a classifier needs at least two (to predict one number per text, use the"
                            + " option problem_type=regression)" : "; give at least " + min));
        }
        return List.copyOf(labels);
    }
}
