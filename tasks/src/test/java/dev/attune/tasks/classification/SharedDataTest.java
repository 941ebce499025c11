package dev.attune.tasks.classification;

import static org.assertj.core.api.Assertions.assertThat;

import dev.attune.task.Dataset;
import dev.attune.task.Example;
import dev.attune.task.Task;
import dev.attune.task.TaskOptions;
import dev.attune.tasks.testing.SharedData;
import dev.attune.tasks.testing.WhitespaceTokenizer;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Reads the real data sets in ../shared/data; fails (does not skip) when they are absent. */
class SharedDataTest {
    @Test
    void smsSpamTrainingSetWithBareQuotes() {
        Path file = SharedData.data("sms_spam/train.tsv");
        Task t = new TextClassificationTask(TaskOptions.empty());

        Dataset data = t.read(file);

        assertThat(data.size()).isEqualTo(4459);
        assertThat(data.skipped()).isZero();
        assertThat(data.examples().stream().filter(e -> label(e).equals("spam")).count()).isEqualTo(587);
        assertThat(t.inferLabels(data)).containsExactly("ham", "spam");
        TextExample first = (TextExample) data.examples().get(0);
        assertThat(first.text()).startsWith("\"Response\" is one of d powerful weapon");
        assertThat(first.location()).isEqualTo(file + ":2");
        Task fixed = t.withLabels(t.inferLabels(data));
        assertThat(fixed.primaryMetric()).isEqualTo("f1");
        fixed.validate(t.read(SharedData.data("sms_spam/test.tsv")));
    }

    @Test
    void mrpcTrainingSetWithByteOrderMark() {
        Path file = SharedData.data("mrpc/train.tsv");
        Task t = new TextPairClassificationTask(new TaskOptions(
                Map.of("text_column", "#1 String", "text_pair_column", "#2 String", "label_column", "Quality")));

        Dataset data = t.read(file);

        assertThat(data.size()).isEqualTo(3668);
        assertThat(data.examples().stream().filter(e -> label(e).equals("1")).count()).isEqualTo(2474);
        assertThat(t.inferLabels(data)).containsExactly("0", "1");
        TextExample first = (TextExample) data.examples().get(0);
        assertThat(first.text()).isEqualTo(
                "Amrozi accused his brother, whom he called \"the witness\", of deliberately distorting his evidence.");
        assertThat(first.textPair()).startsWith("Referring to him as only \"the witness\"");
        Task fixed = t.withLabels(t.inferLabels(data));
        assertThat(fixed.encode(first, 0, new WhitespaceTokenizer(), 128).get(0).fields().get("token_type_ids"))
                .contains(0L, 1L);
    }

    @Test
    void sst2DevSet() {
        Task t = new TextClassificationTask(new TaskOptions(Map.of("text_column", "sentence")));

        Dataset data = t.read(SharedData.data("sst2/dev.tsv"));

        assertThat(data.size()).isEqualTo(872);
        assertThat(data.examples().stream().filter(e -> label(e).equals("1")).count()).isEqualTo(444);
        assertThat(t.inferLabels(data)).containsExactly("0", "1");
    }

    private static String label(Example e) {
        return ((TextExample) e).label();
    }
}
