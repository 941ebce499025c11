package dev.attune.tasks.metrics;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import dev.attune.task.Features;
import java.util.Map;
import org.assertj.core.data.Offset;
import org.junit.jupiter.api.Test;

/** Expected values are computed by hand from the confusion counts written next to each case. */
class ClassificationMetricsTest {
    private static final Offset<Double> EPS = within(1e-12);

    @Test
    void binaryMetricsOfThePositiveLabel() {
        int[] gold = {1, 1, 1, 1, 0, 0, 0, 0, 0, 0};
        int[] pred = {1, 1, 0, 0, 1, 0, 0, 0, 0, 0};
        // label 1: TP 2, FN 2, FP 1 -> P 2/3, R 1/2, F1 4/7
        // label 0: TP 5, FN 1, FP 2 -> P 5/7, R 5/6, F1 10/13

        Map<String, Double> m = ClassificationMetrics.compute(gold, pred, 2, 1);

        assertThat(m).containsOnlyKeys("accuracy", "precision", "recall", "f1", "macro_precision", "macro_recall", "macro_f1");
        assertThat(m.get("accuracy")).isCloseTo(0.7, EPS);
        assertThat(m.get("precision")).isCloseTo(2.0 / 3, EPS);
        assertThat(m.get("recall")).isCloseTo(0.5, EPS);
        assertThat(m.get("f1")).isCloseTo(4.0 / 7, EPS);
        assertThat(m.get("macro_precision")).isCloseTo((2.0 / 3 + 5.0 / 7) / 2, EPS);
        assertThat(m.get("macro_recall")).isCloseTo((0.5 + 5.0 / 6) / 2, EPS);
        assertThat(m.get("macro_f1")).isCloseTo((4.0 / 7 + 10.0 / 13) / 2, EPS);
    }

    @Test
    void positiveLabelCanBeLabelZero() {
        int[] gold = {1, 1, 1, 1, 0, 0, 0, 0, 0, 0};
        int[] pred = {1, 1, 0, 0, 1, 0, 0, 0, 0, 0};

        Map<String, Double> m = ClassificationMetrics.compute(gold, pred, 2, 0);

        assertThat(m.get("precision")).isCloseTo(5.0 / 7, EPS);
        assertThat(m.get("recall")).isCloseTo(5.0 / 6, EPS);
        assertThat(m.get("f1")).isCloseTo(10.0 / 13, EPS);
    }

    @Test
    void threeClassMacroAverages() {
        int[] gold = {0, 0, 0, 1, 1, 2, 2, 2, 2};
        int[] pred = {0, 1, 0, 1, 2, 2, 2, 0, 1};
        // label 0: TP 2, FP 1, FN 1 -> P 2/3, R 2/3, F1 2/3
        // label 1: TP 1, FP 2, FN 1 -> P 1/3, R 1/2, F1 2/5
        // label 2: TP 2, FP 1, FN 2 -> P 2/3, R 1/2, F1 4/7

        Map<String, Double> m = ClassificationMetrics.compute(gold, pred, 3, -1);

        assertThat(m).containsOnlyKeys("accuracy", "f1", "macro_precision", "macro_recall", "macro_f1");
        assertThat(m.get("accuracy")).isCloseTo(5.0 / 9, EPS);
        assertThat(m.get("macro_precision")).isCloseTo(5.0 / 9, EPS);
        assertThat(m.get("macro_recall")).isCloseTo(5.0 / 9, EPS);
        assertThat(m.get("macro_f1")).isCloseTo(172.0 / 315, EPS);
        assertThat(m.get("f1")).isEqualTo(m.get("macro_f1"));
    }

    @Test
    void macroAveragesLeaveOutLabelsThatNeverOccur() {
        int[] gold = {0, 0, 0, 1, 1, 2, 2, 2, 2};
        int[] pred = {0, 1, 0, 1, 2, 2, 2, 0, 1};

        // label 3 is in neither list, so (as scikit-learn without labels=) it is not averaged in
        assertThat(ClassificationMetrics.compute(gold, pred, 4, -1).get("macro_f1")).isCloseTo(172.0 / 315, EPS);
    }

    @Test
    void noPositivePredictionsGiveZeroNotNaN() {
        int[] gold = {1, 0, 1, 0};
        int[] pred = {0, 0, 0, 0};
        // label 1: TP 0, FP 0, FN 2 -> P 0 (undefined), R 0, F1 0
        // label 0: TP 2, FP 2, FN 0 -> P 1/2, R 1, F1 2/3

        Map<String, Double> m = ClassificationMetrics.compute(gold, pred, 2, 1);

        assertThat(m.get("accuracy")).isCloseTo(0.5, EPS);
        assertThat(m.get("precision")).isZero();
        assertThat(m.get("recall")).isZero();
        assertThat(m.get("f1")).isZero();
        assertThat(m.get("macro_precision")).isCloseTo(0.25, EPS);
        assertThat(m.get("macro_recall")).isCloseTo(0.5, EPS);
        assertThat(m.get("macro_f1")).isCloseTo(1.0 / 3, EPS);
    }

    @Test
    void nothingRecordedGivesZeros() {
        Map<String, Double> m = ClassificationMetrics.of(new ConfusionMatrix(2), 1);

        assertThat(m.values()).containsOnly(0.0);
    }

    @Test
    void confusionCounts() {
        ConfusionMatrix c = ConfusionMatrix.of(new int[] {0, 0, 1, 2}, new int[] {0, 1, 1, 1}, 3);

        assertThat(c.total()).isEqualTo(4);
        assertThat(c.count(0, 1)).isEqualTo(1);
        assertThat(c.truePositives(1)).isEqualTo(1);
        assertThat(c.falsePositives(1)).isEqualTo(2);
        assertThat(c.falseNegatives(0)).isEqualTo(1);
        assertThat(c.support(2)).isEqualTo(1);
        assertThat(c.predicted(1)).isEqualTo(3);
        assertThatThrownBy(() -> c.add(3, 0)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> ConfusionMatrix.of(new int[] {0}, new int[] {}, 2))
                .isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void evaluatorTakesTheArgmaxOfTheLogits() {
        ClassificationEvaluator e = new ClassificationEvaluator(2, 1);
        e.accept(features(0, 1), Map.of("logits", new float[] {-1f, 2f})); // right
        e.accept(features(1, 1), Map.of("logits", new float[] {3f, 2f})); // missed positive
        e.accept(features(2, 0), Map.of("logits", new float[] {0.5f, 0.5f})); // tie -> label 0, right
        e.accept(features(3, -100), Map.of("logits", new float[] {0f, 9f})); // ignored

        Map<String, Double> m = e.metrics();

        assertThat(e.count()).isEqualTo(3);
        assertThat(m.get("accuracy")).isCloseTo(2.0 / 3, EPS);
        assertThat(m.get("precision")).isCloseTo(1.0, EPS);
        assertThat(m.get("recall")).isCloseTo(0.5, EPS);
        assertThat(m.get("f1")).isCloseTo(2.0 / 3, EPS);
    }

    @Test
    void evaluatorRejectsMismatchedOutputs() {
        ClassificationEvaluator e = new ClassificationEvaluator(3, -1);

        assertThatThrownBy(() -> e.accept(features(0, 1), Map.of("logits", new float[] {1f, 2f})))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("3 labels");
        assertThatThrownBy(() -> e.accept(features(0, 1), Map.of("start_logits", new float[] {1f})))
                .hasMessageContaining("no 'logits'");
        assertThatThrownBy(() -> e.accept(new Features(4, Map.of("input_ids", new long[] {2}), null),
                        Map.of("logits", new float[] {1f, 2f, 3f})))
                .hasMessageContaining("example 4");
    }

    private static Features features(int index, long label) {
        return new Features(index, Map.of("input_ids", new long[] {2, 3}, "labels", new long[] {label}), null);
    }
}
