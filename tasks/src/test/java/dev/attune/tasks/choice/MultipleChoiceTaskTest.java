package dev.attune.tasks.choice;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.attune.error.ConfigurationException;
import dev.attune.error.InvalidDataException;
import dev.attune.model.HeadSpec.HeadKind;
import dev.attune.task.Dataset;
import dev.attune.task.Evaluator;
import dev.attune.task.Features;
import dev.attune.task.TaskOptions;
import dev.attune.tasks.testing.WhitespaceTokenizer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Reading SWAG-style files, one row per ending in each feature, the loss's inputs, accuracy and decoding. */
class MultipleChoiceTaskTest {
    static final WhitespaceTokenizer TOKENIZER =
            new WhitespaceTokenizer("she", "opened", "the", "fridge", "took", "milk", "flew", "away", "sang");

    @TempDir
    Path tmp;

    private static MultipleChoiceTask task(String... kv) {
        java.util.Map<String, String> m = new java.util.LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) {
            m.put(kv[i], kv[i + 1]);
        }
        return new MultipleChoiceTask(new TaskOptions(m));
    }

    @Test
    void readsJsonLinesWithAnArrayOfEndings() throws IOException {
        Path f = Files.writeString(tmp.resolve("d.jsonl"),
                "{\"context\":\"she opened the fridge\",\"endings\":[\"took the milk\",\"flew away\",\"sang\"],\"label\":0}\n"
                        + "{\"context\":\"she opened\",\"endings\":[\"the fridge\",\"a | b\",\"sang\"],\"label\":2}\n");
        Dataset d = task().read(f);
        assertThat(d.examples()).hasSize(2);
        ChoiceExample e = (ChoiceExample) d.examples().get(1);
        assertThat(e.endings()).containsExactly("the fridge", "a | b", "sang");
        assertThat(e.label()).isEqualTo(2);
        assertThat(e.location()).endsWith("d.jsonl:2");
        assertThat(task().head().kind()).isEqualTo(HeadKind.MULTIPLE_CHOICE);
    }

    @Test
    void readsSwagCsvWithNumberedEndingsAndAStartColumn() throws IOException {
        Path f = Files.writeString(tmp.resolve("swag.csv"),
                "sent1,sent2,ending0,ending1,ending2,label\n"
                        + "she opened the fridge,she,took the milk,flew away,sang,0\n");
        ChoiceExample e = (ChoiceExample) task("context_column", "sent1", "start_column", "sent2").read(f).examples().get(0);
        assertThat(e.context()).isEqualTo("she opened the fridge");
        assertThat(e.endings()).containsExactly("she took the milk", "she flew away", "she sang");
    }

    @Test
    void readsSeparatedEndingsInOneColumn() throws IOException {
        Path f = Files.writeString(tmp.resolve("d.tsv"), "context\tendings\tlabel\nshe opened\tthe fridge|sang\t1\n");
        assertThat(((ChoiceExample) task().read(f).examples().get(0)).endings()).containsExactly("the fridge", "sang");
    }

    @Test
    void aBadLabelOrTooFewEndingsNamesTheFileAndLine() throws IOException {
        Path f = Files.writeString(tmp.resolve("d.tsv"), "context\tendings\tlabel\nshe\ta|b\t1\nshe\ta|b\t2\n");
        assertThatThrownBy(() -> task().read(f)).isInstanceOf(InvalidDataException.class)
                .hasMessageContaining("d.tsv:3").hasMessageContaining("label 2").hasMessageContaining("0..1");
        Path g = Files.writeString(tmp.resolve("g.tsv"), "context\tendings\tlabel\nshe\tonly one\t0\n");
        assertThatThrownBy(() -> task().read(g)).isInstanceOf(InvalidDataException.class)
                .hasMessageContaining("g.tsv:2").hasMessageContaining("at least two endings");
        Path h = Files.writeString(tmp.resolve("h.tsv"), "context\tlabel\nshe\t0\n");
        assertThatThrownBy(() -> task().read(h)).isInstanceOf(InvalidDataException.class)
                .hasMessageContaining("h.tsv:2").hasMessageContaining("ending0");
        assertThatThrownBy(() -> task("colour", "red")).isInstanceOf(ConfigurationException.class);
    }

    @Test
    void aDataSetWhoseExamplesDifferInEndingsIsRefusedNamingTheExample() throws IOException {
        Path f = Files.writeString(tmp.resolve("d.tsv"), "context\tendings\tlabel\nshe\ta|b\t1\nshe\ta|b|c\t2\n");
        MultipleChoiceTask t = task();
        Dataset d = t.read(f);
        assertThatThrownBy(() -> t.validate(d)).isInstanceOf(InvalidDataException.class)
                .hasMessageContaining("d.tsv:3").hasMessageContaining("3 endings").hasMessageContaining("same number");
    }

    @Test
    void encodesOneRowPerEndingPaddedToTheLongestWithTheLabel() {
        MultipleChoiceTask t = task();
        ChoiceExample e = new ChoiceExample("x", "she opened the fridge", List.of("took the milk", "sang"), 1);
        Features f = t.encode(e, 7, TOKENIZER, 64).get(0);
        assertThat(t.sequenceRows(f)).isEqualTo(2);
        long[] first = TOKENIZER.encode("she opened the fridge", "took the milk", 64).ids();
        long[] second = TOKENIZER.encode("she opened the fridge", "sang", 64).ids();
        int w = first.length; // the longer pair
        long[] ids = f.fields().get("input_ids");
        assertThat(ids).hasSize(2 * w);
        assertThat(java.util.Arrays.copyOfRange(ids, 0, w)).containsExactly(first);
        assertThat(java.util.Arrays.copyOfRange(ids, w, w + second.length)).containsExactly(second);
        assertThat(java.util.Arrays.copyOfRange(ids, w + second.length, 2 * w)).containsOnly(WhitespaceTokenizer.PAD);
        long[] mask = f.fields().get("attention_mask");
        assertThat(java.util.Arrays.stream(mask).sum()).isEqualTo(first.length + second.length);
        assertThat(f.fields().get("token_type_ids")).hasSize(2 * w);
        assertThat(f.fields().get("labels")).containsExactly(1);
        assertThat(t.padding(TOKENIZER)).containsOnlyKeys("input_ids", "attention_mask", "token_type_ids");
    }

    @Test
    void accuracyAndPredictionsReadTheLogitsPerEnding() {
        MultipleChoiceTask t = task();
        ChoiceExample right = new ChoiceExample("a", "she", List.of("sang", "flew away", "took the milk"), 2);
        ChoiceExample wrong = new ChoiceExample("b", "she", List.of("sang", "flew away", "took the milk"), 0);
        Evaluator ev = t.evaluator(new Dataset("d", List.of(right, wrong), 0));
        ev.accept(t.encode(right, 0, TOKENIZER, 32).get(0), Map.of("logits", new float[] {0f, 1f, 3f}));
        ev.accept(t.encode(wrong, 1, TOKENIZER, 32).get(0), Map.of("logits", new float[] {0f, 1f, 3f}));
        assertThat(ev.metrics()).containsEntry("accuracy", 0.5);

        var input = t.parseInput(Map.of("context", "she", "endings", "sang|flew away|took the milk"));
        Map<String, Object> p = t.decode(input, t.encode(input, 0, TOKENIZER, 32),
                List.of(Map.of("logits", new float[] {0f, 0f, (float) Math.log(2)}))).toMap();
        assertThat(p).containsEntry("choice", 2).containsEntry("ending", "took the milk");
        assertThat((double) p.get("score")).isCloseTo(0.5, org.assertj.core.data.Offset.offset(1e-6));
        assertThat(t.parseInput(Map.of("context", "she", "ending0", "sang", "ending1", "flew"))).isInstanceOf(ChoiceExample.class);
        assertThatThrownBy(() -> t.parseInput(Map.of("context", "she", "endings", "sang")))
                .isInstanceOf(InvalidDataException.class).hasMessageContaining("at least two");
        assertThatThrownBy(() -> t.parseInput(Map.of("text", "she"))).isInstanceOf(InvalidDataException.class)
                .hasMessageContaining("context");
    }
}
