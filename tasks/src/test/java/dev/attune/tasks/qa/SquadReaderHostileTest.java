package dev.attune.tasks.qa;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.attune.error.InvalidDataException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * SQuAD files with the wrong shapes or out-of-range numbers: each is a message naming the article,
 * paragraph and question, never a NullPointerException or an answer accepted through an overflow.
 */
class SquadReaderHostileTest {
    @TempDir Path dir;

    static String squad(String paragraphs) {
        return "{\"data\": [{\"title\": \"T\", \"paragraphs\": " + paragraphs + "}]}";
    }

    static String paragraph(String qas) {
        return "[{\"context\": \"The cat sat on the mat.\", \"qas\": " + qas + "}]";
    }

    static String answer(String start) {
        return paragraph("[{\"id\": \"q1\", \"question\": \"Where?\", \"answers\": [{\"text\": \"the mat\", \"answer_start\": "
                + start + "}]}]");
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', textBlock = """
        paragraphs as an object   | {"p": {"context": "x", "qas": []}}    | 'paragraphs' must be a JSON array, found object
        qas as an object          | [{"context": "x", "qas": {"q": 1}}]   | paragraph 0: 'qas' must be a JSON array, found object
        a paragraph as a number   | [7]                                   | paragraph 0: expected a JSON object, found number
        """)
    void wrongShapesAreNamed(String name, String paragraphs, String message) throws IOException {
        Path file = Files.writeString(dir.resolve("squad.json"), squad(paragraphs));
        assertThatThrownBy(() -> SquadReader.read(file, 0, -1)).isInstanceOf(InvalidDataException.class)
                .hasMessageContaining("article 0").hasMessageContaining(message);
    }

    @ParameterizedTest(name = "answer_start {0}")
    @CsvSource(delimiter = '|', textBlock = """
        2147483647  | at 2147483647 lies outside its context of 23 characters
        2147483645  | lies outside its context
        4294967311  | needs an 'answer_start' that is a character position
        -1          | at -1 lies outside
        "15"        | needs an 'answer_start' that is a character position
        15.5        | needs an 'answer_start'
        """)
    void answerStartsOutOfRangeAreRefused(String start, String message) throws IOException {
        Path file = Files.writeString(dir.resolve("squad.json"), squad(answer(start)));
        assertThatThrownBy(() -> SquadReader.read(file, 0, -1)).isInstanceOf(InvalidDataException.class)
                .hasMessageContaining("question q1").hasMessageContaining(message);
    }

    @org.junit.jupiter.api.Test
    void aValidAnswerReads() throws IOException {
        Path file = Files.writeString(dir.resolve("squad.json"), squad(answer("15")));
        assertThat(SquadReader.read(file, 0, -1)).singleElement()
                .satisfies(e -> assertThat(e.answers().get(0).start()).isEqualTo(15));
    }
}
