package dev.attune.tasks.ner;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import dev.attune.error.ConfigurationException;
import dev.attune.error.InvalidDataException;
import dev.attune.model.HeadSpec.HeadKind;
import dev.attune.ops.Ops;
import dev.attune.ops.Tensor;
import dev.attune.task.Dataset;
import dev.attune.task.Evaluator;
import dev.attune.task.Features;
import dev.attune.task.Task;
import dev.attune.task.TaskOptions;
import dev.attune.tasks.testing.PieceTokenizer;
import dev.attune.tasks.testing.SharedData;
import java.io.IOException;
import java.lang.reflect.Proxy;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.ServiceLoader;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TokenClassificationTaskTest {
    @TempDir
    Path dir;

    private static Task task(String... kv) {
        java.util.Map<String, String> m = new java.util.LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) {
            m.put(kv[i], kv[i + 1]);
        }
        return new TokenClassificationTask(new TaskOptions(m));
    }

    @Test
    void iob1ToIob2() {
        assertThat(TagScheme.iob1ToIob2(List.of("I-PER", "I-PER", "O", "I-LOC", "B-LOC", "I-LOC", "I-MISC", "I-ORG")))
                .containsExactly("B-PER", "I-PER", "O", "B-LOC", "B-LOC", "I-LOC", "B-MISC", "B-ORG");
        List<String> iob2 = List.of("B-PER", "I-PER", "B-PER", "O", "B-LOC");
        assertThat(TagScheme.iob1ToIob2(iob2)).isEqualTo(iob2);
    }

    @Test
    void readsConll2003DevelopmentSet() {
        Path file = SharedData.data("conll2003/eng.testa");
        Task t = task();

        Dataset data = t.read(file);

        assertThat(data.size()).isEqualTo(3250);
        WordsExample first = (WordsExample) data.examples().get(0);
        assertThat(first.words()).containsExactly(
                "CRICKET", "-", "LEICESTERSHIRE", "TAKE", "OVER", "AT", "TOP", "AFTER", "INNINGS", "VICTORY", ".");
        assertThat(first.tags()).containsExactly("O", "O", "B-ORG", "O", "O", "O", "O", "O", "O", "O", "O");
        assertThat(first.location()).isEqualTo(file + ":1");
        assertThat(data.examples().stream().mapToInt(e -> ((WordsExample) e).words().size()).sum()).isEqualTo(51362);
        assertThat(t.inferLabels(data)).containsExactly(
                "B-LOC", "B-MISC", "B-ORG", "B-PER", "I-LOC", "I-MISC", "I-ORG", "I-PER", "O");

        Dataset raw = task("convert_to", "none").read(file);
        assertThat(((WordsExample) raw.examples().get(0)).tags().get(2)).isEqualTo("I-ORG");
        assertThat(task("convert_to", "none").inferLabels(raw))
                .containsExactly("B-MISC", "I-LOC", "I-MISC", "I-ORG", "I-PER", "O");
    }

    @Test
    void readsConll2003TrainingSet() {
        Dataset data = task().read(SharedData.data("conll2003/eng.train"));
        assertThat(data.size()).isEqualTo(14041);
        assertThat(((WordsExample) data.examples().get(0)).tags())
                .containsExactly("B-ORG", "O", "B-MISC", "O", "O", "O", "B-MISC", "O", "O");
    }

    @Test
    void readsTwoColumnFilesAndDocStartLines() throws IOException {
        Path file = dir.resolve("two.txt");
        Files.writeString(file, "-DOCSTART- O\n\nJohn B-PER\nSmith I-PER\n\n\nParis B-LOC\n-DOCSTART- O\nhi O\n");
        Dataset data = task("tag_scheme", "iob2").read(file);
        assertThat(data.size()).isEqualTo(3);
        WordsExample first = (WordsExample) data.examples().get(0);
        assertThat(first.words()).containsExactly("John", "Smith");
        assertThat(first.tags()).containsExactly("B-PER", "I-PER");
        assertThat(first.text()).isEqualTo("John Smith");
        assertThat(first.location()).isEqualTo(file + ":3");
        assertThat(((WordsExample) data.examples().get(1)).location()).isEqualTo(file + ":7");

        Path bad = dir.resolve("bad.txt");
        Files.writeString(bad, "John B-PER\nalone\n");
        assertThatThrownBy(() -> task().read(bad)).isInstanceOf(InvalidDataException.class).hasMessageContaining(bad + ":2");
    }

    @Test
    void optionsAreChecked() {
        assertThatThrownBy(() -> task("tag_scheme", "bioes")).isInstanceOf(ConfigurationException.class);
        assertThatThrownBy(() -> task("convert_to", "iob1")).isInstanceOf(ConfigurationException.class);
        assertThatThrownBy(() -> task("column", "3")).isInstanceOf(ConfigurationException.class);
        assertThat(task("labels", "O,B-PER,I-PER").labels()).containsExactly("O", "B-PER", "I-PER");
        assertThat(task("labels", "O,B-PER").withLabels(List.of("B-X", "O")).head())
                .satisfies(h -> {
                    assertThat(h.kind()).isEqualTo(HeadKind.TOKEN_CLASSIFICATION);
                    assertThat(h.numLabels()).isEqualTo(2);
                });
        assertThat(task().primaryMetric()).isEqualTo("f1");
        assertThat(ServiceLoader.load(dev.attune.task.TaskProvider.class).stream()
                        .map(p -> p.get().name()))
                .contains("token-classification");
    }

    @Test
    void labelsGoOnTheFirstSubTokenOfEachWord() {
        Task t = task("labels", "B-ORG,O");
        WordsExample e = WordsExample.ofWords(List.of("Leicestershire", "take", "over"), List.of("B-ORG", "O", "O"), "x");
        PieceTokenizer tk = new PieceTokenizer(3);

        Features f = t.encode(e, 7, tk, 64).get(0);

        // [CLS] lei ces ter shi re tak e ove r [SEP]
        assertThat(f.exampleIndex()).isEqualTo(7);
        assertThat(f.length()).isEqualTo(11);
        assertThat(f.fields().get("labels")).containsExactly(-100, 0, -100, -100, -100, -100, 1, -100, 1, -100, -100);
        assertThat(f.fields().get("attention_mask")).containsOnly(1L);
        assertThat(t.padding(tk)).containsEntry("labels", -100L).containsEntry("input_ids", 0L);
        assertThat(t.labelInputs()).singleElement().satisfies(s -> {
            assertThat(s.name()).isEqualTo("labels");
            assertThat(s.rank()).isEqualTo(2);
        });

        Features cut = t.encode(e, 0, tk, 6).get(0);
        assertThat(cut.fields().get("labels")).containsExactly(-100, 0, -100, -100, -100, -100);

        Features unlabelled = t.encode(t.parseInput(Map.of("text", "take over")), 0, tk, 64).get(0);
        assertThat(unlabelled.fields()).doesNotContainKey("labels");

        WordsExample unknown = WordsExample.ofWords(List.of("x"), List.of("B-PER"), "f:3");
        assertThatThrownBy(() -> t.encode(unknown, 0, tk, 64))
                .isInstanceOf(InvalidDataException.class).hasMessageContaining("f:3").hasMessageContaining("B-PER");
    }

    /** Logits of T tokens (T at least the feature's length, as in a padded batch) putting each token on a tag. */
    private static float[] logits(int padded, int numLabels, int... tagPerToken) {
        float[] out = new float[padded * numLabels];
        for (int i = 0; i < tagPerToken.length; i++) {
            out[i * numLabels + tagPerToken[i]] = 5f;
        }
        return out;
    }

    @Test
    void evaluatorScoresWordsByTheirFirstSubToken() {
        List<String> labels = List.of("B-ORG", "I-ORG", "O");
        Task t = task().withLabels(labels);
        PieceTokenizer tk = new PieceTokenizer(3);
        WordsExample e1 = WordsExample.ofWords(List.of("Leicestershire", "take"), List.of("B-ORG", "O"), "a");
        WordsExample e2 = WordsExample.ofWords(List.of("New", "Yorkshire"), List.of("B-ORG", "I-ORG"), "b");
        Features f1 = t.encode(e1, 0, tk, 64).get(0); // [CLS] lei ces ter shi re tak e [SEP]
        Features f2 = t.encode(e2, 1, tk, 64).get(0); // [CLS] new yor ksh ire [SEP]
        Evaluator ev = t.evaluator(new Dataset("t", List.of(e1, e2), 0));

        // sentence 1 right on first sub-tokens, wrong (ignored) on the others
        ev.accept(f1, Map.of("logits", logits(12, 3, 1, 0, 1, 1, 1, 1, 2, 0, 1)));
        // sentence 2: the second word predicted O, so the ORG entity is cut short
        ev.accept(f2, Map.of("logits", logits(12, 3, 2, 0, 2, 1, 1, 2)));

        Map<String, Double> m = ev.metrics();
        assertThat(m.get("precision")).isCloseTo(0.5, within(1e-12));
        assertThat(m.get("recall")).isCloseTo(0.5, within(1e-12));
        assertThat(m.get("accuracy")).isCloseTo(0.75, within(1e-12));
    }

    @Test
    void decodeGivesEntitiesWithCharacterOffsets() {
        List<String> labels = List.of("B-LOC", "B-PER", "I-LOC", "O");
        Task t = task().withLabels(labels);
        PieceTokenizer tk = new PieceTokenizer(3);
        String text = "  John  lives in New York";
        WordsExample e = (WordsExample) t.parseInput(Map.of("text", text));
        assertThat(e.words()).containsExactly("John", "lives", "in", "New", "York");
        Features f = t.encode(e, 0, tk, 64).get(0);
        // [CLS] joh n liv es in new yor k [SEP]
        float[] logits = logits(f.length(), 4, 3, 1, 3, 3, 3, 3, 0, 2, 1, 3);

        TokenClassificationPrediction p =
                (TokenClassificationPrediction) t.decode(e, List.of(f), List.of(Map.of("logits", logits)));

        assertThat(p.tags()).containsExactly("B-PER", "O", "O", "B-LOC", "I-LOC");
        assertThat(p.entities()).hasSize(2);
        NamedEntity per = p.entities().get(0);
        assertThat(per.type()).isEqualTo("PER");
        assertThat(per.text()).isEqualTo("John");
        assertThat(per.start()).isEqualTo(2);
        assertThat(per.end()).isEqualTo(6);
        NamedEntity loc = p.entities().get(1);
        assertThat(loc.text()).isEqualTo("New York");
        assertThat(text.substring(loc.start(), loc.end())).isEqualTo("New York");
        double sure = Math.exp(5) / (Math.exp(5) + 3);
        assertThat(loc.score()).isCloseTo(sure, within(1e-6));
        assertThat(p.toMap()).containsKeys("entities", "tags");
        assertThat((List<?>) p.toMap().get("entities")).hasSize(2);

        assertThatThrownBy(() -> t.parseInput(Map.of("text", " "))).isInstanceOf(InvalidDataException.class);
        assertThatThrownBy(() -> t.parseInput(Map.of("text", "a", "text_pair", "b")))
                .isInstanceOf(InvalidDataException.class);
    }

    @Test
    void lossReshapesLogitsAndLabelsAndIgnoresMinus100() {
        Tensor logits = new Tensor() {};
        Tensor labels = new Tensor() {};
        Tensor flatLogits = new Tensor() {};
        Tensor flatLabels = new Tensor() {};
        Tensor result = new Tensor() {};
        List<String> calls = new ArrayList<>();
        Ops ops = (Ops) Proxy.newProxyInstance(Ops.class.getClassLoader(), new Class<?>[] {Ops.class}, (proxy, m, args) -> {
            switch (m.getName()) {
                case "reshape":
                    calls.add("reshape" + Arrays.toString((long[]) args[1]));
                    return args[0] == logits ? flatLogits : flatLabels;
                case "crossEntropy":
                    assertThat(args).containsExactly(flatLogits, flatLabels, -100L);
                    calls.add("crossEntropy");
                    return result;
                default:
                    throw new UnsupportedOperationException(m.getName());
            }
        });
        Tensor loss = task().withLabels(List.of("B", "I", "O"))
                .loss(ops, Map.of("logits", logits), Map.of("labels", labels));
        assertThat(loss).isSameAs(result);
        assertThat(calls).containsExactly("reshape[-1, 3]", "reshape[-1]", "crossEntropy");
    }
}
