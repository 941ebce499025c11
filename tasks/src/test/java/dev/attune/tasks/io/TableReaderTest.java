package dev.attune.tasks.io;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.attune.error.ConfigurationException;
import dev.attune.error.InvalidDataException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TableReaderTest {
    private static final Column TEXT = new Column("text", "text_column");
    private static final Column LABEL = new Column("label", "label_column");
    private static final List<Column> COLUMNS = List.of(TEXT, LABEL);

    @TempDir
    Path dir;

    record Ex(String text, String label, String location) {}

    private static final RowMapper<Ex> MAPPER = row -> new Ex(row.require(TEXT), row.require(LABEL), row.location());

    private Path write(String name, String content) throws IOException {
        Path p = dir.resolve(name);
        Files.writeString(p, content, StandardCharsets.UTF_8);
        return p;
    }

    private static Table<Ex> read(Path file) {
        return new TableReader(null, BadRowPolicy.FAIL).read(file, COLUMNS, MAPPER);
    }

    @Test
    void readsTsvWithBareDoubleQuotesAsText() throws IOException {
        Path f = write("d.tsv", "label\ttext\nham\t\"Response\" is one of d \"powerful weapon\nspam\tsay \"hi\n");

        Table<Ex> t = read(f);

        assertThat(t.rows()).containsExactly(
                new Ex("\"Response\" is one of d \"powerful weapon", "ham", f + ":2"),
                new Ex("say \"hi", "spam", f + ":3"));
        assertThat(t.skipped()).isZero();
    }

    @Test
    void keepsSpacesInsideValuesAndTrimsHeaderNames() throws IOException {
        Path f = write("d.tsv", "text \t label\r\n  padded text  \t1\r\n");

        assertThat(read(f).rows()).containsExactly(new Ex("  padded text  ", "1", f + ":2"));
    }

    @Test
    void dropsAUtf8ByteOrderMark() throws IOException {
        Path f = write("bom.tsv", "\uFEFFtext\tlabel\nhello\tpos\n");

        assertThat(read(f).rows()).containsExactly(new Ex("hello", "pos", f + ":2"));
    }

    @Test
    void readsCsvWithQuotedCommasAndLineBreaksKeepingStartLines() throws IOException {
        Path f = write("d.csv", "text,label\n\"hello, world\",pos\n\"two\nlines, \"\"quoted\"\"\",neg\nplain,pos\n");

        assertThat(read(f).rows()).containsExactly(
                new Ex("hello, world", "pos", f + ":2"),
                new Ex("two\nlines, \"quoted\"", "neg", f + ":3"),
                new Ex("plain", "pos", f + ":5"));
    }

    @Test
    void ignoresBlankLinesButCountsThemInLineNumbers() throws IOException {
        Path f = write("d.tsv", "text\tlabel\n\na\t1\n\n\nb\t0\n\n");

        assertThat(read(f).rows()).extracting(Ex::location).containsExactly(f + ":3", f + ":6");
    }

    @Test
    void readsJsonLinesWithNumbersAndBlankLines() throws IOException {
        Path f = write("d.jsonl", "{\"text\": \"good \\\"film\\\"\", \"label\": 1, \"id\": 7}\n\n{\"label\": \"neg\", \"text\": \"bad\"}\n");

        assertThat(read(f).rows()).containsExactly(
                new Ex("good \"film\"", "1", f + ":1"),
                new Ex("bad", "neg", f + ":3"));
    }

    @Test
    void takesTheFormatFromTheOptionOverTheExtension() throws IOException {
        Path f = write("data.txt", "text,label\n\"a, b\",x\n");

        assertThatThrownBy(() -> read(f))
                .isInstanceOf(InvalidDataException.class)
                .hasMessageContaining("cannot tell the format")
                .hasMessageContaining("format=");
        Table<Ex> t = new TableReader(DataFormat.parse("CSV"), BadRowPolicy.FAIL).read(f, COLUMNS, MAPPER);
        assertThat(t.rows()).containsExactly(new Ex("a, b", "x", f + ":2"));
    }

    @Test
    void parsesFormatAndPolicyOptions() {
        assertThat(DataFormat.parse("json")).isEqualTo(DataFormat.JSONL);
        assertThat(DataFormat.fromFileName(Path.of("x/train.JSON"))).isEqualTo(DataFormat.JSONL);
        assertThat(DataFormat.fromFileName(Path.of("train.tsv"))).isEqualTo(DataFormat.TSV);
        assertThat(BadRowPolicy.parse(null)).isEqualTo(BadRowPolicy.FAIL);
        assertThat(BadRowPolicy.parse("Skip")).isEqualTo(BadRowPolicy.SKIP);
        assertThatThrownBy(() -> DataFormat.parse("xlsx")).isInstanceOf(ConfigurationException.class);
        assertThatThrownBy(() -> BadRowPolicy.parse("ignore"))
                .isInstanceOf(ConfigurationException.class)
                .hasMessageContaining("on_bad_row=skip");
    }

    @Test
    void missingColumnListsTheColumnsThatExist() throws IOException {
        Path f = write("d.tsv", "sentence\tlabel\nhi\t1\n");

        assertThatThrownBy(() -> read(f))
                .isInstanceOf(InvalidDataException.class)
                .hasMessageContaining(f.toString())
                .hasMessageContaining("no column 'text' (option text_column)")
                .hasMessageContaining("[sentence, label]");
    }

    @Test
    void missingFieldInJsonLinesListsTheFieldsThatExist() throws IOException {
        Path f = write("d.jsonl", "{\"sentence\": \"hi\", \"label\": 1}\n");

        assertThatThrownBy(() -> read(f))
                .isInstanceOf(InvalidDataException.class)
                .hasMessageContaining("no field 'text' (option text_column)")
                .hasMessageContaining("[sentence, label]");
    }

    @Test
    void missingLabelValueNamesFileLineAndColumn() throws IOException {
        Path f = write("d.tsv", "text\tlabel\na\t1\nb\t\n");

        assertThatThrownBy(() -> read(f))
                .isInstanceOf(InvalidDataException.class)
                .hasMessageStartingWith(f + ":3: ")
                .hasMessageContaining("'label' (option label_column) is empty")
                .hasMessageContaining("on_bad_row=skip");
    }

    @Test
    void nullOrNestedJsonValuesAreBadRows() throws IOException {
        Path nul = write("n.jsonl", "{\"text\": \"a\", \"label\": 1}\n{\"text\": \"b\", \"label\": null}\n");
        Path nested = write("o.jsonl", "{\"text\": [\"a\"], \"label\": 1}\n");

        assertThatThrownBy(() -> read(nul)).hasMessageStartingWith(nul + ":2: ").hasMessageContaining("missing (null)");
        assertThatThrownBy(() -> read(nested)).hasMessageStartingWith(nested + ":1: ").hasMessageContaining("array or object");
    }

    @Test
    void wrongFieldCountIsABadRow() throws IOException {
        Path f = write("d.tsv", "text\tlabel\na\t1\nb\tc\t1\n");

        assertThatThrownBy(() -> read(f))
                .isInstanceOf(InvalidDataException.class)
                .hasMessageStartingWith(f + ":3: has 3 fields but the header has 2");
    }

    @Test
    void skipPolicyLeavesOutAndCountsBadRows() throws IOException {
        Path f = write("d.tsv", "text\tlabel\na\t1\n\t0\nb\tc\t1\nc\t\nd\t0\n");

        Table<Ex> t = new TableReader(null, BadRowPolicy.SKIP).read(f, COLUMNS, MAPPER);

        assertThat(t.rows()).extracting(Ex::text).containsExactly("a", "d");
        assertThat(t.skipped()).isEqualTo(3);
    }

    @Test
    void skipPolicyAlsoCoversInvalidJson() throws IOException {
        Path f = write("d.jsonl", "{\"text\": \"a\", \"label\": 1}\n{not json}\n[1]\n{\"text\": \"b\", \"label\": 0} x\n");

        Table<Ex> t = new TableReader(null, BadRowPolicy.SKIP).read(f, COLUMNS, MAPPER);

        assertThat(t.rows()).extracting(Ex::text).containsExactly("a");
        assertThat(t.skipped()).isEqualTo(3);
        assertThatThrownBy(() -> read(f)).hasMessageStartingWith(f + ":2: is not valid JSON");
    }

    @Test
    void aJsonArrayIsRejectedWithAdvice() throws IOException {
        Path f = write("d.json", "[\n {\"text\": \"a\", \"label\": 1}\n]\n");

        assertThatThrownBy(() -> read(f)).isInstanceOf(InvalidDataException.class).hasMessageContaining("JSON Lines");
    }

    @Test
    void emptyFileHeaderOnlyFileAndAllRowsSkippedAreErrors() throws IOException {
        Path empty = write("empty.tsv", "");
        Path headerOnly = write("header.csv", "text,label\n");
        Path blankJson = write("blank.jsonl", "\n\n");
        Path allBad = write("bad.tsv", "text\tlabel\na\t\n");

        assertThatThrownBy(() -> read(empty)).isInstanceOf(InvalidDataException.class).hasMessageContaining("is empty");
        assertThatThrownBy(() -> read(headerOnly)).isInstanceOf(InvalidDataException.class).hasMessageContaining("no data rows");
        assertThatThrownBy(() -> read(blankJson)).isInstanceOf(InvalidDataException.class).hasMessageContaining("no data rows");
        assertThatThrownBy(() -> new TableReader(null, BadRowPolicy.SKIP).read(allBad, COLUMNS, MAPPER))
                .isInstanceOf(InvalidDataException.class)
                .hasMessageContaining("all 1 rows were bad")
                .hasMessageContaining(allBad + ":2")
                .hasMessageNotContaining("set on_bad_row=skip");
    }

    @Test
    void missingFileIsInvalidData() {
        Path f = dir.resolve("nope.tsv");

        assertThatThrownBy(() -> read(f)).isInstanceOf(InvalidDataException.class).hasMessageContaining("does not exist");
        assertThatThrownBy(() -> read(dir)).isInstanceOf(InvalidDataException.class).hasMessageContaining("is a directory");
    }

    @Test
    void unclosedCsvQuoteIsReported() throws IOException {
        Path f = write("d.csv", "text,label\n\"open,1\nx,2\n");

        assertThatThrownBy(() -> read(f)).isInstanceOf(InvalidDataException.class).hasMessageContaining("double quote");
    }

    @Test
    void invalidUtf8IsReported() throws IOException {
        Path f = dir.resolve("latin1.tsv");
        Files.write(f, "text\tlabel\ncaf\u00e9\t1\n".getBytes(StandardCharsets.ISO_8859_1));

        assertThatThrownBy(() -> read(f)).isInstanceOf(InvalidDataException.class).hasMessageContaining("UTF-8");
    }

    @Test
    void ambiguousColumnIsReported() throws IOException {
        Path f = write("d.tsv", "text\tlabel\ttext\na\t1\tb\n");

        assertThatThrownBy(() -> read(f)).isInstanceOf(InvalidDataException.class).hasMessageContaining("'text' twice");
    }
}
