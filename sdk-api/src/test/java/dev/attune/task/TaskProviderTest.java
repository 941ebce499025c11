package dev.attune.task;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.attune.model.HeadSpec.HeadKind;
import dev.attune.model.HeadSpec;
import dev.attune.model.ModelDefinition.InputSpec;
import dev.attune.model.TextTokenizer;
import dev.attune.ops.Ops;
import dev.attune.ops.Tensor;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The generic provider and the defaults that spare a task without labels the label methods. */
class TaskProviderTest {
    /** A task that has no label set and so implements none of the label methods. */
    record Unlabelled(TaskOptions options) implements Task {
        @Override
        public String name() {
            return "unlabelled";
        }

        @Override
        public HeadSpec head() {
            return new HeadSpec(HeadKind.CAUSAL_LM, 0);
        }

        @Override
        public Dataset read(Path file) {
            return new Dataset(file.toString(), List.of(), 0);
        }

        @Override
        public Example parseInput(Map<String, String> input) {
            return () -> "input";
        }

        @Override
        public List<Features> encode(Example example, int exampleIndex, TextTokenizer tokenizer, int maxLength) {
            return List.of();
        }

        @Override
        public Map<String, Long> padding(TextTokenizer tokenizer) {
            return Map.of();
        }

        @Override
        public List<InputSpec> labelInputs() {
            return List.of();
        }

        @Override
        public Tensor loss(Ops ops, Map<String, Tensor> outputs, Map<String, Tensor> inputs) {
            throw new UnsupportedOperationException();
        }

        @Override
        public Evaluator evaluator(Dataset data) {
            throw new UnsupportedOperationException();
        }

        @Override
        public Prediction decode(Example example, List<Features> features, List<Map<String, float[]>> outputs) {
            return Map::of;
        }
    }

    /** What a plugin writes to register a task: one constructor call. */
    public static final class UnlabelledProvider extends TaskProvider.Simple {
        public UnlabelledProvider() {
            super("unlabelled", "a task without labels", Unlabelled::new);
        }
    }

    @Test
    void aSubclassOfSimpleNamesDescribesAndCreatesItsTask() {
        TaskProvider p = new UnlabelledProvider();
        TaskOptions options = new TaskOptions(Map.of("k", "v"));

        Task t = p.create(options);

        assertThat(p.name()).isEqualTo("unlabelled");
        assertThat(p.description()).isEqualTo("a task without labels");
        assertThat(t).isInstanceOf(Unlabelled.class);
        assertThat(t.options()).isEqualTo(options);
        assertThat(p.create(options)).isNotSameAs(t).isEqualTo(t);
        assertThat(p.toString()).contains("unlabelled");
    }

    @Test
    void ofGivesTheSameProviderAsAValue() {
        TaskProvider p = TaskProvider.of("other", "described", Unlabelled::new);

        assertThat(p.name()).isEqualTo("other");
        assertThat(p.description()).isEqualTo("described");
        assertThat(p.create(TaskOptions.empty())).isEqualTo(new Unlabelled(TaskOptions.empty()));
    }

    @Test
    void aBlankNameOrAFactoryReturningNullIsRefused() {
        assertThatThrownBy(() -> TaskProvider.of(" ", "d", Unlabelled::new))
                .isInstanceOf(IllegalArgumentException.class);
        TaskProvider broken = TaskProvider.of("broken", "d", o -> null);
        assertThatThrownBy(() -> broken.create(TaskOptions.empty()))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("'broken'");
    }

    @Test
    void aTaskWithoutLabelsGetsTheLabelMethodsFromTheDefaults() {
        Task t = new Unlabelled(TaskOptions.empty());
        Dataset data = new Dataset("d", List.of(), 0);

        assertThat(t.labels()).isEmpty();
        assertThat(t.inferLabels(data)).isEmpty();
        assertThat(t.withLabels(List.of())).isSameAs(t);
        assertThat(t.withLabels(List.of("LABEL_0", "LABEL_1"))).as("id2label of a HF config is ignored").isSameAs(t);
        assertThat(t.fitToTrainingData(data)).isSameAs(t);
        assertThat(t.configEntries()).isEmpty();
        assertThat(t.primaryMetric()).isEqualTo("accuracy");
        assertThat(t.greaterIsBetter()).isTrue();
    }
}
