package dev.attune.tasks;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Named.named;

import dev.attune.formats.hf.HfTokenizer;
import dev.attune.model.TextTokenizer;
import dev.attune.task.Dataset;
import dev.attune.task.Evaluator;
import dev.attune.task.Example;
import dev.attune.task.Features;
import dev.attune.task.Task;
import dev.attune.task.TaskOptions;
import dev.attune.task.TaskProvider;
import dev.attune.tasks.testing.SharedData;
import dev.attune.testing.SharedFiles;
import java.lang.reflect.Array;
import java.lang.reflect.RecordComponent;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.ServiceLoader;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.ToIntFunction;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Named;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * What every built-in task promises the runtime, checked on real data and real tokenizers: it is
 * registered through the one generic provider, {@link Task#encode} and {@link Task#decode} give the
 * same results from several threads at once as one after the other (the runtime calls them
 * concurrently), and its {@link Task#primaryMetric()} is a metric its evaluator reports.
 */
class BuiltInTasksTest {
    private static final int THREADS = 8;
    private static final int ROUNDS = 3;

    @TempDir
    static Path dir;

    static HfTokenizer bert;
    static HfTokenizer bertMlm;
    static HfTokenizer gpt2;
    static HfTokenizer t5;
    static HfTokenizer llama;

    @BeforeAll
    static void tokenizers() {
        bert = HfTokenizer.load(SharedFiles.path("fixtures/hf/bert-seqcls"));
        bertMlm = HfTokenizer.load(SharedFiles.path("fixtures/hf/bert-mlm"));
        gpt2 = HfTokenizer.load(SharedFiles.path("fixtures/hf/gpt2-lm"));
        t5 = HfTokenizer.load(SharedFiles.path("fixtures/hf/t5-seq2seq"));
        llama = HfTokenizer.load(SharedFiles.path("fixtures/hf/llama-lm"));
    }

    @AfterAll
    static void close() {
        for (HfTokenizer t : List.of(bert, bertMlm, gpt2, t5, llama)) {
            t.close();
        }
    }

    /**
     * One task on its data.
     *
     * @param task the task, labels fixed
     * @param data the examples to encode (and decode)
     * @param tokenizer a thread-safe tokenizer
     * @param maxLength the encoding length
     * @param logits how many {@code logits} values the model gives for a feature
     * @param decodes whether the task decodes these examples from one forward pass (not seq2seq,
     *     which generates, nor masked-LM training examples, which only fill-mask inputs decode)
     * @param metric the primary metric and its direction, as the task must state them
     * @param evaluate whether its evaluator runs on these features (not for unlabelled inputs)
     */
    record Case(Task task, Dataset data, TextTokenizer tokenizer, int maxLength, ToIntFunction<Features> logits,
            boolean decodes, String metric, boolean greaterIsBetter, boolean evaluate) {}

    static Task create(String name, String... options) {
        Map<String, String> m = new LinkedHashMap<>();
        for (int i = 0; i < options.length; i += 2) {
            m.put(options[i], options[i + 1]);
        }
        for (TaskProvider p : ServiceLoader.load(TaskProvider.class)) {
            if (p.name().equals(name)) {
                return p.create(new TaskOptions(m));
            }
        }
        throw new AssertionError("no task " + name);
    }

    static Task labelled(Task t, Dataset train) {
        return t.withLabels(t.inferLabels(train));
    }

    /** The first {@code rows} data lines of a shared TSV file, with its header, as a file of its own. */
    static Path head(String shared, int rows, String name) throws Exception {
        List<String> lines = Files.readAllLines(SharedData.data(shared));
        return Files.write(dir.resolve(name), lines.subList(0, rows + 1));
    }

    static Dataset first(Dataset d, int n) {
        return new Dataset(d.source(), d.examples().subList(0, Math.min(n, d.size())), 0);
    }

    static Stream<Named<Case>> cases() throws Exception {
        List<Named<Case>> cases = new ArrayList<>();
        Path sst2 = head("sst2/dev.tsv", 48, "sst2.tsv");

        Task single = create("text-classification", "text_column", "sentence");
        Dataset singleData = single.read(sst2);
        Task singleL = labelled(single, singleData);
        cases.add(named("text-classification",
                new Case(singleL, singleData, bert, 64, f -> 2, true, "f1", true, true)));

        Task regression = create("text-classification", "text_column", "sentence", "problem_type", "regression");
        Dataset regressionData = regression.read(sst2);
        cases.add(named("text-classification regression", new Case(labelled(regression, regressionData),
                regressionData, bert, 64, f -> 1, true, "mse", false, true)));

        StringBuilder tagged = new StringBuilder("text\tlabel\n");
        String[] tags = {"film", "music", "book", "play"};
        Random r = new Random(3);
        for (String line : Files.readAllLines(sst2).subList(1, 49)) {
            List<String> some = new ArrayList<>();
            for (String t : tags) {
                if (r.nextInt(3) == 0) {
                    some.add(t);
                }
            }
            tagged.append(line.split("\t")[0]).append('\t').append(String.join("|", some)).append('\n');
        }
        Task multi = create("text-classification", "problem_type", "multi_label_classification");
        Dataset multiData = multi.read(Files.writeString(dir.resolve("tagged.tsv"), tagged));
        Task multiL = labelled(multi, multiData);
        cases.add(named("text-classification multi-label", new Case(multiL, multiData, bert, 64,
                f -> multiL.labels().size(), true, "micro_f1", true, true)));

        Task pair = create("text-pair-classification", "text_column", "#1 String", "text_pair_column", "#2 String",
                "label_column", "Quality");
        Dataset pairData = pair.read(head("mrpc/dev.tsv", 32, "mrpc.tsv"));
        cases.add(named("text-pair-classification", new Case(labelled(pair, pairData), pairData, bert, 96,
                f -> 2, true, "f1", true, true)));

        Task ner = create("token-classification");
        Dataset nerData = first(ner.read(SharedData.data("conll2003/eng.testa")), 40);
        Task nerL = labelled(ner, nerData);
        cases.add(named("token-classification", new Case(nerL, nerData, bert, 64,
                f -> f.length() * nerL.labels().size(), true, "f1", true, true)));

        Task qa = create("question-answering", "article_end", "1", "doc_stride", "16");
        Dataset qaData = first(qa.read(SharedData.data("squad/dev-v1.1.json")), 16);
        cases.add(named("question-answering (windows)",
                new Case(qa, qaData, bert, 64, f -> 0, true, "f1", true, true)));

        Task mlm = create("masked-lm", "text_column", "sentence", "mlm_probability", "0.3");
        Dataset mlmData = mlm.read(sst2);
        cases.add(named("masked-lm (training masks)", new Case(mlm, mlmData, bertMlm, 64, f -> 0, false, "accuracy",
                true, true)));
        List<Example> fill = new ArrayList<>();
        for (String s : List.of("the film is [MASK] .", "a [MASK] and often [MASK] journey", "[MASK]")) {
            fill.add(mlm.parseInput(Map.of("text", s)));
        }
        cases.add(named("masked-lm (fill-mask)", new Case(mlm, new Dataset("fill", fill, 0), bertMlm, 64,
                f -> f.length() * bertMlm.vocabularySize(), true, "accuracy", true, false)));

        Task clm = create("causal-lm", "limit", "12");
        Dataset clmData = clm.read(SharedData.data("dialogue/dev.jsonl"));
        cases.add(named("causal-lm", new Case(clm, clmData, gpt2, 96, f -> 0, true, "perplexity", false, true)));

        StringBuilder conversations = new StringBuilder();
        for (com.fasterxml.jackson.databind.JsonNode c : new com.fasterxml.jackson.databind.ObjectMapper()
                .readTree(SharedFiles.path("fixtures/hf/llama-lm/reference.json").toFile()).get("chat")) {
            conversations.append("{\"messages\": ").append(c.get("messages")).append("}\n");
        }
        Task chat = create("chat");
        Dataset chatData = chat.read(Files.writeString(dir.resolve("chat.jsonl"), conversations));
        cases.add(named("chat", new Case(chat, chatData, llama, 128, f -> 0, true, "response_perplexity", false, true)));

        StringBuilder pairs = new StringBuilder("source\ttarget\n");
        for (String line : Files.readAllLines(sst2).subList(1, 25)) {
            String s = line.split("\t")[0].strip();
            pairs.append(s).append('\t').append(new StringBuilder(s).reverse()).append('\n');
        }
        Task s2s = create("seq2seq", "prefix", "reverse: ");
        Dataset s2sData = s2s.read(Files.writeString(dir.resolve("pairs.tsv"), pairs));
        cases.add(named("seq2seq (encode only)", new Case(s2s, s2sData, t5, 64, f -> 0, false, "bleu", true, false)));

        StringBuilder choices = new StringBuilder("context\tendings\tlabel\n");
        List<String> sentences = Files.readAllLines(sst2).subList(1, 49).stream().map(l -> l.split("\t")[0].strip()).toList();
        for (int i = 0; i + 3 < sentences.size(); i += 4) {
            choices.append(sentences.get(i)).append('\t').append(String.join("|", sentences.subList(i + 1, i + 4)))
                    .append('\t').append(i % 3).append('\n');
        }
        Task mc = create("multiple-choice");
        Dataset mcData = mc.read(Files.writeString(dir.resolve("choices.tsv"), choices));
        cases.add(named("multiple-choice", new Case(mc, mcData, bert, 64, mc::sequenceRows, true, "accuracy", true, true)));
        return cases.stream();
    }

    /** Outputs of a pretend forward pass, a function of the feature alone, with every name a decoder reads. */
    static Map<String, float[]> outputs(Case c, Features f) {
        int t = f.length();
        long seed = Arrays.hashCode(f.fields().get("input_ids")) * 31L + f.exampleIndex();
        Random r = new Random(seed);
        Map<String, float[]> out = new LinkedHashMap<>();
        out.put("logits", gaussian(r, c.logits().applyAsInt(f)));
        out.put("start_logits", gaussian(r, t));
        out.put("end_logits", gaussian(r, t));
        float[] nll = new float[t];
        float[] correct = new float[t];
        for (int i = 0; i < t; i++) {
            nll[i] = 0.1f + 5 * r.nextFloat();
            correct[i] = r.nextBoolean() ? 1 : 0;
        }
        out.put("token_nll", nll);
        out.put("token_correct", correct);
        return out;
    }

    static float[] gaussian(Random r, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) r.nextGaussian() * 3;
        }
        return v;
    }

    /** Encodes example {@code i} and decodes its pretend outputs; the result as comparable text. */
    static String encodeAndDecode(Case c, int i) {
        Example e = c.data().examples().get(i);
        List<Features> features = c.task().encode(e, i, c.tokenizer(), c.maxLength());
        StringBuilder b = new StringBuilder(canonical(features));
        if (c.decodes()) {
            List<Map<String, float[]>> outputs = new ArrayList<>();
            for (Features f : features) {
                outputs.add(outputs(c, f));
            }
            b.append(" -> ").append(canonical(c.task().decode(e, features, outputs).toMap()));
        }
        return b.toString();
    }

    /** Text of a value that two equal results share: arrays and records by content, not identity. */
    static String canonical(Object o) {
        if (o == null) {
            return "null";
        }
        if (o.getClass().isArray()) {
            List<String> items = new ArrayList<>();
            for (int i = 0; i < Array.getLength(o); i++) {
                items.add(canonical(Array.get(o, i)));
            }
            return items.toString();
        }
        if (o instanceof Map<?, ?> m) {
            List<String> items = new ArrayList<>();
            m.forEach((k, v) -> items.add(canonical(k) + "=" + canonical(v)));
            return "{" + String.join(", ", items) + "}";
        }
        if (o instanceof Collection<?> c) {
            List<String> items = new ArrayList<>();
            c.forEach(v -> items.add(canonical(v)));
            return items.toString();
        }
        if (o.getClass().isRecord()) {
            List<String> items = new ArrayList<>();
            for (RecordComponent rc : o.getClass().getRecordComponents()) {
                try {
                    rc.getAccessor().setAccessible(true);
                    items.add(rc.getName() + "=" + canonical(rc.getAccessor().invoke(o)));
                } catch (ReflectiveOperationException ex) {
                    throw new AssertionError(ex);
                }
            }
            return o.getClass().getSimpleName() + "(" + String.join(", ", items) + ")";
        }
        return String.valueOf(o);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void encodeAndDecodeGiveTheSameResultsFromManyThreadsAsFromOne(Case c) throws Exception {
        int n = c.data().size();
        assertThat(n).as("examples").isGreaterThan(2);
        List<String> sequential = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            sequential.add(encodeAndDecode(c, i));
        }

        ExecutorService pool = Executors.newFixedThreadPool(THREADS);
        try {
            for (int round = 0; round < ROUNDS; round++) {
                List<Integer> order = new ArrayList<>();
                for (int i = 0; i < n; i++) {
                    order.add(i);
                }
                Collections.shuffle(order, new Random(round));
                CountDownLatch start = new CountDownLatch(1);
                Map<Integer, Future<String>> results = new HashMap<>();
                for (int i : order) {
                    results.put(i, pool.submit(() -> {
                        start.await();
                        return encodeAndDecode(c, i);
                    }));
                }
                start.countDown();
                for (int i = 0; i < n; i++) {
                    assertThat(results.get(i).get()).as("example %d in round %d", i, round).isEqualTo(sequential.get(i));
                }
            }
        } finally {
            pool.shutdownNow();
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void primaryMetricIsOneTheEvaluatorReportsWithItsDirection(Case c) {
        assertThat(c.task().primaryMetric()).isEqualTo(c.metric());
        assertThat(c.task().greaterIsBetter()).isEqualTo(c.greaterIsBetter());
        if (!c.evaluate()) {
            return;
        }
        Evaluator evaluator = c.task().evaluator(c.data());
        for (int i = 0; i < c.data().size(); i++) {
            for (Features f : c.task().encode(c.data().examples().get(i), i, c.tokenizer(), c.maxLength())) {
                evaluator.accept(f, outputs(c, f));
            }
        }
        assertThat(evaluator.metrics()).containsKey(c.metric());
        assertThat(evaluator.metrics().get(c.metric())).isNotNaN();
    }

    @Test
    void everyBuiltInProviderIsTheGenericProviderAndCreatesItsNamedTask() {
        List<String> names = new ArrayList<>();
        for (TaskProvider p : ServiceLoader.load(TaskProvider.class)) {
            assertThat(p).as(p.getClass().getName()).isInstanceOf(TaskProvider.Simple.class);
            assertThat(p.create(TaskOptions.empty()).name()).isEqualTo(p.name());
            assertThat(p.description()).isNotBlank();
            names.add(p.name());
        }
        assertThat(names).containsExactlyInAnyOrder("text-classification", "text-pair-classification",
                "token-classification", "question-answering", "seq2seq", "causal-lm", "masked-lm", "multiple-choice",
                "chat");
    }
}
