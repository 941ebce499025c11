package dev.attune.tasks.classification;

import dev.attune.task.Example;
import java.util.Objects;

/**
 * A text (or a pair of texts) with its label, as the classification tasks read it.
 *
 * @param text the text
 * @param textPair the second text of a pair, or null
 * @param label the label as written in the data, trimmed; null for unlabelled input
 * @param location {@code file:line}, or {@code input} for a user's input
 */
public record TextExample(String text, String textPair, String label, String location) implements Example {
    /**
     * Validates.
     *
     * @param text the text
     * @param textPair the second text of a pair, or null
     * @param label the label as written in the data, trimmed; null for unlabelled input
     * @param location {@code file:line}, or {@code input} for a user's input
     */
    public TextExample {
        Objects.requireNonNull(text, "text");
        Objects.requireNonNull(location, "location");
    }
}
