package dev.attune.tasks.lm;

import dev.attune.task.Example;
import java.util.List;
import java.util.Objects;

/**
 * One text for a language-modelling task: a plain document, or a dialogue already rendered through
 * the prompt template, with the character spans of the replies the model should learn to write.
 *
 * @param text the text the model reads, as it is tokenised
 * @param responses character spans of {@code text} holding responses (sorted, disjoint); empty for
 *     plain text
 * @param dialogue whether the text is a rendered dialogue
 * @param location {@code file:line} it came from, or {@code input}
 */
public record LmExample(String text, List<Span> responses, boolean dialogue, String location) implements Example {
    /** Copies the list. */
    public LmExample {
        Objects.requireNonNull(text, "text");
        responses = List.copyOf(responses);
    }

    /**
     * A character range of the text.
     *
     * @param start first character (inclusive)
     * @param end end character (exclusive)
     */
    public record Span(int start, int end) {
        /** Validates. */
        public Span {
            if (start < 0 || end < start) {
                throw new IllegalArgumentException("bad span [" + start + ", " + end + ")");
            }
        }

        /**
         * @param from token start character
         * @param to token end character (exclusive)
         * @return whether {@code [from, to)} lies inside this span
         */
        public boolean contains(int from, int to) {
            return from >= start && to <= end && from < to;
        }
    }
}
