package dev.attune.tasks.metrics;

import java.util.Objects;

/**
 * One entity found in a tag sequence: a type and a range of positions (words).
 *
 * @param type the entity type ({@code PER}, {@code LOC}), the tag without its prefix
 * @param start first position, inclusive
 * @param end last position, exclusive
 */
public record EntitySpan(String type, int start, int end) {
    /** Validates. */
    public EntitySpan {
        Objects.requireNonNull(type, "type");
        if (start < 0 || end <= start) {
            throw new IllegalArgumentException("entity span [" + start + ", " + end + ") is empty or negative");
        }
    }
}
