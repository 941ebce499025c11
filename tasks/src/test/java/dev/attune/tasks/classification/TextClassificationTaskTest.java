package dev.attune.tasks.classification;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import dev.attune.engine.Batch;
import dev.attune.error.ConfigurationException;
import dev.attune.error.InvalidDataException;
import dev.attune.model.HeadSpec.HeadKind;
import dev.attune.model.HeadSpec;
import dev.attune.model.ModelDefinition.InputSpec;
import dev.attune.ops.DType;
import dev.attune.ops.Ops;
import dev.attune.ops.Tensor;
import dev.attune.core.Collator;
import dev.attune.task.Dataset;
import dev.attune.task.Evaluator;
import dev.attune.task.Example;
import dev.attune.task.Features;
import dev.attune.task.Task;
import dev.attune.task.TaskOptions;
import dev.attune.task.TaskProvider;
import dev.attune.tasks.testing.WhitespaceTokenizer;
import java.io.IOException;
import java.lang.reflect.Proxy;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.ServiceLoader;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TextClassificationTaskTest {
    @TempDir
    Path dir;

    private final WhitespaceTokenizer tokenizer = new WhitespaceTokenizer("a", "good", "bad", "film", "very");

    private static Task task(String... keyValues) {
        Map<String, String> m = new HashMap<>();
        for (int i = 0; i < keyValues.length; i += 2) {
            m.put(keyValues[i], keyValues[i + 1]);
        }
        return new TextClassificationTask(new TaskOptions(m));
    }

    private Path write(String name, String content) throws IOException {
        Path p = dir.resolve(name);
        Files.writeString(p, content);
        return p;
    }

    @Test
    void bothTasksAreDiscoveredThroughTheServiceLoader() {
        Map<String, TaskProvider> found = new HashMap<>();
        for (TaskProvider p : ServiceLoader.load(TaskProvider.class)) {
            found.put(p.name(), p);
        }

        assertThat(found).containsKeys("text-classification", "text-pair-classification");
        assertThat(found.get("text-classification").create(TaskOptions.empty()))
                .isInstanceOf(TextClassificationTask.class);
        assertThat(found.get("text-pair-classification").create(TaskOptions.empty()).name())
                .isEqualTo("text-pair-classification");
        assertThat(found.get("text-classification").description()).contains("text_column");
    }

    @Test
    void unknownOrInvalidOptionsAreConfigurationErrors() {
        assertThatThrownBy(() -> task("text_colum", "sentence"))
                .isInstanceOf(ConfigurationException.class)
                .hasMessageContaining("no option 'text_colum'")
                .hasMessageContaining("text_column");
        assertThatThrownBy(() -> task("text_pair_column", "b")).isInstanceOf(ConfigurationException.class);
        assertThatThrownBy(() -> task("format", "xml")).isInstanceOf(ConfigurationException.class);
        assertThatThrownBy(() -> task("on_bad_row", "drop")).isInstanceOf(ConfigurationException.class);
        assertThatThrownBy(() -> task("text_column", " ")).isInstanceOf(ConfigurationException.class);
        assertThatThrownBy(() -> task("text_column", "x", "label_column", "x"))
                .isInstanceOf(ConfigurationException.class)
                .hasMessageContaining("'x'");
        assertThatThrownBy(() -> task("labels", "only")).isInstanceOf(ConfigurationException.class);
        assertThatThrownBy(() -> task("labels", "a,b,a")).isInstanceOf(ConfigurationException.class);
        assertThatThrownBy(() -> task("labels", "a,b", "positive_label", "c"))
                .isInstanceOf(ConfigurationException.class)
                .hasMessageContaining("[a, b]");
        assertThatThrownBy(() -> task("labels", "a,b,c", "positive_label", "c"))
                .isInstanceOf(ConfigurationException.class)
                .hasMessageContaining("two labels");
    }

    @Test
    void readsExamplesWithTheirLocationAndInfersSortedLabels() throws IOException {
        Path f = write("train.tsv", "sentence\tlabel\nvery good film\tpositive\nbad\tnegative \na film\tneutral\n");
        Task t = task("text_column", "sentence");

        Dataset data = t.read(f);

        assertThat(data.source()).isEqualTo(f.toString());
        assertThat(data.size()).isEqualTo(3);
        assertThat(data.skipped()).isZero();
        assertThat(data.examples().get(1)).isEqualTo(new TextExample("bad", null, "negative", f + ":3"));
        assertThat(t.labels()).isEmpty();
        assertThat(t.inferLabels(data)).containsExactly("negative", "neutral", "positive");
    }

    @Test
    void integerLabelsSortByValue() throws IOException {
        Path f = write("train.csv", "text,label\na,10\na,2\na,0\na,1\na,-1\na,2\n");
        Task t = task();

        assertThat(t.inferLabels(t.read(f))).containsExactly("-1", "0", "1", "2", "10");
    }

    @Test
    void aSingleDistinctLabelIsRejected() throws IOException {
        Path f = write("train.tsv", "text\tlabel\na\tham\nb\tham\n");
        Task t = task();
        Dataset data = t.read(f);

        assertThatThrownBy(() -> t.inferLabels(data))
                .isInstanceOf(InvalidDataException.class)
                .hasMessageContaining("1 distinct label(s) [ham]")
                .hasMessageContaining("at least two");
    }

    @Test
    void theLabelsOptionFixesLabelsAndTheirOrder() throws IOException {
        Task t = task("labels", "pos, neg");
        Path ok = write("ok.tsv", "text\tlabel\na\tneg\nb\tpos\n");
        Path bad = write("bad.tsv", "text\tlabel\na\tneg\nb\tmaybe\n");

        assertThat(t.labels()).containsExactly("pos", "neg");
        assertThat(t.inferLabels(t.read(ok))).containsExactly("pos", "neg");
        assertThat(t.head()).isEqualTo(new HeadSpec(HeadKind.SEQUENCE_CLASSIFICATION, 2));
        assertThatThrownBy(() -> t.read(bad))
                .isInstanceOf(InvalidDataException.class)
                .hasMessageStartingWith(bad + ":3: label 'maybe' is not one of the task's labels [pos, neg]");
        Dataset skipped = task("labels", "pos,neg", "on_bad_row", "skip").read(bad);
        assertThat(skipped.size()).isEqualTo(1);
        assertThat(skipped.skipped()).isEqualTo(1);
    }

    @Test
    void trainingLabelsMissingFromTheEvaluationDataAreListedNotFatal() throws IOException {
        Path train = write("train.tsv", "text\tlabel\na\tneg\nb\tpos\nc\tneutral\n");
        Path eval = write("dev.tsv", "text\tlabel\na\tpos\nb\tpos\n");
        Task unfixed = task();
        Dataset trainData = unfixed.read(train);
        Dataset evalData = unfixed.read(eval);
        AbstractTextClassificationTask t =
                (AbstractTextClassificationTask) unfixed.withLabels(unfixed.inferLabels(trainData));

        assertThat(t.absentLabels(evalData)).containsExactly("neg", "neutral");
        assertThat(t.absentLabels(trainData)).isEmpty();
        t.validate(evalData); // a warning, not an error: small evaluation sets may lack a rare class
        assertThat(((AbstractTextClassificationTask) unfixed).absentLabels(evalData)).isEmpty(); // labels not fixed
    }

    @Test
    void anEvaluationLabelOutsideTheTrainingLabelsIsReportedWithFileAndLine() throws IOException {
        Path train = write("train.tsv", "text\tlabel\na\tneg\nb\tpos\n");
        Path eval = write("dev.tsv", "text\tlabel\na\tpos\nb\tneutral\nc\tneutral\nd\tother\n");
        Task unfixed = task();
        Dataset trainData = unfixed.read(train);
        Dataset evalData = unfixed.read(eval); // read before labels are fixed: fine
        Task t = unfixed.withLabels(unfixed.inferLabels(trainData));

        assertThatThrownBy(() -> t.validate(evalData))
                .isInstanceOf(InvalidDataException.class)
                .hasMessageStartingWith(eval + ":3: label 'neutral' is not one of the task's labels [neg, pos]")
                .hasMessageContaining("3 row(s)")
                .hasMessageContaining("{neutral=2, other=1}")
                .hasMessageContaining("labels=");
        assertThatThrownBy(() -> t.encode(evalData.examples().get(1), 1, tokenizer, 16))
                .isInstanceOf(InvalidDataException.class)
                .hasMessageStartingWith(eval + ":3: label 'neutral'");
        assertThatThrownBy(() -> t.inferLabels(evalData)).hasMessageContaining(eval + ":3");
        t.validate(trainData);
        unfixed.validate(evalData); // nothing to check against yet
    }

    @Test
    void encodesTokensAndLabelIdsAndCollatesThem() throws IOException {
        Path f = write("train.tsv", "text\tlabel\nvery good film\tpos\nbad\tneg\n");
        Task t0 = task();
        Dataset data = t0.read(f);
        Task t = t0.withLabels(t0.inferLabels(data));

        List<Features> features = new ArrayList<>();
        for (int i = 0; i < data.size(); i++) {
            features.addAll(t.encode(data.examples().get(i), i, tokenizer, 16));
        }

        Features first = features.get(0);
        assertThat(first.exampleIndex()).isZero();
        assertThat(first.fields()).containsOnlyKeys("input_ids", "token_type_ids", "attention_mask", "labels");
        assertThat(first.fields().get("input_ids")).containsExactly(2, 8, 5, 7, 3); // [CLS] very good film [SEP]
        assertThat(first.fields().get("token_type_ids")).containsExactly(0, 0, 0, 0, 0);
        assertThat(first.fields().get("attention_mask")).containsExactly(1, 1, 1, 1, 1);
        assertThat(first.fields().get("labels")).containsExactly(1); // [neg, pos]
        assertThat(features.get(1).fields().get("labels")).containsExactly(0);

        Batch batch = Collator.collate(features, t.padding(tokenizer), 0);
        assertThat(batch.size()).isEqualTo(2);
        assertThat(batch.get("input_ids").shape()).containsExactly(2, 5);
        assertThat(batch.get("input_ids").toLongArray()).containsExactly(2, 8, 5, 7, 3, 2, 6, 3, 0, 0);
        assertThat(batch.get("attention_mask").toLongArray()).containsExactly(1, 1, 1, 1, 1, 1, 1, 1, 0, 0);
        assertThat(batch.get("token_type_ids").shape()).containsExactly(2, 5);
        assertThat(batch.get("labels").shape()).containsExactly(2);
        assertThat(batch.get("labels").toLongArray()).containsExactly(1, 0);
    }

    @Test
    void truncatesToTheMaximumLength() {
        Task t = task("labels", "neg,pos");
        Example e = t.parseInput(Map.of("text", "a good very good film"));

        assertThat(t.encode(e, 0, tokenizer, 4).get(0).fields().get("input_ids")).containsExactly(2, 4, 5, 3);
    }

    @Test
    void describesPaddingHeadAndLabelInputs() {
        Task t = task("labels", "neg,pos");

        assertThat(t.padding(new WhitespaceTokenizer()))
                .containsExactly(Map.entry("input_ids", 0L), Map.entry("token_type_ids", 0L), Map.entry("attention_mask", 0L));
        assertThat(t.labelInputs()).containsExactly(new InputSpec("labels", DType.INT64, 1, true));
        assertThat(t.head()).isEqualTo(new HeadSpec(HeadKind.SEQUENCE_CLASSIFICATION, 2));
        assertThatThrownBy(() -> task().head()).isInstanceOf(IllegalStateException.class).hasMessageContaining("withLabels");
    }

    @Test
    void parsesUserInputWithoutALabel() {
        Task t = task("text_column", "sentence", "labels", "neg,pos");

        Example e = t.parseInput(Map.of("text", "good film"));
        Features f = t.encode(e, 0, tokenizer, 16).get(0);

        assertThat(e).isEqualTo(new TextExample("good film", null, null, "input"));
        assertThat(f.fields()).doesNotContainKey("labels");
        assertThat(t.parseInput(Map.of("sentence", "bad"))).isEqualTo(new TextExample("bad", null, null, "input"));
        assertThat(t.parseInput(Map.of("text", "bad", "label", "neg"))).isEqualTo(new TextExample("bad", null, "neg", "input"));
        assertThatThrownBy(() -> t.parseInput(Map.of("txt", "x")))
                .isInstanceOf(InvalidDataException.class)
                .hasMessageContaining("'text'");
        assertThatThrownBy(() -> t.parseInput(Map.of("text", "x", "text_pair", "y")))
                .isInstanceOf(InvalidDataException.class)
                .hasMessageContaining("text-pair-classification");
    }

    @Test
    void decodesTheSoftmaxOfTheLogitsStably() {
        Task t = task("labels", "neg,neutral,pos");

        ClassificationPrediction p = (ClassificationPrediction) t.decode(
                t.parseInput(Map.of("text", "good")), List.of(), List.of(Map.of("logits", new float[] {1000f, 1002f, 999f})));

        double z = Math.exp(-2) + 1 + Math.exp(-3);
        assertThat(p.label()).isEqualTo("neutral");
        assertThat(p.labelId()).isEqualTo(1);
        assertThat(p.probabilities()).containsOnlyKeys("neg", "neutral", "pos");
        assertThat(new ArrayList<>(p.probabilities().keySet())).containsExactly("neg", "neutral", "pos");
        assertThat(p.probabilities().get("neg")).isCloseTo(Math.exp(-2) / z, within(1e-12));
        assertThat(p.probabilities().get("neutral")).isCloseTo(1 / z, within(1e-12));
        assertThat(p.probabilities().get("pos")).isCloseTo(Math.exp(-3) / z, within(1e-12));
        assertThat(p.score()).isEqualTo(p.probabilities().get("neutral"));
        assertThat(p.toMap()).containsKeys("label", "label_id", "score", "probabilities").containsEntry("label", "neutral");
    }

    @Test
    void primaryMetricIsF1ForTwoLabelsAndAccuracyOtherwise() {
        assertThat(task("labels", "ham,spam").primaryMetric()).isEqualTo("f1");
        assertThat(task("labels", "a,b,c").primaryMetric()).isEqualTo("accuracy");
    }

    @Test
    void evaluatorUsesTheLabelWithIdOneOrThePositiveLabelOption() {
        Task byDefault = task("labels", "ham,spam");
        Task hamPositive = task("labels", "ham,spam", "positive_label", "ham");
        List<Features> features = List.of(
                new Features(0, Map.of("labels", new long[] {1}), null),
                new Features(1, Map.of("labels", new long[] {0}), null),
                new Features(2, Map.of("labels", new long[] {0}), null));
        List<float[]> logits = List.of(new float[] {0f, 1f}, new float[] {0f, 1f}, new float[] {1f, 0f});

        Map<String, Double> spam = evaluate(byDefault, features, logits);
        Map<String, Double> ham = evaluate(hamPositive, features, logits);

        assertThat(spam.get("precision")).isCloseTo(0.5, within(1e-12)); // spam predicted twice, right once
        assertThat(spam.get("recall")).isCloseTo(1.0, within(1e-12));
        assertThat(ham.get("precision")).isCloseTo(1.0, within(1e-12)); // ham predicted once, right
        assertThat(ham.get("recall")).isCloseTo(0.5, within(1e-12));
        assertThat(ham.get("accuracy")).isEqualTo(spam.get("accuracy"));
        assertThat(evaluate(task("labels", "a,b,c"), List.of(new Features(0, Map.of("labels", new long[] {2}), null)),
                        List.of(new float[] {0f, 0f, 1f})))
                .doesNotContainKeys("precision", "recall")
                .containsEntry("accuracy", 1.0)
                .containsEntry("f1", 1.0);
    }

    private static Map<String, Double> evaluate(Task t, List<Features> features, List<float[]> logits) {
        Evaluator e = t.evaluator(new Dataset("test", List.of(), 0));
        for (int i = 0; i < features.size(); i++) {
            e.accept(features.get(i), Map.of("logits", logits.get(i)));
        }
        return e.metrics();
    }

    @Test
    void lossIsCrossEntropyOfLogitsAndLabelsIgnoringMinus100() {
        Tensor logits = new Tensor() {};
        Tensor labels = new Tensor() {};
        Tensor result = new Tensor() {};
        List<Object[]> calls = new ArrayList<>();
        Ops ops = (Ops) Proxy.newProxyInstance(Ops.class.getClassLoader(), new Class<?>[] {Ops.class}, (proxy, m, args) -> {
            if (m.getName().equals("crossEntropy")) {
                calls.add(args);
                return result;
            }
            throw new UnsupportedOperationException(m.getName());
        });

        Tensor loss = task("labels", "a,b").loss(ops, Map.of("logits", logits), Map.of("labels", labels, "input_ids", new Tensor() {}));

        assertThat(loss).isSameAs(result);
        assertThat(calls).hasSize(1);
        assertThat(calls.get(0)).containsExactly(logits, labels, -100L, null);

        calls.clear();
        task("labels", "a,b", "class_weights", "b=3").loss(ops, Map.of("logits", logits), Map.of("labels", labels));
        assertThat(calls.get(0)[3]).isEqualTo(new float[] {1f, 3f});
    }

    @Test
    void balancedClassWeightsComeFromTheTrainingLabelCountsAndAreRecordedInTheOptions() throws IOException {
        Path f = write("train.tsv", "text\tlabel\n" + "good\tham\n".repeat(6) + "bad\tspam\n".repeat(2));
        Task t = task("class_weights", "balanced");
        Dataset data = t.read(f);
        Task labelled = t.withLabels(t.inferLabels(data));

        Task fitted = labelled.fitToTrainingData(data);

        // n / (labels * n_label): 8 / (2 * 6) and 8 / (2 * 2), as scikit-learn's compute_class_weight
        assertThat(((AbstractTextClassificationTask) fitted).classWeights()).containsExactly(8f / 12f, 2f);
        assertThat(fitted.options().values()).containsEntry("class_weights", "ham=" + (8f / 12f) + ",spam=2.0");
        assertThat(fitted.labels()).containsExactly("ham", "spam");
        // the recorded numbers give the same weights when the saved model is opened again
        Task reopened = task("class_weights", fitted.options().values().get("class_weights"))
                .withLabels(List.of("ham", "spam"));
        assertThat(((AbstractTextClassificationTask) reopened).classWeights()).containsExactly(8f / 12f, 2f);
        // nothing to fit without the option
        Task plain = task().withLabels(List.of("ham", "spam"));
        assertThat(plain.fitToTrainingData(data)).isSameAs(plain);
    }

    @Test
    void classWeightsThatCannotBeUsedAreTypedErrorsNamingTheOptionOrFile() throws IOException {
        assertThatThrownBy(() -> task("class_weights", "spam=0")).isInstanceOf(ConfigurationException.class)
                .hasMessageContaining("class_weights").hasMessageContaining("above 0");
        assertThatThrownBy(() -> task("class_weights", "spam=many")).isInstanceOf(ConfigurationException.class)
                .hasMessageContaining("'spam=many'");
        assertThatThrownBy(() -> task("class_weights", "spam=2,spam=3")).isInstanceOf(ConfigurationException.class)
                .hasMessageContaining("twice");
        assertThatThrownBy(() -> task("class_weights", "eggs=2").withLabels(List.of("ham", "spam")))
                .isInstanceOf(ConfigurationException.class).hasMessageContaining("'eggs'");

        Path f = write("one-sided.tsv", "text\tlabel\ngood\tham\nbad\tham\n");
        Task balanced = task("class_weights", "balanced", "labels", "ham,spam");
        Dataset data = balanced.read(f);
        assertThatThrownBy(() -> balanced.fitToTrainingData(data)).isInstanceOf(InvalidDataException.class)
                .hasMessageContaining(f.toString()).hasMessageContaining("'spam' never occurs");
        // a balanced task that never saw its data refuses to compute an unweighted loss silently
        assertThatThrownBy(() -> balanced.loss(null, Map.of("logits", new Tensor() {}), Map.of("labels", new Tensor() {})))
                .isInstanceOf(ConfigurationException.class).hasMessageContaining("fitToTrainingData");
    }

    @Test
    void withLabelsReturnsAConfiguredCopyAndChecksTheList() {
        Task t = task("text_column", "sentence");
        Task fixed = t.withLabels(List.of("b", "a"));

        assertThat(fixed).isInstanceOf(TextClassificationTask.class);
        assertThat(fixed.labels()).containsExactly("b", "a");
        assertThat(fixed.options()).isEqualTo(t.options());
        assertThat(t.labels()).isEmpty();
        assertThatThrownBy(() -> t.withLabels(List.of("a"))).isInstanceOf(ConfigurationException.class);
        assertThatThrownBy(() -> t.withLabels(List.of("a", "a"))).isInstanceOf(ConfigurationException.class);
    }

    @Test
    void readsJsonLinesWithNumericLabels() throws IOException {
        Path f = write("train.jsonl", "{\"text\": \"good\", \"label\": 1}\n{\"text\": \"bad\", \"label\": 0}\n");
        Task t = task();

        Dataset data = t.read(f);

        assertThat(t.inferLabels(data)).containsExactly("0", "1");
        assertThat(data.examples()).extracting(e -> ((TextExample) e).label()).containsExactly("1", "0");
    }
}
