package dev.attune.tasks.io;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.attune.error.AttuneException;
import dev.attune.testing.Fuzzer;
import dev.attune.testing.Mutator;
import dev.attune.testing.SharedFiles;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Fuzzes {@link TableReader} on TSV, CSV and JSON Lines made from real SST-2 rows: every mutated
 * file must be read (under both bad-row policies) or fail with an {@link AttuneException}. See
 * {@link Fuzzer} for scaling and replaying.
 */
class TableReaderFuzzTest {
    private static final Column TEXT = new Column("sentence", "text_column");
    private static final Column LABEL = new Column("label", "label_column");
    private static final List<Column> COLUMNS = List.of(TEXT, LABEL);

    /** A task-like mapper: text must be present, the label an integer 0 or 1. */
    private static final RowMapper<Map.Entry<String, Integer>> MAPPER = row -> {
        String text = row.require(TEXT);
        String label = row.require(LABEL).trim();
        if (!label.equals("0") && !label.equals("1")) {
            throw row.error("label '" + label + "' is not 0 or 1", "Fix the label");
        }
        return Map.entry(text, Integer.parseInt(label));
    };

    @TempDir Path dir;

    private static List<String> sst2Lines() throws IOException {
        List<String> all = Files.readAllLines(SharedFiles.path("data/sst2/dev.tsv"), StandardCharsets.UTF_8);
        return all.subList(0, 31); // header and 30 rows
    }

    private void fuzz(String name, String extension, byte[] seed, int iterations) {
        Path file = dir.resolve("data." + extension);
        Fuzzer.run(name, seed, new Mutator(true), iterations, input -> {
            Files.write(file, input);
            try {
                new TableReader(null, BadRowPolicy.SKIP).read(file, COLUMNS, MAPPER);
            } catch (AttuneException skipPolicyRejection) {
                // a file with no usable rows; the fail policy below must reject it too
            }
            new TableReader(null, BadRowPolicy.FAIL).read(file, COLUMNS, MAPPER);
        });
    }

    @Test
    void tsv() throws IOException {
        fuzz("tsv", "tsv", (String.join("\n", sst2Lines()) + "\n").getBytes(StandardCharsets.UTF_8), 1000);
    }

    @Test
    void csv() throws IOException {
        StringBuilder csv = new StringBuilder();
        for (String line : sst2Lines()) {
            String[] f = line.split("\t", -1);
            csv.append('"').append(f[0].replace("\"", "\"\"")).append("\",").append(f[1]).append("\r\n");
        }
        fuzz("csv", "csv", csv.toString().getBytes(StandardCharsets.UTF_8), 600);
    }

    @Test
    void jsonLines() throws IOException {
        ObjectMapper json = new ObjectMapper();
        StringBuilder out = new StringBuilder();
        for (String line : sst2Lines().subList(1, 31)) {
            String[] f = line.split("\t", -1);
            Map<String, Object> o = new LinkedHashMap<>();
            o.put("sentence", f[0]);
            o.put("label", Integer.parseInt(f[1].trim()));
            out.append(json.writeValueAsString(o)).append('\n');
        }
        fuzz("jsonl", "jsonl", out.toString().getBytes(StandardCharsets.UTF_8), 800);
    }
}
