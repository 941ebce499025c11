package dev.attune.tasks.lm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import dev.attune.error.ConfigurationException;
import dev.attune.error.InvalidDataException;
import dev.attune.model.HeadSpec.HeadKind;
import dev.attune.task.Dataset;
import dev.attune.task.Evaluator;
import dev.attune.task.Features;
import dev.attune.task.TaskOptions;
import dev.attune.tasks.testing.WhitespaceTokenizer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Masking of the masked-LM task: proportions, special tokens, seeds, reading and metrics. */
class MaskedLmTaskTest {
    static final String[] WORDS = {"[MASK]", "alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta"};
    static final long MASK = 4;

    @TempDir
    Path tmp;

    static MaskedLmTask task(String... kv) {
        Map<String, String> m = new LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) {
            m.put(kv[i], kv[i + 1]);
        }
        return new MaskedLmTask(new TaskOptions(m));
    }

    static String sentence(Random r, int n) {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < n; i++) {
            b.append(i == 0 ? "" : " ").append(WORDS[1 + r.nextInt(WORDS.length - 1)]);
        }
        return b.toString();
    }

    @Test
    void selectsFifteenPercentThenMasksEightyRandomTenKeepsTen() throws Exception {
        WhitespaceTokenizer tok = new WhitespaceTokenizer(WORDS);
        assertThat(tok.tokenToId("[MASK]")).isEqualTo(MASK);
        Random r = new Random(1);
        StringBuilder file = new StringBuilder();
        for (int i = 0; i < 1000; i++) {
            file.append(sentence(r, 40)).append('\n');
        }
        MaskedLmTask task = task();
        Dataset data = task.read(Files.writeString(tmp.resolve("corpus.txt"), file));
        long ordinary = 0;
        long selected = 0;
        long masked = 0;
        long kept = 0;
        long replaced = 0;
        for (int i = 0; i < data.size(); i++) {
            Features f = task.encode(data.examples().get(i), i, tok, 64).get(0);
            long[] ids = f.fields().get("input_ids");
            long[] labels = f.fields().get("labels");
            long[] original = tok.encode(((LmExample) data.examples().get(i)).text(), null, 64).ids();
            // [CLS] and [SEP] are never selected nor changed
            assertThat(labels[0]).isEqualTo(-100);
            assertThat(labels[ids.length - 1]).isEqualTo(-100);
            assertThat(ids[0]).isEqualTo(WhitespaceTokenizer.CLS);
            assertThat(ids[ids.length - 1]).isEqualTo(WhitespaceTokenizer.SEP);
            for (int t = 1; t < ids.length - 1; t++) {
                ordinary++;
                if (labels[t] == -100) {
                    assertThat(ids[t]).isEqualTo(original[t]);
                    continue;
                }
                selected++;
                assertThat(labels[t]).isEqualTo(original[t]);
                if (ids[t] == MASK) {
                    masked++;
                } else if (ids[t] == original[t]) {
                    kept++;
                } else {
                    replaced++;
                }
            }
        }
        assertThat(ordinary).isEqualTo(40_000);
        assertThat((double) selected / ordinary).isCloseTo(0.15, within(0.01));
        assertThat((double) masked / selected).isCloseTo(0.80, within(0.02));
        // a random replacement draws from all 13 ids: the original (then counted as kept) or [MASK]
        // (counted as masked) 1 time in 13 each
        assertThat((double) (replaced + kept) / selected).isCloseTo(0.20 - 0.10 / 13, within(0.015));
        assertThat((double) replaced / selected).isCloseTo(0.10 * 11 / 13, within(0.015));
    }

    @Test
    void theSameSeedGivesTheSameMaskAndAnotherSeedAnother() throws Exception {
        WhitespaceTokenizer tok = new WhitespaceTokenizer(WORDS);
        String text = sentence(new Random(3), 60);
        LmExample e = new LmExample(text, java.util.List.of(), false, "f.txt:1");
        Features a = task().encode(e, 7, tok, 128).get(0);
        Features b = task().encode(e, 7, tok, 128).get(0);
        Features c = task("seed", "43").encode(e, 7, tok, 128).get(0);
        Features d = task().encode(e, 8, tok, 128).get(0);
        assertThat(a.fields().get("input_ids")).isEqualTo(b.fields().get("input_ids"));
        assertThat(a.fields().get("labels")).isEqualTo(b.fields().get("labels"));
        assertThat(a.fields().get("labels")).isNotEqualTo(c.fields().get("labels"));
        assertThat(a.fields().get("labels")).isNotEqualTo(d.fields().get("labels"));
    }

    @Test
    void inputsForPredictionAreNotMasked() {
        WhitespaceTokenizer tok = new WhitespaceTokenizer(WORDS);
        // 40 words: a random mask would leave all of them alone once in about 650 draws
        String text = sentence(new Random(9), 40);
        Features f = task().encode(task().parseInput(Map.of("text", text)), 0, tok, 64).get(0);
        assertThat(f.fields().get("input_ids")).containsExactly(tok.encode(text, null, 64).ids());
        assertThat(f.fields()).doesNotContainKey("labels");
        Features read = task().encode(new LmExample(text, java.util.List.of(), false, "f.txt:1"), 0, tok, 64).get(0);
        assertThat(read.fields().get("input_ids")).isNotEqualTo(tok.encode(text, null, 64).ids());
    }

    @Test
    void readsAColumnAndRejectsBadRowsByLine() throws Exception {
        Path tsv = Files.writeString(tmp.resolve("d.tsv"), "id\tbody\n1\talpha beta\n2\t \n");
        assertThatThrownBy(() -> task("text_column", "body").read(tsv)).isInstanceOf(InvalidDataException.class)
                .hasMessageContaining("d.tsv:3").hasMessageContaining("body");
        Path jsonl = Files.writeString(tmp.resolve("d.jsonl"), "{\"text\": \"alpha\"}\n{\"text\": \"beta\"\n");
        assertThatThrownBy(() -> task().read(jsonl)).isInstanceOf(InvalidDataException.class)
                .hasMessageContaining("d.jsonl:2");
        assertThat(task("text_column", "body", "on_bad_row", "skip").read(tsv).size()).isEqualTo(1);
        assertThat(task().head().kind()).isEqualTo(HeadKind.MASKED_LM);
    }

    @Test
    void optionsAreChecked() {
        assertThatThrownBy(() -> task("mlm_probability", "1.5")).isInstanceOf(ConfigurationException.class);
        assertThatThrownBy(() -> task("mlm_probability", "x")).isInstanceOf(ConfigurationException.class);
        assertThatThrownBy(() -> task("seed", "x")).isInstanceOf(ConfigurationException.class);
        assertThatThrownBy(() -> task("label_column", "l")).isInstanceOf(ConfigurationException.class);
        WhitespaceTokenizer noMask = new WhitespaceTokenizer("alpha");
        assertThatThrownBy(() -> task().encode(new LmExample("alpha", java.util.List.of(), false, "x"), 0, noMask, 8))
                .isInstanceOf(ConfigurationException.class).hasMessageContaining("mask_token");
    }

    @Test
    void accuracyAndPerplexityCountSelectedPositionsOnly() {
        Evaluator ev = task().evaluator(null);
        Features f = new Features(0, Map.of("labels", new long[] {-100, 11, -100, 12}), null);
        ev.accept(f, Map.of("token_nll", new float[] {9, 1, 9, 3}, "token_correct", new float[] {1, 1, 1, 0}));
        Map<String, Double> m = ev.metrics();
        assertThat(m.get("accuracy")).isEqualTo(0.5);
        assertThat(m.get("perplexity")).isCloseTo(Math.exp(2.0), within(1e-9));
        assertThat(m.get("masked_tokens")).isEqualTo(2.0);
    }
}
