package dev.attune.tasks.ner;

import dev.attune.error.InvalidDataException;
import java.io.BufferedReader;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Reads CoNLL-style files: one word per line with whitespace-separated columns, the word first and
 * its tag last, so both the original CoNLL-2003 layout ({@code word POS chunk NER}) and the
 * two-column layout ({@code word tag}) are read. Blank lines separate sentences; {@code -DOCSTART-}
 * lines are document separators and end a sentence too. Files are UTF-8.
 */
public final class ConllReader {
    private ConllReader() {}

    /**
     * @param file the file
     * @param scheme the scheme of its tags; IOB1 tags are converted to IOB2 when {@code toIob2}
     * @param toIob2 whether to rewrite IOB1 tags as IOB2
     * @return one example per sentence, located at the line of its first word
     * @throws InvalidDataException when the file cannot be read or a line has fewer than two columns
     */
    public static List<WordsExample> read(Path file, TagScheme scheme, boolean toIob2) {
        List<WordsExample> out = new ArrayList<>();
        List<String> words = new ArrayList<>();
        List<String> tags = new ArrayList<>();
        int first = 0;
        try (BufferedReader in = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            String line;
            int number = 0;
            while ((line = in.readLine()) != null) {
                number++;
                if (number == 1 && line.startsWith("\uFEFF")) {
                    line = line.substring(1);
                }
                String s = line.strip();
                if (s.isEmpty() || s.startsWith("-DOCSTART-")) {
                    flush(out, words, tags, file, first, scheme, toIob2);
                    continue;
                }
                String[] cols = s.split("\\s+");
                if (cols.length < 2) {
                    throw new InvalidDataException(file + ":" + number + ": the line '" + s + "' has one column; each"
                            + " word needs its tag as the last column ('word tag' or 'word POS chunk tag')");
                }
                if (words.isEmpty()) {
                    first = number;
                }
                words.add(cols[0]);
                tags.add(cols[cols.length - 1]);
            }
        } catch (IOException e) {
            throw new InvalidDataException("could not read " + file + ": " + e.getMessage(), e);
        }
        flush(out, words, tags, file, first, scheme, toIob2);
        return out;
    }

    private static void flush(List<WordsExample> out, List<String> words, List<String> tags, Path file, int first,
            TagScheme scheme, boolean toIob2) {
        if (words.isEmpty()) {
            return;
        }
        List<String> t = scheme == TagScheme.IOB1 && toIob2 ? TagScheme.iob1ToIob2(tags) : tags;
        out.add(WordsExample.ofWords(words, t, file + ":" + first));
        words.clear();
        tags.clear();
    }
}
