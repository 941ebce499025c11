package dev.attune.tasks.classification;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import dev.attune.core.Collator;
import dev.attune.engine.Batch;
import dev.attune.error.ConfigurationException;
import dev.attune.error.InvalidDataException;
import dev.attune.model.HeadSpec.HeadKind;
import dev.attune.model.HeadSpec;
import dev.attune.model.ModelDefinition.InputSpec;
import dev.attune.ops.DType;
import dev.attune.ops.Ops;
import dev.attune.ops.Tensor;
import dev.attune.task.Dataset;
import dev.attune.task.Evaluator;
import dev.attune.task.Features;
import dev.attune.task.Task;
import dev.attune.task.TaskOptions;
import dev.attune.tasks.testing.WhitespaceTokenizer;
import java.io.IOException;
import java.lang.reflect.Proxy;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The {@code problem_type} option of the classification tasks: regression (a number per text, MSE)
 * and multi-label classification (any number of labels per text, binary cross-entropy), as
 * HuggingFace's {@code AutoModelForSequenceClassification} does them.
 */
class ProblemTypeTest {
    @TempDir
    Path dir;

    private final WhitespaceTokenizer tokenizer = new WhitespaceTokenizer("a", "good", "bad", "film", "very");

    private static Task task(String... keyValues) {
        Map<String, String> m = new LinkedHashMap<>();
        for (int i = 0; i < keyValues.length; i += 2) {
            m.put(keyValues[i], keyValues[i + 1]);
        }
        return new TextClassificationTask(new TaskOptions(m));
    }

    private Path write(String name, String content) throws IOException {
        return Files.writeString(dir.resolve(name), content);
    }

    private static List<Features> encode(Task t, Dataset data, WhitespaceTokenizer tok) {
        List<Features> out = new ArrayList<>();
        for (int i = 0; i < data.size(); i++) {
            out.addAll(t.encode(data.examples().get(i), i, tok, 16));
        }
        return out;
    }

    /** Records the ops a loss calls, by name, and returns a fresh tensor from each. */
    private static Ops recordingOps(List<String> calls, Map<String, Object[]> arguments) {
        return (Ops) Proxy.newProxyInstance(Ops.class.getClassLoader(), new Class<?>[] {Ops.class}, (proxy, m, args) -> {
            calls.add(m.getName());
            arguments.put(m.getName(), args);
            return new Tensor() {};
        });
    }

    @Test
    void theDefaultIsSingleLabelAndAnUnknownProblemTypeIsAConfigurationError() {
        assertThat(((TextClassificationTask) task()).problemType()).isEqualTo(ProblemType.SINGLE_LABEL_CLASSIFICATION);
        assertThat(task("labels", "a,b").configEntries()).containsExactly(
                Map.entry("problem_type", "single_label_classification"));
        assertThat(((TextClassificationTask) task("problem_type", "Multi-Label-Classification")).problemType())
                .isEqualTo(ProblemType.MULTI_LABEL_CLASSIFICATION);
        assertThatThrownBy(() -> task("problem_type", "ordinal"))
                .isInstanceOf(ConfigurationException.class)
                .hasMessageContaining("problem_type=ordinal")
                .hasMessageContaining("regression");
    }

    @Test
    void optionsOfOneProblemTypeAreRefusedForTheOthers() {
        assertThatThrownBy(() -> task("problem_type", "regression", "positive_label", "a"))
                .isInstanceOf(ConfigurationException.class).hasMessageContaining("positive_label");
        assertThatThrownBy(() -> task("problem_type", "multi_label_classification", "class_weights", "balanced"))
                .isInstanceOf(ConfigurationException.class).hasMessageContaining("class_weights");
        assertThatThrownBy(() -> task("label_separator", ","))
                .isInstanceOf(ConfigurationException.class).hasMessageContaining("label_separator")
                .hasMessageContaining("problem_type=multi_label_classification");
        assertThatThrownBy(() -> task("problem_type", "multi_label_classification", "label_separator", ""))
                .isInstanceOf(ConfigurationException.class).hasMessageContaining("empty");
    }

    @Test
    void regressionReadsANumberColumnAndHasOneOutputNamedAsHuggingFaceNamesIt() throws IOException {
        Path f = write("train.tsv", "text\tscore\nvery good film\t4.5\nbad\t-1e-1\na film\t 3 \n");
        Task t = task("problem_type", "regression", "label_column", "score");

        Dataset data = t.read(f);

        assertThat(t.labels()).containsExactly("LABEL_0");
        assertThat(t.inferLabels(data)).containsExactly("LABEL_0");
        assertThat(t.head()).isEqualTo(new HeadSpec(HeadKind.SEQUENCE_CLASSIFICATION, 1));
        assertThat(t.labelInputs()).containsExactly(new InputSpec("labels", DType.FLOAT32, 1, true));
        assertThat(t.configEntries()).containsExactly(Map.entry("problem_type", "regression"));
        assertThat(t.primaryMetric()).isEqualTo("mse");
        assertThat(t.greaterIsBetter()).isFalse();

        List<Features> features = encode(t, data, tokenizer);
        assertThat(features.get(0).fields()).doesNotContainKey("labels");
        assertThat(features.get(0).floatFields().get("labels")).containsExactly(4.5f);
        assertThat(features.get(1).floatFields().get("labels")).containsExactly(-0.1f);
        assertThat(features.get(2).floatFields().get("labels")).containsExactly(3f);
        Batch batch = Collator.collate(features, t.padding(tokenizer), 0);
        assertThat(batch.get("labels").dtype()).isEqualTo(DType.FLOAT32);
        assertThat(batch.get("labels").shape()).containsExactly(3);
        assertThat(t.encode(t.parseInput(Map.of("text", "good")), 0, tokenizer, 16).get(0).floatFields()).isEmpty();
    }

    @Test
    void aRegressionLabelThatIsNotANumberNamesItsFileAndLine() throws IOException {
        Path f = write("train.tsv", "text\tlabel\ngood\t4\nbad\tfour\nfilm\tNaN\n");
        Task t = task("problem_type", "regression");

        assertThatThrownBy(() -> t.read(f))
                .isInstanceOf(InvalidDataException.class)
                .hasMessageStartingWith(f + ":3: the value 'four' of column 'label' (option label_column) is not a number");
        assertThat(task("problem_type", "regression", "on_bad_row", "skip").read(f).skipped()).isEqualTo(2);
        assertThatThrownBy(() -> t.encode(t.parseInput(Map.of("text", "good", "label", "1e999")), 0, tokenizer, 16))
                .isInstanceOf(InvalidDataException.class)
                .hasMessageContaining("'1e999' is not a number");
    }

    @Test
    void regressionTakesOneLabelNameAndNoOther() {
        assertThat(task("problem_type", "regression", "labels", "stars").labels()).containsExactly("stars");
        assertThat(task("problem_type", "regression").withLabels(List.of("stars")).labels()).containsExactly("stars");
        assertThatThrownBy(() -> task("problem_type", "regression").withLabels(List.of("a", "b")))
                .isInstanceOf(ConfigurationException.class)
                .hasMessageContaining("one output");
        assertThatThrownBy(() -> task().withLabels(List.of("LABEL_0")))
                .isInstanceOf(ConfigurationException.class)
                .hasMessageContaining("problem_type=regression");
    }

    @Test
    void regressionLossIsTheMeanSquaredErrorOfTheFlattenedLogitAndTarget() {
        List<String> calls = new ArrayList<>();
        Map<String, Object[]> args = new LinkedHashMap<>();
        Tensor logits = new Tensor() {};
        Tensor labels = new Tensor() {};

        task("problem_type", "regression").loss(recordingOps(calls, args), Map.of("logits", logits),
                Map.of("labels", labels));

        assertThat(calls).containsExactly("reshape", "reshape", "meanSquaredError");
        assertThat(calls).doesNotContain("crossEntropy");
    }

    @Test
    void regressionMetricsAndPrediction() {
        Task t = task("problem_type", "regression");
        Evaluator e = t.evaluator(new Dataset("d", List.of(), 0));
        float[] gold = {1, 2, 3, 4};
        float[] predicted = {1.5f, 2f, 2.5f, 5f};
        for (int i = 0; i < gold.length; i++) {
            e.accept(new Features(i, Map.of(), Map.of("labels", new float[] {gold[i]}), null),
                    Map.of("logits", new float[] {predicted[i]}));
        }

        Map<String, Double> m = e.metrics();

        // squared errors 0.25, 0, 0.25, 1; absolute 0.5, 0, 0.5, 1
        assertThat(m.get("mse")).isCloseTo(0.375, within(1e-12));
        assertThat(m.get("rmse")).isCloseTo(Math.sqrt(0.375), within(1e-12));
        assertThat(m.get("mae")).isCloseTo(0.5, within(1e-12));
        assertThat(m.get("spearman")).isCloseTo(1.0, within(1e-12));
        // numpy.corrcoef([1.5, 2, 2.5, 5], [1, 2, 3, 4])[0, 1]
        assertThat(m.get("pearson")).isCloseTo(0.9135002783911397, within(1e-12));
        Evaluator ties = t.evaluator(new Dataset("d", List.of(), 0));
        float[] tiedPredictions = {1, 2, 2, 3};
        float[] tiedGold = {1, 3, 2, 4};
        for (int i = 0; i < 4; i++) {
            ties.accept(new Features(i, Map.of(), Map.of("labels", new float[] {tiedGold[i]}), null),
                    Map.of("logits", new float[] {tiedPredictions[i]}));
        }
        // tied predictions share their average rank, as scipy.stats.spearmanr: the Pearson correlation
        // of ranks [1, 2.5, 2.5, 4] and [1, 3, 2, 4] (numpy.corrcoef)
        assertThat(ties.metrics().get("spearman")).isCloseTo(0.9486832980505139, within(1e-12));
        Evaluator one = t.evaluator(new Dataset("d", List.of(), 0));
        one.accept(new Features(0, Map.of(), Map.of("labels", new float[] {1}), null), Map.of("logits", new float[] {2}));
        assertThat(one.metrics()).containsEntry("mse", 1.0).containsEntry("pearson", Double.NaN);
        RegressionPrediction p = (RegressionPrediction) t.decode(t.parseInput(Map.of("text", "good")), List.of(),
                List.of(Map.of("logits", new float[] {2.75f})));
        assertThat(p.score()).isEqualTo(2.75);
        assertThat(p.toMap()).containsEntry("score", 2.75).containsEntry("label", "LABEL_0");
    }

    @Test
    void multiLabelReadsSeparatedLabelsInfersTheUnionAndEncodesMultiHotFloats() throws IOException {
        Path f = write("train.tsv", "text\ttags\nvery good film\tsports|politics\nbad\t\na film\t tech | sports |sports\n");
        Task t0 = task("problem_type", "multi_label_classification", "label_column", "tags");

        Dataset data = t0.read(f);
        Task t = t0.withLabels(t0.inferLabels(data));

        assertThat(t.labels()).containsExactly("politics", "sports", "tech");
        assertThat(t.head()).isEqualTo(new HeadSpec(HeadKind.SEQUENCE_CLASSIFICATION, 3));
        assertThat(t.labelInputs()).containsExactly(new InputSpec("labels", DType.FLOAT32, 2, true));
        assertThat(t.configEntries()).containsExactly(Map.entry("problem_type", "multi_label_classification"));
        assertThat(t.primaryMetric()).isEqualTo("micro_f1");
        assertThat(t.greaterIsBetter()).isTrue();
        List<Features> features = encode(t, data, tokenizer);
        assertThat(features.get(0).floatFields().get("labels")).containsExactly(1f, 1f, 0f);
        assertThat(features.get(1).floatFields().get("labels")).containsExactly(0f, 0f, 0f);
        assertThat(features.get(2).floatFields().get("labels")).containsExactly(0f, 1f, 1f);
        Batch batch = Collator.collate(features, t.padding(tokenizer), 0);
        assertThat(batch.get("labels").shape()).containsExactly(3, 3);
        assertThat(batch.get("labels").dtype()).isEqualTo(DType.FLOAT32);
    }

    @Test
    void multiLabelReadsJsonArraysAndAnotherSeparator() throws IOException {
        Path jsonl = write("train.jsonl", "{\"text\": \"good\", \"label\": [\"a\", \"b\"]}\n{\"text\": \"bad\", \"label\": []}\n"
                + "{\"text\": \"film\", \"label\": \"c\"}\n");
        Task t = task("problem_type", "multi_label_classification");
        assertThat(t.inferLabels(t.read(jsonl))).containsExactly("a", "b", "c");

        Path csv = write("train.csv", "text,label\ngood,\"x;y\"\n");
        Task semi = task("problem_type", "multi_label_classification", "label_separator", ";");
        assertThat(semi.inferLabels(semi.read(csv))).containsExactly("x", "y");

        Path object = write("bad.jsonl", "{\"text\": \"good\", \"label\": {\"a\": 1}}\n");
        assertThatThrownBy(() -> t.read(object)).isInstanceOf(InvalidDataException.class)
                .hasMessageStartingWith(object + ":1: ").hasMessageContaining("JSON object");
    }

    @Test
    void aMultiLabelOutsideTheFixedLabelsNamesItsFileAndLine() throws IOException {
        Task t = task("problem_type", "multi_label_classification", "labels", "a,b");
        Path f = write("eval.tsv", "text\tlabel\ngood\ta|b\nbad\ta|z\n");

        assertThatThrownBy(() -> t.read(f))
                .isInstanceOf(InvalidDataException.class)
                .hasMessageStartingWith(f + ":3: label 'z' is not one of the task's labels [a, b]");
        Path none = write("none.tsv", "text\tlabel\ngood\t\n");
        Task open = task("problem_type", "multi_label_classification");
        assertThatThrownBy(() -> open.inferLabels(open.read(none)))
                .isInstanceOf(InvalidDataException.class)
                .hasMessageContaining("no label");
        Task unread = task("problem_type", "multi_label_classification", "labels", "a,b");
        assertThatThrownBy(() -> unread.validate(new Dataset("d",
                        List.of(new TextExample("x", null, "a|q", "d:7")), 0)))
                .isInstanceOf(InvalidDataException.class)
                .hasMessageStartingWith("d:7: label 'q'");
    }

    @Test
    void multiLabelLossIsBinaryCrossEntropyWithLogits() {
        List<String> calls = new ArrayList<>();
        Map<String, Object[]> args = new LinkedHashMap<>();
        Tensor logits = new Tensor() {};
        Tensor labels = new Tensor() {};

        task("problem_type", "multi_label_classification", "labels", "a,b")
                .loss(recordingOps(calls, args), Map.of("logits", logits), Map.of("labels", labels));

        assertThat(calls).containsExactly("binaryCrossEntropyWithLogits");
        assertThat(args.get("binaryCrossEntropyWithLogits")).containsExactly(logits, labels);
    }

    @Test
    void multiLabelMetricsAndPredictionUseProbabilityHalf() {
        Task t = task("problem_type", "multi_label_classification", "labels", "a,b,c");
        Evaluator e = t.evaluator(new Dataset("d", List.of(), 0));
        float[][] gold = {{1, 0, 1}, {0, 1, 0}, {0, 0, 0}};
        float[][] logits = {{2, -1, 0.5f}, {1, 1, -3}, {-1, -2, -0.1f}};
        for (int i = 0; i < gold.length; i++) {
            e.accept(new Features(i, Map.of(), Map.of("labels", gold[i]), null), Map.of("logits", logits[i]));
        }

        Map<String, Double> m = e.metrics();

        // a: tp 1 fp 1 (f1 2/3); b: tp 1 (f1 1); c: tp 1 (f1 1). micro: tp 3 fp 1 fn 0
        assertThat(m.get("micro_f1")).isCloseTo(6.0 / 7, within(1e-12));
        assertThat(m.get("macro_f1")).isCloseTo((2.0 / 3 + 1 + 1) / 3, within(1e-12));
        assertThat(m.get("micro_precision")).isCloseTo(0.75, within(1e-12));
        assertThat(m.get("micro_recall")).isCloseTo(1.0, within(1e-12));
        assertThat(m.get("exact_match")).isCloseTo(2.0 / 3, within(1e-12));

        MultiLabelPrediction p = (MultiLabelPrediction) t.decode(t.parseInput(Map.of("text", "good")), List.of(),
                List.of(Map.of("logits", new float[] {0.2f, 0f, -4f})));
        assertThat(p.labels()).containsExactly("a");
        assertThat(p.probabilities().get("a")).isCloseTo(1 / (1 + Math.exp(-0.2)), within(1e-7));
        assertThat(p.probabilities().get("b")).isEqualTo(0.5);
        assertThat(p.toMap()).containsOnlyKeys("labels", "probabilities");
    }

    @Test
    void pairTasksTakeTheProblemTypeToo() throws IOException {
        Path f = write("sts.tsv", "text\ttext_pair\tlabel\ngood film\tvery good\t4.2\n");
        Task t = new TextPairClassificationTask(new TaskOptions(Map.of("problem_type", "regression")));

        Features only = encode(t, t.read(f), tokenizer).get(0);

        assertThat(only.fields().get("token_type_ids")).containsExactly(0, 0, 0, 0, 1, 1, 1);
        assertThat(only.floatFields().get("labels")).containsExactly(4.2f);
        assertThat(t.configEntries()).containsEntry("problem_type", "regression");
    }
}
