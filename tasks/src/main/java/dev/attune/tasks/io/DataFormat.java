package dev.attune.tasks.io;

import dev.attune.error.ConfigurationException;
import dev.attune.error.InvalidDataException;
import java.nio.file.Path;
import java.util.Locale;
import org.apiguardian.api.API;

/** Tabular data file formats the task readers understand. */
@API(status = API.Status.STABLE, since = "0.1")
public enum DataFormat {
    /**
     * Tab-separated values with a header row, read without quote processing: a double quote is an
     * ordinary character, as in the GLUE and SMS Spam Collection files. A field cannot contain a
     * tab or a line break.
     */
    TSV,
    /** Comma-separated values with a header row, RFC 4180 quoting ({@code "a, b"}, {@code ""}). */
    CSV,
    /**
     * JSON Lines: one JSON object per line, its fields being the columns; blank lines are ignored.
     * Values may be strings, numbers or booleans.
     */
    JSONL;

    /**
     * @param option a {@code format} option value: {@code tsv}, {@code csv}, {@code jsonl} or {@code
     *     json} (case-insensitive)
     * @return the format
     * @throws ConfigurationException for any other value
     */
    public static DataFormat parse(String option) {
        switch (option.trim().toLowerCase(Locale.ROOT)) {
            case "tsv":
                return TSV;
            case "csv":
                return CSV;
            case "jsonl":
            case "json":
                return JSONL;
            default:
                throw new ConfigurationException(
                        "format '" + option + "' is not known; use format=tsv, format=csv or format=jsonl");
        }
    }

    /**
     * @param file a data file
     * @return the format its extension names ({@code .tsv}, {@code .csv}, {@code .jsonl}, {@code
     *     .json}; case-insensitive)
     * @throws InvalidDataException when the extension names none of them
     */
    public static DataFormat fromFileName(Path file) {
        Path name = file.getFileName();
        String s = name == null ? "" : name.toString().toLowerCase(Locale.ROOT);
        if (s.endsWith(".tsv")) {
            return TSV;
        }
        if (s.endsWith(".csv")) {
            return CSV;
        }
        if (s.endsWith(".jsonl") || s.endsWith(".json")) {
            return JSONL;
        }
        throw new InvalidDataException(
                "cannot tell the format of " + file + " from its extension; name it .tsv, .csv or .jsonl,"
                        + " or set the task option format=tsv|csv|jsonl");
    }

    /**
     * @param file a data file
     * @param option the {@code format} option, or null to go by the extension
     * @return the format to read the file with
     */
    public static DataFormat resolve(Path file, String option) {
        return option == null || option.isBlank() ? fromFileName(file) : parse(option);
    }
}
