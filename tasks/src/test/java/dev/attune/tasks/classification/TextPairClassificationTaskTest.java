package dev.attune.tasks.classification;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.attune.error.InvalidDataException;
import dev.attune.task.Dataset;
import dev.attune.task.Example;
import dev.attune.task.Features;
import dev.attune.task.Task;
import dev.attune.task.TaskOptions;
import dev.attune.tasks.testing.WhitespaceTokenizer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TextPairClassificationTaskTest {
    @TempDir
    Path dir;

    private final WhitespaceTokenizer tokenizer = new WhitespaceTokenizer("the", "cat", "sat", "a", "dog");

    @Test
    void readsBothTextsAndEncodesThemAsOneSequenceWithTypeIds() throws IOException {
        Path f = dir.resolve("train.csv");
        Files.writeString(f, "q,a,y\nthe cat,\"a dog, sat\",1\nthe dog,the cat,0\n");
        Task t0 = new TextPairClassificationTask(new TaskOptions(Map.of("text_column", "q", "text_pair_column", "a", "label_column", "y")));

        Dataset data = t0.read(f);
        Task t = t0.withLabels(t0.inferLabels(data));
        Features features = t.encode(data.examples().get(0), 0, tokenizer, 32).get(0);

        assertThat(data.examples().get(0)).isEqualTo(new TextExample("the cat", "a dog, sat", "1", f + ":2"));
        assertThat(t).isInstanceOf(TextPairClassificationTask.class);
        assertThat(t.labels()).containsExactly("0", "1");
        // [CLS] the cat [SEP] a dog, [SEP]: "dog," is not in the vocabulary
        assertThat(features.fields().get("input_ids")).containsExactly(2, 4, 5, 3, 7, 1, 6, 3);
        assertThat(features.fields().get("token_type_ids")).containsExactly(0, 0, 0, 0, 1, 1, 1, 1);
        assertThat(features.fields().get("labels")).containsExactly(1);
    }

    @Test
    void truncatesTheLongerTextFirst() {
        Task t = new TextPairClassificationTask(new TaskOptions(Map.of("labels", "no,yes")));
        Example e = t.parseInput(Map.of("text", "the cat sat", "text_pair", "a dog"));

        assertThat(t.encode(e, 0, tokenizer, 7).get(0).fields().get("input_ids")).containsExactly(2, 4, 5, 3, 7, 8, 3);
    }

    @Test
    void aMissingSecondColumnListsTheColumnsThatExist() throws IOException {
        Path f = dir.resolve("train.tsv");
        Files.writeString(f, "text\tlabel\na\t1\n");
        Task t = new TextPairClassificationTask(TaskOptions.empty());

        assertThatThrownBy(() -> t.read(f))
                .isInstanceOf(InvalidDataException.class)
                .hasMessageContaining("no column 'text_pair' (option text_pair_column)")
                .hasMessageContaining("[text, label]");
    }

    @Test
    void inputNeedsBothTexts() {
        Task t = new TextPairClassificationTask(new TaskOptions(Map.of("labels", "no,yes")));

        assertThatThrownBy(() -> t.parseInput(Map.of("text", "the cat")))
                .isInstanceOf(InvalidDataException.class)
                .hasMessageContaining("'text_pair'");
        assertThatThrownBy(() -> t.encode(new TextExample("the cat", null, null, "input"), 0, tokenizer, 8))
                .isInstanceOf(InvalidDataException.class)
                .hasMessageContaining("second text");
    }
}
