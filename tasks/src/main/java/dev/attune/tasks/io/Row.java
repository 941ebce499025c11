package dev.attune.tasks.io;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.attune.error.InvalidDataException;
import java.io.IOException;
import java.math.BigDecimal;
import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;
import org.apiguardian.api.API;

/**
 * One data row of a file, with its values by column name and where it came from.
 *
 * <p>For TSV and CSV the columns are the header's; for JSON Lines they are the fields of the row's
 * object, a JSON {@code null} being an absent value and a nested array or object being unusable
 * where text is expected.
 */
@API(status = API.Status.EXPERIMENTAL, since = "0.1")
public final class Row {
    private static final ObjectMapper LIST_JSON = new ObjectMapper();

    private final Path file;
    private final long line;
    private final Map<String, String> values;
    private final Set<String> nonScalar;

    /**
     * @param file the file
     * @param line the 1-based line the row starts on
     * @param values values by column name (a null value: absent)
     * @param nonScalar columns whose value is a JSON array or object (its JSON text is the value)
     */
    public Row(Path file, long line, Map<String, String> values, Set<String> nonScalar) {
        this.file = file;
        this.line = line;
        this.values = Collections.unmodifiableMap(new LinkedHashMap<>(values));
        this.nonScalar = Set.copyOf(nonScalar);
    }

    /** @return the file the row is in */
    public Path file() {
        return file;
    }

    /** @return the 1-based line it starts on */
    public long line() {
        return line;
    }

    /** @return {@code file:line}, for messages */
    public String location() {
        return file + ":" + line;
    }

    /** @return the row's column names, in file order */
    public Set<String> columns() {
        return values.keySet();
    }

    /**
     * @param column a column name
     * @return its value as read (untrimmed), or null when the row has no such column or a null value
     */
    public String get(String column) {
        return values.get(column);
    }

    /**
     * @param column a column name
     * @return whether its value is a JSON array or object (JSON Lines), whose JSON text {@link #get}
     *     returns
     */
    public boolean isStructured(String column) {
        return nonScalar.contains(column);
    }

    /**
     * @param column a column the task needs
     * @return its value, untrimmed; never null, empty or only whitespace
     * @throws InvalidDataException naming the location and the column when the value is absent,
     *     blank, or (JSON Lines) an array or object
     */
    public String require(Column column) {
        String name = column.name();
        if (!values.containsKey(name)) {
            throw error("has no field '" + name + "'" + setBy(column) + "; its fields are " + values.keySet(),
                    "Add the field");
        }
        String v = values.get(name);
        if (v == null) {
            throw error("the value of '" + name + "'" + setBy(column) + " is missing (null)", "Fill it in");
        }
        if (nonScalar.contains(name)) {
            throw error("the value of '" + name + "'" + setBy(column) + " is a JSON array or object, not text",
                    "Give a string or a number");
        }
        if (v.isBlank()) {
            throw error("the value of column '" + name + "'" + setBy(column) + " is empty", "Fill it in");
        }
        return v;
    }

    /**
     * Reads a number, for a regression target or a weight. The value is a decimal number as
     * {@link java.math.BigDecimal} reads it ({@code 3}, {@code -0.25}, {@code 1e-3}), surrounding
     * spaces ignored; {@code NaN}, infinities, Java suffixes ({@code 3f}) and hexadecimal are not
     * numbers here.
     *
     * @param column a column the task needs
     * @return its value as a finite double
     * @throws InvalidDataException naming the location, the column and the value when it is absent,
     *     blank, not a number, or too large for a double
     */
    public double requireNumber(Column column) {
        String v = require(column).strip();
        double d;
        try {
            d = new BigDecimal(v).doubleValue();
        } catch (NumberFormatException e) {
            throw error("the value '" + v + "' of column '" + column.name() + "'" + setBy(column) + " is not a number",
                    "Give a decimal number such as 3 or 0.25");
        }
        if (!Double.isFinite(d)) {
            throw error("the value '" + v + "' of column '" + column.name() + "'" + setBy(column)
                    + " is too large for a double", "Scale the values");
        }
        return d;
    }

    /**
     * Reads a list of items, such as the labels of a multi-label example: the value split at {@code
     * separator}, each item trimmed, blank items and repeats dropped. In JSON Lines a JSON array of
     * strings (or numbers) is the list itself. An empty or blank value is an empty list.
     *
     * @param column a column the task needs
     * @param separator what stands between items ({@code |}), not empty
     * @return the items in the order written, without repeats; empty for an empty value
     * @throws InvalidDataException naming the location and column when the value is absent (null),
     *     a JSON object, or a JSON array holding something other than strings and numbers
     */
    public List<String> requireList(Column column, String separator) {
        if (separator == null || separator.isEmpty()) {
            throw new IllegalArgumentException("separator must not be empty");
        }
        String name = column.name();
        if (!values.containsKey(name)) {
            throw error("has no field '" + name + "'" + setBy(column) + "; its fields are " + values.keySet(),
                    "Add the field");
        }
        String v = values.get(name);
        if (v == null) {
            throw error("the value of '" + name + "'" + setBy(column) + " is missing (null)",
                    "Give an empty string for no items");
        }
        Set<String> items = new LinkedHashSet<>();
        if (nonScalar.contains(name)) {
            JsonNode node;
            try {
                node = LIST_JSON.readTree(v);
            } catch (IOException e) {
                throw error("the value of '" + name + "'" + setBy(column) + " is not valid JSON", "Fix the value");
            }
            if (!node.isArray()) {
                throw error("the value of '" + name + "'" + setBy(column) + " is a JSON object, not a list",
                        "Give a JSON array of strings or a " + separator + "-separated string");
            }
            for (JsonNode item : node) {
                if (!item.isTextual() && !item.isNumber()) {
                    throw error("the list in '" + name + "'" + setBy(column) + " holds " + item
                            + ", which is not a string", "Give a JSON array of strings");
                }
                add(items, item.asText());
            }
        } else {
            for (String item : v.split(Pattern.quote(separator), -1)) {
                add(items, item);
            }
        }
        return List.copyOf(items);
    }

    private static void add(Set<String> items, String item) {
        String s = item.strip();
        if (!s.isEmpty()) {
            items.add(s);
        }
    }

    /**
     * Builds the exception for a bad row, in the readers' style: location, problem, what to do.
     *
     * @param problem what is wrong, as a clause ({@code "label 'x' is not known"})
     * @param fix what the user can do about it, as a sentence without a final period
     * @return the exception, which also mentions the {@code on_bad_row=skip} way out
     */
    public InvalidDataException error(String problem, String fix) {
        return new BadRowException(location() + ": " + problem + ". " + fix,
                ", or set " + BadRowPolicy.OPTION + "=skip to leave out such rows");
    }

    private static String setBy(Column column) {
        return column.option() == null ? "" : " (option " + column.option() + ")";
    }

    @Override
    public String toString() {
        return location() + " " + values;
    }
}
