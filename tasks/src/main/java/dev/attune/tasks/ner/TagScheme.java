package dev.attune.tasks.ner;

import dev.attune.error.ConfigurationException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * How entity tags mark where entities begin: the task options {@code tag_scheme} (of the data) and
 * {@code convert_to} (of the labels the model learns).
 */
public enum TagScheme {
    /**
     * IOB1, as in the original CoNLL-2003 files: {@code I-X} for every word of an entity, and {@code
     * B-X} only on the first word of an entity that directly follows another of the same type.
     */
    IOB1,
    /** IOB2: {@code B-X} on the first word of every entity, {@code I-X} on the words after it. */
    IOB2;

    /**
     * @param option the option value (case-insensitive)
     * @param key the option name, for the message
     * @return the scheme
     * @throws ConfigurationException for an unknown value
     */
    public static TagScheme parse(String option, String key) {
        switch (option.strip().toLowerCase(Locale.ROOT)) {
            case "iob1":
                return IOB1;
            case "iob2":
                return IOB2;
            default:
                throw new ConfigurationException(key + " '" + option + "' is not known; use " + key + "=iob1 or "
                        + key + "=iob2");
        }
    }

    /**
     * Rewrites one sentence's IOB1 tags as IOB2: an {@code I-X} that does not continue an entity of
     * type {@code X} (it follows {@code O}, another type, or starts the sentence) becomes {@code B-X}.
     * Every other tag, {@code B-X} included, is kept. IOB2 input comes back unchanged.
     *
     * @param tags IOB1 tags
     * @return the IOB2 tags
     */
    public static List<String> iob1ToIob2(List<String> tags) {
        List<String> out = new ArrayList<>(tags.size());
        String previous = "O";
        for (String tag : tags) {
            String converted = tag;
            if (tag.startsWith("I-") && !sameEntityType(previous, tag)) {
                converted = "B-" + tag.substring(2);
            }
            out.add(converted);
            previous = tag;
        }
        return out;
    }

    private static boolean sameEntityType(String previous, String tag) {
        return (previous.startsWith("I-") || previous.startsWith("B-")) && previous.substring(2).equals(tag.substring(2));
    }
}
