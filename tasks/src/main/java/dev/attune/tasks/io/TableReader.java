package dev.attune.tasks.io;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.attune.error.InvalidDataException;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import org.apache.commons.csv.CSVFormat;
import org.apache.commons.csv.CSVParser;
import org.apache.commons.csv.CSVRecord;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.apiguardian.api.API;

/**
 * Reads a TSV, CSV or JSON Lines file into rows with named columns, keeping each row's {@code
 * file:line}, and maps them to a task's examples.
 *
 * <p>Rules, the same for every format:
 *
 * <ul>
 *   <li>files are UTF-8; a leading byte-order mark is dropped;
 *   <li>TSV and CSV files need a header row; its names are matched after trimming spaces. JSON Lines
 *       files have no header: the first object's fields play its part for the check below;
 *   <li>a column the task needs that the header lacks fails at once, listing the columns there are
 *       (this is never a bad row: every row would be bad);
 *   <li>a bad row (wrong number of fields, invalid JSON, a value the {@link RowMapper} rejects) fails
 *       with an {@link InvalidDataException} naming the file, line and column, or, under {@link
 *       BadRowPolicy#SKIP}, is logged, left out and counted;
 *   <li>blank lines are ignored;
 *   <li>a file that yields no rows fails, so that training never starts on nothing.
 * </ul>
 *
 * <p>Parsing is Apache Commons CSV (TSV with quoting switched off, CSV with RFC 4180 quoting) and
 * Jackson. Instances are immutable and thread-safe.
 */
@API(status = API.Status.EXPERIMENTAL, since = "0.1")
public final class TableReader {
    private static final Logger LOG = LoggerFactory.getLogger(TableReader.class);
    /** Bad rows logged one by one under the skip policy; the rest are only counted. */
    private static final int LOGGED_BAD_ROWS = 10;

    private static final CSVFormat TSV_FORMAT = CSVFormat.DEFAULT.builder()
            .setDelimiter('\t')
            .setQuote(null)
            .setEscape((Character) null)
            .setIgnoreEmptyLines(false)
            .setIgnoreSurroundingSpaces(false)
            .setTrim(false)
            .get();
    private static final CSVFormat CSV_FORMAT = CSVFormat.RFC4180.builder()
            .setIgnoreEmptyLines(false)
            .setIgnoreSurroundingSpaces(false)
            .setTrim(false)
            .get();
    private static final ObjectMapper JSON =
            new ObjectMapper().enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

    private final DataFormat format;
    private final BadRowPolicy policy;

    /**
     * @param format the format of every file, or null to take it from each file's extension
     * @param policy what to do with bad rows
     */
    public TableReader(DataFormat format, BadRowPolicy policy) {
        this.format = format;
        this.policy = Objects.requireNonNull(policy, "policy");
    }

    /**
     * @param file the data file
     * @param columns the columns the task needs
     * @param mapper turns a row into an example; throws {@link InvalidDataException} for a bad row
     * @param <T> the example type
     * @return the examples and the number of rows skipped
     * @throws InvalidDataException when the file is missing or unreadable, lacks a column, has a bad
     *     row under {@link BadRowPolicy#FAIL}, or yields no rows
     */
    public <T> Table<T> read(Path file, List<Column> columns, RowMapper<T> mapper) {
        Objects.requireNonNull(file, "file");
        Objects.requireNonNull(mapper, "mapper");
        if (!Files.exists(file)) {
            throw new InvalidDataException("data file " + file + " does not exist; check the path");
        }
        if (Files.isDirectory(file)) {
            throw new InvalidDataException(file + " is a directory; give the path of a data file in it");
        }
        DataFormat fmt = format != null ? format : DataFormat.fromFileName(file);
        Sink<T> sink = new Sink<>(file, mapper);
        try (BufferedReader in = open(file)) {
            if (fmt == DataFormat.JSONL) {
                readJsonLines(file, in, columns, sink);
            } else {
                readDelimited(file, fmt, in, columns, sink);
            }
        } catch (CharacterCodingException e) {
            throw new InvalidDataException(file + " is not valid UTF-8 text; save it as UTF-8", e);
        } catch (IOException e) {
            throw new InvalidDataException("cannot read " + file + ": " + e.getMessage(), e);
        }
        if (sink.rows.isEmpty()) {
            if (sink.skipped > 0) {
                throw new InvalidDataException("no usable rows in " + file + ": all " + sink.skipped
                        + " rows were bad and skipped; the first: " + sink.firstBad);
            }
            throw new InvalidDataException(file + " has no data rows; a data set needs at least one example");
        }
        if (sink.skipped > 0) {
            LOG.warn("{}: skipped {} bad row(s) ({}=skip); {} rows read", file, sink.skipped,
                    BadRowPolicy.OPTION, sink.rows.size());
        }
        return new Table<>(file, sink.rows, sink.skipped);
    }

    /** Opens a UTF-8 file that fails on malformed bytes, without its byte-order mark. */
    private static BufferedReader open(Path file) throws IOException {
        BufferedReader in = Files.newBufferedReader(file, StandardCharsets.UTF_8);
        in.mark(1);
        if (in.read() != '\uFEFF') {
            in.reset();
        }
        return in;
    }

    private <T> void readDelimited(Path file, DataFormat fmt, BufferedReader in, List<Column> columns, Sink<T> sink)
            throws IOException {
        String kind = fmt == DataFormat.TSV ? "TSV" : "CSV";
        try (CSVParser parser = CSVParser.parse(in, fmt == DataFormat.TSV ? TSV_FORMAT : CSV_FORMAT)) {
            Iterator<CSVRecord> it = parser.iterator();
            // getCurrentLineNumber counts the line breaks consumed so far, so a record starts on the
            // line after the count read before parsing it (records may span lines in CSV).
            long start = parser.getCurrentLineNumber() + 1;
            if (!hasNext(it, file, kind, start)) {
                throw new InvalidDataException(file + " is empty; a " + kind + " file needs a header row naming"
                        + " its columns, such as " + names(columns));
            }
            CSVRecord headerRecord = it.next();
            List<String> header = new ArrayList<>();
            for (String h : headerRecord) {
                header.add(h.trim());
            }
            checkHeader(file, kind, header, columns);
            while (true) {
                start = parser.getCurrentLineNumber() + 1;
                if (!hasNext(it, file, kind, start)) {
                    break;
                }
                CSVRecord record = it.next();
                if (record.size() == 1 && record.get(0).isEmpty()) {
                    continue; // blank line
                }
                Map<String, String> values = new LinkedHashMap<>();
                int n = Math.min(record.size(), header.size());
                for (int i = 0; i < n; i++) {
                    values.put(header.get(i), record.get(i));
                }
                Row row = new Row(file, start, values, Set.of());
                if (record.size() != header.size()) {
                    String hint = fmt == DataFormat.TSV
                            ? "a value may contain a tab, or a tab may be missing"
                            : "a value with a comma may lack its double quotes";
                    sink.bad(row.error("has " + record.size() + " fields but the header has " + header.size() + " "
                            + header + "; " + hint, "Fix the row"));
                    continue;
                }
                sink.accept(row);
            }
        }
    }

    private static boolean hasNext(Iterator<CSVRecord> it, Path file, String kind, long line) {
        try {
            return it.hasNext();
        } catch (UncheckedIOException e) {
            if (e.getCause() instanceof CharacterCodingException) {
                throw new InvalidDataException(file + " is not valid UTF-8 text (at or after line " + line
                        + "); save it as UTF-8", e);
            }
            throw new InvalidDataException(file + ":" + line + ": cannot be parsed as " + kind + " ("
                    + e.getCause().getMessage() + "); check for a double quote that is not closed", e);
        }
    }

    private static void checkHeader(Path file, String kind, List<String> header, List<Column> columns) {
        List<String> problems = new ArrayList<>();
        for (Column c : columns) {
            int first = header.indexOf(c.name());
            if (first < 0) {
                problems.add("no column '" + c.name() + "'" + (c.option() == null ? "" : " (option " + c.option() + ")"));
            } else if (header.lastIndexOf(c.name()) != first) {
                problems.add("column '" + c.name() + "' twice (positions " + (first + 1) + " and "
                        + (header.lastIndexOf(c.name()) + 1) + ")");
            }
        }
        if (!problems.isEmpty()) {
            throw new InvalidDataException("the header of " + kind + " file " + file + " has " + String.join(", ", problems)
                    + "; its columns are " + header + ". Name the columns to read with the task's column options"
                    + " (text_column=..., label_column=...), or fix the header row");
        }
    }

    private <T> void readJsonLines(Path file, BufferedReader in, List<Column> columns, Sink<T> sink) throws IOException {
        boolean schemaChecked = false;
        boolean seenContent = false;
        long lineNumber = 0;
        String line;
        while ((line = in.readLine()) != null) {
            lineNumber++;
            if (line.isBlank()) {
                continue;
            }
            if (!seenContent && line.strip().startsWith("[")) {
                throw new InvalidDataException(file + " holds a JSON array; Attune reads JSON Lines, one object"
                        + " per line. Convert it, for example with: jq -c '.[]' in.json > out.jsonl");
            }
            seenContent = true;
            Row located = new Row(file, lineNumber, Map.of(), Set.of());
            JsonNode node;
            try {
                node = JSON.readTree(line);
            } catch (JsonProcessingException e) {
                sink.bad(located.error("is not valid JSON (" + e.getOriginalMessage() + ")",
                        "Write one JSON object per line"));
                continue;
            }
            if (!node.isObject()) {
                sink.bad(located.error("is a JSON " + node.getNodeType().toString().toLowerCase(Locale.ROOT)
                        + ", not an object", "Write one JSON object per line"));
                continue;
            }
            Map<String, String> values = new LinkedHashMap<>();
            Set<String> nonScalar = new HashSet<>();
            for (Map.Entry<String, JsonNode> e : node.properties()) {
                JsonNode v = e.getValue();
                if (v.isNull()) {
                    values.put(e.getKey(), null);
                } else if (v.isContainerNode()) {
                    values.put(e.getKey(), v.toString());
                    nonScalar.add(e.getKey());
                } else {
                    values.put(e.getKey(), v.asText());
                }
            }
            if (!schemaChecked) {
                List<String> missing = new ArrayList<>();
                for (Column c : columns) {
                    if (!values.containsKey(c.name())) {
                        missing.add("'" + c.name() + "'" + (c.option() == null ? "" : " (option " + c.option() + ")"));
                    }
                }
                if (!missing.isEmpty()) {
                    throw new InvalidDataException("the first object of " + file + " (line " + lineNumber
                            + ") has no field " + String.join(", ", missing) + "; its fields are " + values.keySet()
                            + ". Name the fields to read with the task's column options (text_column=...,"
                            + " label_column=...), or fix the data");
                }
                schemaChecked = true;
            }
            sink.accept(new Row(file, lineNumber, values, nonScalar));
        }
    }

    private static String names(List<Column> columns) {
        List<String> n = new ArrayList<>();
        for (Column c : columns) {
            n.add(c.name());
        }
        return n.toString();
    }

    /** Collects mapped rows and applies the bad-row policy. */
    private final class Sink<T> {
        private final Path file;
        private final RowMapper<T> mapper;
        private final List<T> rows = new ArrayList<>();
        private int skipped;
        private String firstBad;

        Sink(Path file, RowMapper<T> mapper) {
            this.file = file;
            this.mapper = mapper;
        }

        void accept(Row row) {
            T value;
            try {
                value = mapper.map(row);
            } catch (InvalidDataException e) {
                bad(e);
                return;
            }
            rows.add(Objects.requireNonNull(value, "the row mapper returned null"));
        }

        void bad(InvalidDataException e) {
            if (policy == BadRowPolicy.FAIL) {
                throw e;
            }
            String problem = e instanceof BadRowException b ? b.problem() : e.getMessage();
            if (firstBad == null) {
                firstBad = problem;
            }
            skipped++;
            if (skipped <= LOGGED_BAD_ROWS) {
                LOG.warn("skipping a bad row: {}", problem);
            } else if (skipped == LOGGED_BAD_ROWS + 1) {
                LOG.warn("{}: more bad rows; counting them without logging each", file);
            }
        }
    }
}
