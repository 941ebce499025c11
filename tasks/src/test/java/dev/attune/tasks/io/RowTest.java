package dev.attune.tasks.io;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.attune.error.InvalidDataException;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Row's readers of a number and of a list, which task plugins use for targets and label sets. */
class RowTest {
    private static final Column SCORE = new Column("score", "score_column");
    private static final Column TAGS = new Column("tags", "label_column");

    private static Row row(String column, String value, boolean json) {
        Map<String, String> values = new HashMap<>();
        values.put(column, value);
        return new Row(Path.of("d.tsv"), 7, values, json ? Set.of(column) : Set.of());
    }

    @ParameterizedTest(name = "''{0}'' -> {1}")
    @CsvSource(delimiterString = "-->", textBlock = """
            3          --> 3.0
            ' -0.25 '  --> -0.25
            1e-3       --> 0.001
            +4.5E2     --> 450.0
            """)
    void readsDecimalNumbers(String value, double expected) {
        assertThat(row("score", value, false).requireNumber(SCORE)).isEqualTo(expected);
    }

    @ParameterizedTest(name = "''{0}''")
    @CsvSource(textBlock = """
            NaN
            Infinity
            3f
            0x1p3
            four
            1e999
            '1,5'
            """)
    void refusesWhatIsNotAFiniteDecimalNumberNamingTheRowAndColumn(String value) {
        assertThatThrownBy(() -> row("score", value, false).requireNumber(SCORE))
                .isInstanceOf(BadRowException.class)
                .hasMessageStartingWith("d.tsv:7: the value '" + value + "' of column 'score' (option score_column)")
                .hasMessageContaining("on_bad_row=skip");
        assertThatThrownBy(() -> row("score", " ", false).requireNumber(SCORE))
                .isInstanceOf(InvalidDataException.class)
                .hasMessageContaining("is empty");
    }

    @Test
    void readsAListSplitAtTheSeparatorWithoutBlanksOrRepeats() {
        assertThat(row("tags", " b | a||b ", false).requireList(TAGS, "|")).containsExactly("b", "a");
        assertThat(row("tags", "x::y", false).requireList(TAGS, "::")).containsExactly("x", "y");
        assertThat(row("tags", "", false).requireList(TAGS, "|")).isEmpty();
        assertThat(row("tags", "a.b", false).requireList(TAGS, ".")).as("the separator is literal, not a regex")
                .containsExactly("a", "b");
    }

    @Test
    void readsAJsonArrayAsTheListAndRefusesOtherJson() {
        assertThat(row("tags", "[\"a\", 2, \"a\", \" \"]", true).requireList(TAGS, "|")).containsExactly("a", "2");
        assertThatThrownBy(() -> row("tags", "{\"a\": 1}", true).requireList(TAGS, "|"))
                .isInstanceOf(BadRowException.class)
                .hasMessageStartingWith("d.tsv:7: ")
                .hasMessageContaining("JSON object");
        assertThatThrownBy(() -> row("tags", "[[\"a\"]]", true).requireList(TAGS, "|"))
                .isInstanceOf(BadRowException.class)
                .hasMessageContaining("not a string");
        assertThatThrownBy(() -> row("tags", null, false).requireList(TAGS, "|"))
                .isInstanceOf(BadRowException.class)
                .hasMessageContaining("missing (null)");
        assertThatThrownBy(() -> row("other", "a", false).requireList(TAGS, "|"))
                .isInstanceOf(BadRowException.class)
                .hasMessageContaining("no field 'tags'");
    }

    @Test
    void aBadRowExceptionKeepsTheProblemWithoutTheAdviceToSkip() {
        BadRowException e = (BadRowException) row("score", "x", false).error("is odd", "Fix it");
        assertThat(e.problem()).isEqualTo("d.tsv:7: is odd. Fix it");
        assertThat(e.getMessage()).startsWith(e.problem()).contains("on_bad_row=skip");
    }
}
