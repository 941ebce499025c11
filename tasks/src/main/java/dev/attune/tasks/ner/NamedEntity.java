package dev.attune.tasks.ner;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * An entity found in a text.
 *
 * @param type its type ({@code PER}, {@code LOC})
 * @param text the text it covers
 * @param start its first character in the input text
 * @param end the character after its last (exclusive)
 * @param score mean probability of the predicted tags of its words
 */
public record NamedEntity(String type, String text, int start, int end, double score) {
    /** Validates. */
    public NamedEntity {
        Objects.requireNonNull(type, "type");
        Objects.requireNonNull(text, "text");
    }

    /** @return {@code type}, {@code text}, {@code start}, {@code end} and {@code score} */
    public Map<String, Object> toMap() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("type", type);
        m.put("text", text);
        m.put("start", start);
        m.put("end", end);
        m.put("score", score);
        return m;
    }
}
