package dev.attune.tasks.seq2seq;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.attune.engine.Batch;
import dev.attune.error.ConfigurationException;
import dev.attune.error.InvalidDataException;
import dev.attune.model.HeadSpec.HeadKind;
import dev.attune.core.Collator;
import dev.attune.task.Dataset;
import dev.attune.task.Features;
import dev.attune.task.Task;
import dev.attune.task.TaskOptions;
import dev.attune.task.TaskProvider;
import dev.attune.tasks.testing.WhitespaceTokenizer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.ServiceLoader;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The seq2seq task's reading, encoding (prefix, shifted decoder inputs), padding and options. */
class Seq2SeqTaskTest {
    @TempDir
    Path dir;

    private final WhitespaceTokenizer tokenizer =
            new WhitespaceTokenizer("translate:", "the", "house", "das", "haus", "is", "ist", "big", "gross");

    private static Seq2SeqTask task(String... keyValues) {
        Map<String, String> m = new HashMap<>();
        for (int i = 0; i < keyValues.length; i += 2) {
            m.put(keyValues[i], keyValues[i + 1]);
        }
        return new Seq2SeqTask(new TaskOptions(m));
    }

    private long id(String word) {
        return tokenizer.tokenToId(word);
    }

    @Test
    void isDiscoveredAndAsksForASeq2SeqHead() {
        Task found = null;
        for (TaskProvider p : ServiceLoader.load(TaskProvider.class)) {
            if (p.name().equals("seq2seq")) {
                found = p.create(TaskOptions.empty());
            }
        }
        assertThat(found).isInstanceOf(Seq2SeqTask.class);
        assertThat(found.head().kind()).isEqualTo(HeadKind.SEQ2SEQ_LM);
        assertThat(found.primaryMetric()).isEqualTo("bleu");
    }

    @Test
    void encodesPrefixedSourceAndLabelsShiftedRightBehindTheStartToken() {
        Seq2SeqTask t = task("prefix", "translate: ");
        Features f = t.encode(new Seq2SeqExample("the house", "das haus", "x:1"), 3, tokenizer, 32).get(0);
        long cls = WhitespaceTokenizer.CLS;
        long sep = WhitespaceTokenizer.SEP;
        assertThat(f.exampleIndex()).isEqualTo(3);
        assertThat(f.fields().keySet()).containsExactly("input_ids", "attention_mask", "decoder_input_ids", "labels");
        assertThat(f.fields().get("input_ids")).containsExactly(cls, id("translate:"), id("the"), id("house"), sep);
        assertThat(f.fields().get("attention_mask")).containsExactly(1, 1, 1, 1, 1);
        assertThat(f.fields().get("labels")).containsExactly(cls, id("das"), id("haus"), sep);
        // decoder_start_token_id defaults to the pad id (T5's convention)
        assertThat(f.fields().get("decoder_input_ids")).containsExactly(WhitespaceTokenizer.PAD, cls, id("das"), id("haus"));

        Features g = task("decoder_start_token_id", "7").encode(new Seq2SeqExample("the", "das", "x:2"), 0, tokenizer, 32)
                .get(0);
        assertThat(g.fields().get("decoder_input_ids")[0]).isEqualTo(7);
        // without a target there are no decoder inputs or labels
        Features h = t.encode(new Seq2SeqExample("the", null, "x:3"), 0, tokenizer, 32).get(0);
        assertThat(h.fields().keySet()).containsExactly("input_ids", "attention_mask");
    }

    @Test
    void truncatesTargetsToMaxTargetLength() {
        Features f = task("max_target_length", "3").encode(new Seq2SeqExample("the", "das haus ist gross", "x:1"), 0,
                tokenizer, 32).get(0);
        assertThat(f.fields().get("labels")).hasSize(3);
        assertThat(f.fields().get("decoder_input_ids")).hasSize(3);
    }

    @Test
    void padsLabelsWithIgnoreIndexAndTheRestWithPadOrZero() {
        Seq2SeqTask t = task();
        List<Features> fs = new ArrayList<>();
        fs.add(t.encode(new Seq2SeqExample("the house is big", "das", "x:1"), 0, tokenizer, 32).get(0));
        fs.add(t.encode(new Seq2SeqExample("the", "das haus ist gross", "x:2"), 1, tokenizer, 32).get(0));
        Batch b = Collator.collate(fs, t.padding(tokenizer), 0);
        long[] labels = b.get("labels").toLongArray();
        int width = (int) b.get("labels").shape()[1];
        assertThat(width).isEqualTo(6);
        // first row: [CLS] das [SEP] then -100
        assertThat(java.util.Arrays.copyOfRange(labels, 0, width)).containsExactly(
                WhitespaceTokenizer.CLS, id("das"), WhitespaceTokenizer.SEP, -100, -100, -100);
        long[] decoder = b.get("decoder_input_ids").toLongArray();
        assertThat(java.util.Arrays.copyOfRange(decoder, 0, width)).containsExactly(
                WhitespaceTokenizer.PAD, WhitespaceTokenizer.CLS, id("das"), 0, 0, 0);
        long[] mask = b.get("attention_mask").toLongArray();
        assertThat(java.util.Arrays.copyOfRange(mask, width, 2 * width)).containsExactly(1, 1, 1, 0, 0, 0);
    }

    @Test
    void readsTsvAndJsonLinesWithNamedColumns() throws IOException {
        Path tsv = dir.resolve("train.tsv");
        Files.writeString(tsv, "en\tde\nthe house\tdas haus\nthe house is big\tdas haus ist gross\n");
        Dataset d = task("source_column", "en", "target_column", "de").read(tsv);
        assertThat(d.size()).isEqualTo(2);
        Seq2SeqExample e = (Seq2SeqExample) d.examples().get(1);
        assertThat(e.source()).isEqualTo("the house is big");
        assertThat(e.target()).isEqualTo("das haus ist gross");
        assertThat(e.location()).contains("train.tsv:3");

        Path jsonl = dir.resolve("dev.jsonl");
        Files.writeString(jsonl, "{\"source\": \"the house\", \"target\": \"das haus\"}\n");
        assertThat(((Seq2SeqExample) task().read(jsonl).examples().get(0)).target()).isEqualTo("das haus");

        Path missing = dir.resolve("bad.tsv");
        Files.writeString(missing, "source\tlabel\nthe\tdas\n");
        assertThatThrownBy(() -> task().read(missing)).isInstanceOf(InvalidDataException.class).hasMessageContaining("target");
    }

    @Test
    void rejectsUnknownAndInvalidOptions() {
        assertThatThrownBy(() -> task("text_column", "x")).isInstanceOf(ConfigurationException.class)
                .hasMessageContaining("text_column");
        assertThatThrownBy(() -> task("num_beams", "0")).isInstanceOf(ConfigurationException.class)
                .hasMessageContaining("num_beams");
        assertThatThrownBy(() -> task("early_stopping", "maybe")).isInstanceOf(ConfigurationException.class)
                .hasMessageContaining("early_stopping");
        assertThatThrownBy(() -> task("source_column", "a", "target_column", "a"))
                .isInstanceOf(ConfigurationException.class);
        Seq2SeqTask beams = task("num_beams", "4", "length_penalty", "0.6", "early_stopping", "true");
        assertThat(beams.beams().numBeams()).isEqualTo(4);
        assertThat(beams.beams().lengthPenalty()).isEqualTo(0.6);
    }

    @Test
    void parsesUserInput() {
        Seq2SeqExample e = (Seq2SeqExample) task().parseInput(Map.of("source", "the house"));
        assertThat(e.source()).isEqualTo("the house");
        assertThat(e.target()).isNull();
        assertThatThrownBy(() -> task().parseInput(Map.of("text", "x"))).isInstanceOf(InvalidDataException.class);
    }
}
