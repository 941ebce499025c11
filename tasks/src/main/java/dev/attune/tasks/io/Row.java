package dev.attune.tasks.io;

import dev.attune.error.InvalidDataException;
import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * One data row of a file, with its values by column name and where it came from.
 *
 * <p>For TSV and CSV the columns are the header's; for JSON Lines they are the fields of the row's
 * object, a JSON {@code null} being an absent value and a nested array or object being unusable
 * where text is expected.
 */
public final class Row {
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
