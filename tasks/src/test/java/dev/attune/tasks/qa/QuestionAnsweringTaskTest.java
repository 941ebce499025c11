package dev.attune.tasks.qa;

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
import dev.attune.task.TaskProvider;
import dev.attune.tasks.testing.PieceTokenizer;
import dev.attune.tasks.testing.SharedData;
import java.io.IOException;
import java.lang.reflect.Proxy;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.ServiceLoader;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class QuestionAnsweringTaskTest {
    @TempDir
    Path dir;

    private static Task task(String... kv) {
        Map<String, String> m = new LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) {
            m.put(kv[i], kv[i + 1]);
        }
        return new QuestionAnsweringTask(new TaskOptions(m));
    }

    @Test
    void readsSquadDevelopmentSetAndSplitsItByArticle() {
        Path file = SharedData.data("squad/dev-v1.1.json");
        Dataset all = task().read(file);
        assertThat(all.size()).isEqualTo(10570);
        QaExample first = (QaExample) all.examples().get(0);
        assertThat(first.id()).isEqualTo("56be4db0acb8001400a502ec");
        assertThat(first.question()).isEqualTo("Which NFL team represented the AFC at Super Bowl 50?");
        assertThat(first.answers()).hasSize(3).allSatisfy(a -> {
            assertThat(a.text()).isEqualTo("Denver Broncos");
            assertThat(a.start()).isEqualTo(177);
        });
        assertThat(first.context().substring(177, first.answers().get(0).end())).isEqualTo("Denver Broncos");
        assertThat(first.location()).contains("article 0 (Super_Bowl_50)");

        Dataset train = task("article_end", "38").read(file);
        Dataset eval = task("article_start", "38").read(file);
        assertThat(train.size()).isEqualTo(8582);
        assertThat(eval.size()).isEqualTo(1988);
        assertThat(((QaExample) eval.examples().get(0)).location()).contains("article 38 ");
        assertThat(task("article_start", "10", "article_end", "10").read(file).size()).isZero();
        assertThatThrownBy(() -> task("article_end", "49").read(file)).isInstanceOf(InvalidDataException.class)
                .hasMessageContaining("48 articles");
    }

    @Test
    void windowsOfRealContextsHoldTheirAnswers() {
        Dataset data = task("article_end", "2", "doc_stride", "16").read(SharedData.data("squad/dev-v1.1.json"));
        Task t = task("doc_stride", "16");
        PieceTokenizer tk = new PieceTokenizer(4);
        int found = 0;
        int windows = 0;
        for (int i = 0; i < data.size(); i++) {
            QaExample e = (QaExample) data.examples().get(i);
            boolean any = false;
            for (Features f : t.encode(e, i, tk, 64)) {
                windows++;
                assertThat(f.length()).isLessThanOrEqualTo(64);
                int s = (int) f.fields().get("start_positions")[0];
                int end = (int) f.fields().get("end_positions")[0];
                if (s == 0) {
                    assertThat(end).isZero();
                    continue;
                }
                ContextWindow w = (ContextWindow) f.context();
                assertThat(w.charStarts()[s]).isLessThanOrEqualTo(e.answers().get(0).start());
                assertThat(w.charEnds()[end]).isGreaterThanOrEqualTo(e.answers().get(0).end());
                assertThat(end).isGreaterThanOrEqualTo(s);
                any = true;
            }
            found += any ? 1 : 0;
        }
        assertThat(windows).isGreaterThan(data.size());
        assertThat((double) found / data.size()).isGreaterThan(0.98);
    }

    private static String words(int from, int to) {
        return IntStream.range(from, to).mapToObj(i -> "w" + i).collect(Collectors.joining(" "));
    }

    @Test
    void longContextsBecomeOverlappingWindowsWithTheAnswerInEach() {
        String context = words(0, 20);
        int start = context.indexOf("w9 ");
        QaExample e = new QaExample("x", "q1 q2", context, List.of(new QaExample.Answer("w9 w10", start)), "t");
        PieceTokenizer tk = new PieceTokenizer(100);

        // 12 tokens = [CLS] q1 q2 [SEP] + 7 context tokens + [SEP]; stride 3 moves windows by 4 tokens
        List<Features> fs = task("doc_stride", "3").encode(e, 5, tk, 12);

        assertThat(fs).hasSize(5);
        int[][] spans = {{0, 7}, {4, 11}, {8, 15}, {12, 19}, {16, 20}};
        long[][] positions = {{0, 0}, {9, 10}, {5, 6}, {0, 0}, {0, 0}};
        for (int i = 0; i < fs.size(); i++) {
            Features f = fs.get(i);
            assertThat(f.exampleIndex()).isEqualTo(5);
            ContextWindow w = (ContextWindow) f.context();
            assertThat(w.index()).isEqualTo(i);
            long[] ids = f.fields().get("input_ids");
            assertThat(ids).hasSize(4 + spans[i][1] - spans[i][0] + 1);
            assertThat(ids[0]).isEqualTo(PieceTokenizer.CLS);
            assertThat(tk.token(ids[1])).isEqualTo("q1");
            assertThat(ids[3]).isEqualTo(PieceTokenizer.SEP);
            assertThat(ids[ids.length - 1]).isEqualTo(PieceTokenizer.SEP);
            assertThat(tk.token(ids[4])).isEqualTo("w" + spans[i][0]);
            assertThat(tk.token(ids[ids.length - 2])).isEqualTo("w" + (spans[i][1] - 1));
            assertThat(f.fields().get("token_type_ids")).startsWith(0, 0, 0, 0, 1).endsWith(1);
            assertThat(f.fields().get("attention_mask")).containsOnly(1L);
            assertThat(w.inContext(3)).isFalse();
            assertThat(w.inContext(4)).isTrue();
            assertThat(w.inContext(ids.length - 1)).isFalse();
            assertThat(context.substring(w.charStarts()[4], w.charEnds()[4])).isEqualTo("w" + spans[i][0]);
            assertThat(f.fields().get("start_positions")).containsExactly(positions[i][0]);
            assertThat(f.fields().get("end_positions")).containsExactly(positions[i][1]);
        }
        assertThat(task().encode(e, 0, tk, 384)).singleElement()
                .satisfies(f -> assertThat(f.fields().get("start_positions")).containsExactly(4 + 9));
        assertThatThrownBy(() -> task("doc_stride", "7").encode(e, 0, tk, 12))
                .isInstanceOf(ConfigurationException.class).hasMessageContaining("doc_stride");
    }

    @Test
    void answersInsideSubTokensMapToTheTokensThatCoverThem() {
        // pieces of 2: ab(0,2) cd(2,4) e(4,5) fg(6,8)
        QaExample e = new QaExample("x", "q", "abcde fg", List.of(new QaExample.Answer("cde", 2)), "t");
        Features f = task().encode(e, 0, new PieceTokenizer(2), 64).get(0);
        // [CLS] q [SEP] ab cd e fg [SEP]
        assertThat(f.fields().get("start_positions")).containsExactly(4);
        assertThat(f.fields().get("end_positions")).containsExactly(5);
        Features unlabelled = task().encode(task().parseInput(Map.of("question", "q", "context", "ab")), 0,
                new PieceTokenizer(2), 64).get(0);
        assertThat(unlabelled.fields()).containsOnlyKeys("input_ids", "token_type_ids", "attention_mask");
    }

    /** One window over "alpha beta gamma delta" after question "q": positions 3..6 are context. */
    private static Features single(String context) {
        return task().encode(new QaExample("x", "q", context, List.of(), "t"), 0, new PieceTokenizer(100), 64).get(0);
    }

    private static float[] at(int length, float... pairs) {
        float[] out = new float[length];
        for (int i = 0; i < pairs.length; i += 2) {
            out[(int) pairs[i]] = pairs[i + 1];
        }
        return out;
    }

    @Test
    void bestSpanSkipsQuestionTokensReversedAndOverlongSpans() {
        String context = "alpha beta gamma delta";
        ContextWindow w = (ContextWindow) single(context).context();
        // padded to 10 like a batch
        float[] start = at(10, 1, 10f, 4, 5f, 5, 3f);
        float[] end = at(10, 3, 4.5f, 5, 4f, 6, 2f);
        List<SpanDecoder.Scored> scored = List.of(new SpanDecoder.Scored(w, start, end));

        QaPrediction best = new SpanDecoder(20, 30).decode(context, scored);
        assertThat(best.answer()).isEqualTo("beta gamma");
        assertThat(best.start()).isEqualTo(6);
        assertThat(best.end()).isEqualTo(16);
        assertThat(best.score()).isBetween(0.0, 1.0);

        assertThat(new SpanDecoder(20, 1).decode(context, scored).answer()).isEqualTo("gamma");
        // only the best start (a question token) and the best end are considered: nothing valid
        QaPrediction none = new SpanDecoder(1, 30).decode(context, scored);
        assertThat(none.answer()).isEmpty();
        assertThat(none.score()).isZero();
    }

    @Test
    void bestSpanIsChosenOverAllWindowsAndScoredAmongTheNBest() {
        String context = words(0, 20);
        QaExample e = new QaExample("x", "q1 q2", context, List.of(), "t");
        Task t = task("doc_stride", "3");
        List<Features> fs = t.encode(e, 0, new PieceTokenizer(100), 12);
        List<Map<String, float[]>> outputs = new ArrayList<>();
        for (int i = 0; i < fs.size(); i++) {
            // window 2 holds w8..w14 at positions 4..10; it scores w12 w13 highest
            float s = i == 2 ? 8f : 1f;
            outputs.add(Map.of("start_logits", at(12, 4, 1f, 8, s), "end_logits", at(12, 5, 1f, 9, s)));
        }
        QaPrediction p = (QaPrediction) t.decode(e, fs, outputs);
        assertThat(p.answer()).isEqualTo("w12 w13");
        assertThat(context.substring(p.start(), p.end())).isEqualTo("w12 w13");
        assertThat(p.toMap()).containsOnlyKeys("answer", "start", "end", "score");

        QaPrediction two = new SpanDecoder(20, 30).decode("ab", List.of(new SpanDecoder.Scored(
                new ContextWindow(0, new int[] {-1, 0, 1}, new int[] {-1, 1, 2}), new float[] {0, 1, 1},
                new float[] {0, 0, 0})));
        // candidates a, ab, b: scores 1, 1, 1 -> probability 1/3 each
        assertThat(two.score()).isCloseTo(1.0 / 3, within(1e-9));
    }

    @Test
    void evaluatorDecodesEachExampleOverItsWindows() {
        Task t = task();
        PieceTokenizer tk = new PieceTokenizer(100);
        QaExample right = new QaExample("a", "q", "alpha beta gamma", List.of(new QaExample.Answer("beta", 6)), "t");
        QaExample wrong = new QaExample("b", "q", "alpha beta gamma",
                List.of(new QaExample.Answer("alpha beta", 0), new QaExample.Answer("beta gamma", 6)), "t");
        QaExample unseen = new QaExample("c", "q", "alpha", List.of(new QaExample.Answer("alpha", 0)), "t");
        Evaluator ev = t.evaluator(new Dataset("t", List.of(right, wrong, unseen), 0));
        // [CLS] q [SEP] alpha beta gamma [SEP]: positions 3, 4, 5
        ev.accept(t.encode(right, 0, tk, 64).get(0), Map.of("start_logits", at(9, 4, 5f), "end_logits", at(9, 4, 5f)));
        ev.accept(t.encode(wrong, 1, tk, 64).get(0), Map.of("start_logits", at(9, 5, 5f), "end_logits", at(9, 5, 5f)));

        Map<String, Double> m = ev.metrics();
        // right: EM 1, F1 1; wrong ("gamma"): EM 0, F1 2/3 against "beta gamma"; unseen: 0, 0
        assertThat(m.get("exact_match")).isCloseTo(100.0 / 3, within(1e-9));
        assertThat(m.get("f1")).isCloseTo(100 * (1 + 2.0 / 3) / 3, within(1e-9));
    }

    @Test
    void lossIsTheMeanOfStartAndEndCrossEntropies() {
        Tensor start = new Tensor() {};
        Tensor end = new Tensor() {};
        Tensor startGold = new Tensor() {};
        Tensor endGold = new Tensor() {};
        Tensor ceStart = new Tensor() {};
        Tensor ceEnd = new Tensor() {};
        Tensor sum = new Tensor() {};
        Tensor result = new Tensor() {};
        List<String> calls = new ArrayList<>();
        Ops ops = (Ops) Proxy.newProxyInstance(Ops.class.getClassLoader(), new Class<?>[] {Ops.class}, (proxy, m, args) -> {
            switch (m.getName()) {
                case "crossEntropy":
                    calls.add("ce");
                    assertThat(args[2]).isEqualTo(-100L);
                    if (args[0] == start) {
                        assertThat(args[1]).isSameAs(startGold);
                        return ceStart;
                    }
                    assertThat(args[0]).isSameAs(end);
                    assertThat(args[1]).isSameAs(endGold);
                    return ceEnd;
                case "add":
                    calls.add("add");
                    assertThat(args).containsExactly(ceStart, ceEnd);
                    return sum;
                case "mul":
                    calls.add("mul");
                    assertThat(args).containsExactly(sum, 0.5f);
                    return result;
                default:
                    throw new UnsupportedOperationException(m.getName());
            }
        });
        Tensor loss = task().loss(ops, Map.of("start_logits", start, "end_logits", end),
                Map.of("start_positions", startGold, "end_positions", endGold, "input_ids", new Tensor() {}));
        assertThat(loss).isSameAs(result);
        assertThat(calls).containsExactly("ce", "ce", "add", "mul");
    }

    @Test
    void optionsInputsAndPlugin() throws IOException {
        Task t = task();
        assertThat(t.head().kind()).isEqualTo(HeadKind.QUESTION_ANSWERING);
        assertThat(t.labels()).isEmpty();
        assertThat(t.withLabels(List.of("LABEL_0", "LABEL_1"))).isSameAs(t);
        assertThat(t.primaryMetric()).isEqualTo("f1");
        assertThat(t.labelInputs()).extracting(s -> s.name()).containsExactly("start_positions", "end_positions");
        assertThat(t.padding(new PieceTokenizer(2))).containsOnlyKeys("input_ids", "token_type_ids", "attention_mask");
        assertThatThrownBy(() -> task("doc_stride", "x")).isInstanceOf(ConfigurationException.class);
        assertThatThrownBy(() -> task("article_start", "5", "article_end", "2")).isInstanceOf(ConfigurationException.class);
        assertThatThrownBy(() -> task("stride", "5")).isInstanceOf(ConfigurationException.class);
        assertThatThrownBy(() -> t.parseInput(Map.of("question", "q"))).isInstanceOf(InvalidDataException.class);
        assertThatThrownBy(() -> t.parseInput(Map.of("question", "q", "context", "c", "text", "t")))
                .isInstanceOf(InvalidDataException.class);
        assertThat(ServiceLoader.load(TaskProvider.class).stream().map(p -> p.get().name()))
                .contains("question-answering", "token-classification");

        Path bad = dir.resolve("bad.json");
        Files.writeString(bad, "{\"data\":[{\"title\":\"T\",\"paragraphs\":[{\"context\":\"abc\",\"qas\":[{\"id\":\"q1\","
                + "\"question\":\"?\",\"answers\":[{\"text\":\"abcd\",\"answer_start\":0}]}]}]}]}");
        assertThatThrownBy(() -> t.read(bad)).isInstanceOf(InvalidDataException.class).hasMessageContaining("q1");
        Files.writeString(bad, "{\"version\":\"1.1\"}");
        assertThatThrownBy(() -> t.read(bad)).isInstanceOf(InvalidDataException.class).hasMessageContaining("'data'");
    }
}
