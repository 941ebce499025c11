package dev.attune.tasks.ner;

import dev.attune.task.Example;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * A sentence split into words, with one tag per word when labelled, as the token-classification
 * task reads or parses it.
 *
 * @param words the words, none empty
 * @param tags one tag per word (after any IOB1 to IOB2 conversion), or null for unlabelled input
 * @param text the text the words came from (for files: the words joined by single spaces)
 * @param starts per word, its first character in {@code text}
 * @param ends per word, the character after its last in {@code text}
 * @param location {@code file:line} of the sentence's first word, or {@code input}
 */
public record WordsExample(List<String> words, List<String> tags, String text, int[] starts, int[] ends,
        String location) implements Example {
    /** Validates and copies the lists. */
    public WordsExample {
        words = List.copyOf(words);
        tags = tags == null ? null : List.copyOf(tags);
        Objects.requireNonNull(text, "text");
        Objects.requireNonNull(location, "location");
        if (tags != null && tags.size() != words.size()) {
            throw new IllegalArgumentException(words.size() + " words but " + tags.size() + " tags");
        }
        if (starts.length != words.size() || ends.length != words.size()) {
            throw new IllegalArgumentException("one start and end offset per word are needed");
        }
    }

    /**
     * @param words words
     * @param tags their tags, or null
     * @param location where they came from
     * @return an example whose text is the words joined by single spaces
     */
    public static WordsExample ofWords(List<String> words, List<String> tags, String location) {
        StringBuilder text = new StringBuilder();
        int[] starts = new int[words.size()];
        int[] ends = new int[words.size()];
        for (int i = 0; i < words.size(); i++) {
            if (i > 0) {
                text.append(' ');
            }
            starts[i] = text.length();
            text.append(words.get(i));
            ends[i] = text.length();
        }
        return new WordsExample(words, tags, text.toString(), starts, ends, location);
    }

    /**
     * @param text a text
     * @param location where it came from
     * @return an unlabelled example of its whitespace-separated words, with their offsets in it
     */
    public static WordsExample ofText(String text, String location) {
        List<String> words = new ArrayList<>();
        List<int[]> spans = new ArrayList<>();
        int i = 0;
        while (i < text.length()) {
            while (i < text.length() && Character.isWhitespace(text.charAt(i))) {
                i++;
            }
            int s = i;
            while (i < text.length() && !Character.isWhitespace(text.charAt(i))) {
                i++;
            }
            if (i > s) {
                words.add(text.substring(s, i));
                spans.add(new int[] {s, i});
            }
        }
        int[] starts = new int[spans.size()];
        int[] ends = new int[spans.size()];
        for (int w = 0; w < spans.size(); w++) {
            starts[w] = spans.get(w)[0];
            ends[w] = spans.get(w)[1];
        }
        return new WordsExample(words, null, text, starts, ends, location);
    }
}
