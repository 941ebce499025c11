package dev.attune.tasks.lm;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.attune.error.ConfigurationException;
import dev.attune.error.InvalidDataException;
import dev.attune.tasks.io.BadRowPolicy;
import dev.attune.tasks.io.Column;
import dev.attune.tasks.io.DataFormat;
import dev.attune.tasks.io.Row;
import dev.attune.tasks.io.Table;
import dev.attune.tasks.io.TableReader;
import java.io.BufferedReader;
import java.io.IOException;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Readers shared by the language-modelling tasks: plain text lines, text columns, dialogues. */
final class LmText {
    private static final Logger LOG = LoggerFactory.getLogger(LmText.class);
    private static final ObjectMapper JSON = new ObjectMapper();

    /** Option: read at most this many examples from each file (quick runs). */
    static final String LIMIT = "limit";
    /** Option: the column or JSON field holding the text of plain-text input. */
    static final String TEXT_COLUMN = "text_column";
    /** Option: {@code tsv}, {@code csv}, {@code jsonl} or {@code txt}; default from the extension. */
    static final String FORMAT = "format";

    private LmText() {}

    /**
     * @param value the {@code limit} option, or null
     * @return the limit, or {@link Integer#MAX_VALUE} when unset
     */
    static int limit(String value) {
        if (value == null) {
            return Integer.MAX_VALUE;
        }
        try {
            int n = Integer.parseInt(value.strip());
            if (n < 1) {
                throw new NumberFormatException();
            }
            return n;
        } catch (NumberFormatException e) {
            throw new ConfigurationException("option " + LIMIT + "=" + value + " is not a positive whole number;"
                    + " give the number of examples to read from each file, e.g. " + LIMIT + "=100");
        }
    }

    /** @return whether the file is read as plain text, one document per line */
    static boolean isPlainText(Path file, String format) {
        if (format != null && !format.isBlank()) {
            String f = format.strip().toLowerCase(Locale.ROOT);
            if (f.equals("txt") || f.equals("text")) {
                return true;
            }
            DataFormat.parse(f); // rejects unknown values with a message listing the known ones
            return false;
        }
        Path name = file.getFileName();
        return name != null && name.toString().toLowerCase(Locale.ROOT).endsWith(".txt");
    }

    /** A text and where it came from. */
    record Located(String text, String location) {}

    /**
     * Reads texts: the non-blank lines of a {@code .txt} file (one document per line), or one column
     * of a TSV, CSV or JSON Lines file.
     *
     * @param file the file
     * @param format the {@code format} option, or null for the extension's
     * @param column the text column (ignored for plain text)
     * @param policy bad-row policy
     * @param limit most texts to read
     * @return the texts in file order
     */
    static List<Located> readTexts(Path file, String format, Column column, BadRowPolicy policy, int limit) {
        if (isPlainText(file, format)) {
            return readLines(file, limit);
        }
        DataFormat fmt = format == null || format.isBlank() ? null : DataFormat.parse(format);
        Table<Located> table = new TableReader(fmt, policy).read(file, List.of(column),
                row -> new Located(row.require(column), row.location()));
        return first(table.rows(), limit, file);
    }

    private static List<Located> readLines(Path file, int limit) {
        if (!Files.isRegularFile(file)) {
            throw new InvalidDataException("data file " + file + " does not exist or is not a file; check the path");
        }
        List<Located> out = new ArrayList<>();
        long line = 0;
        try (BufferedReader in = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            String s;
            while ((s = in.readLine()) != null && out.size() < limit) {
                line++;
                if (line == 1 && s.startsWith("\uFEFF")) {
                    s = s.substring(1);
                }
                if (!s.isBlank()) {
                    out.add(new Located(s, file + ":" + line));
                }
            }
        } catch (CharacterCodingException e) {
            throw new InvalidDataException(file + " is not valid UTF-8 text (after line " + line + "); save it as UTF-8",
                    e);
        } catch (IOException e) {
            throw new InvalidDataException("cannot read " + file + ": " + e.getMessage(), e);
        }
        if (out.isEmpty()) {
            throw new InvalidDataException(file + " has no text; give one document per line");
        }
        return out;
    }

    /**
     * Reads dialogues from JSON Lines, one per line: {@code {"turns": [{"speaker": "USER", "text":
     * "..."}, ...]}}.
     *
     * @param file the file
     * @param policy bad-row policy
     * @param limit most dialogues to read
     * @param render turns the turns of one dialogue into an example
     * @return the examples in file order
     */
    static List<LmExample> readDialogues(Path file, BadRowPolicy policy, int limit,
            RenderFunction render) {
        Column turns = new Column(Dialogue.TURNS, null);
        Table<LmExample> table = new TableReader(DataFormat.JSONL, policy).read(file, List.of(turns),
                row -> render.apply(Dialogue.parse(row), row.location()));
        return first(table.rows(), limit, file);
    }

    /** Renders parsed turns into an example. */
    @FunctionalInterface
    interface RenderFunction {
        LmExample apply(List<Dialogue.Turn> turns, String location);
    }

    private static <T> List<T> first(List<T> rows, int limit, Path file) {
        if (rows.size() <= limit) {
            return rows;
        }
        LOG.info("{}: using the first {} of {} examples ({}={})", file, limit, rows.size(), LIMIT, limit);
        return rows.subList(0, limit);
    }

    /** The dialogue JSON format. */
    static final class Dialogue {
        static final String TURNS = "turns";

        private Dialogue() {}

        /**
         * One turn.
         *
         * @param speaker who speaks ({@code USER}, {@code SYSTEM})
         * @param text what they say
         */
        record Turn(String speaker, String text) {}

        /**
         * @param row a JSON Lines row
         * @return its turns
         * @throws InvalidDataException naming the line and turn when the value is not a non-empty
         *     array of objects with string {@code speaker} and {@code text}
         */
        static List<Turn> parse(Row row) {
            String raw = row.get(TURNS);
            if (raw == null || !row.isStructured(TURNS)) {
                throw row.error("'" + TURNS + "' is " + (raw == null ? "null" : "not a JSON array"),
                        "Give the dialogue as {\"turns\": [{\"speaker\": \"USER\", \"text\": \"...\"}, ...]}");
            }
            JsonNode array;
            try {
                array = JSON.readTree(raw);
            } catch (JsonProcessingException e) {
                throw row.error("'" + TURNS + "' cannot be parsed (" + e.getOriginalMessage() + ")", "Fix the JSON");
            }
            if (!array.isArray()) {
                throw row.error("'" + TURNS + "' is a JSON object, not an array",
                        "Give the dialogue as {\"turns\": [{\"speaker\": \"USER\", \"text\": \"...\"}, ...]}");
            }
            if (array.isEmpty()) {
                throw row.error("the dialogue has no turns", "Give at least one turn, or remove the line");
            }
            List<Turn> out = new ArrayList<>(array.size());
            for (int i = 0; i < array.size(); i++) {
                JsonNode t = array.get(i);
                String where = "turn " + (i + 1) + " of '" + TURNS + "'";
                if (!t.isObject()) {
                    throw row.error(where + " is not a JSON object", "Give each turn as {\"speaker\": ..., \"text\": ...}");
                }
                out.add(new Turn(field(row, t, "speaker", where), field(row, t, "text", where)));
            }
            return out;
        }

        private static String field(Row row, JsonNode turn, String name, String where) {
            JsonNode v = turn.get(name);
            if (v == null || v.isNull()) {
                throw row.error(where + " has no '" + name + "'", "Give each turn a \"speaker\" and a \"text\"");
            }
            if (!v.isTextual()) {
                throw row.error("'" + name + "' of " + where + " is not a string", "Give it as a JSON string");
            }
            if (v.asText().isBlank()) {
                throw row.error("'" + name + "' of " + where + " is empty", "Fill it in or remove the turn");
            }
            return v.asText();
        }
    }

    /** @return {@code f} applied to every text, in order */
    static <T> List<T> map(List<Located> texts, Function<Located, T> f) {
        List<T> out = new ArrayList<>(texts.size());
        for (Located t : texts) {
            out.add(f.apply(t));
        }
        return out;
    }
}
