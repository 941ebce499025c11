package dev.attune.tasks.metrics;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The metrics the classification tasks report, by name, from a {@link ConfusionMatrix}.
 *
 * <p>Always: {@code accuracy}, {@code macro_precision}, {@code macro_recall}, {@code macro_f1}.
 * With a positive label (two-label tasks): {@code precision}, {@code recall} and {@code f1} of that
 * label, as scikit-learn's {@code average="binary"} computes them. Without one (more than two
 * labels): {@code f1} is {@code macro_f1}, so that a model can always be selected on {@code f1}, and
 * there are no plain {@code precision} or {@code recall} keys. See {@link ConfusionMatrix} for how
 * undefined values and macro averages are handled.
 */
public final class ClassificationMetrics {
    /** Key of the fraction of right predictions. */
    public static final String ACCURACY = "accuracy";
    /** Key of the positive label's precision (binary tasks only). */
    public static final String PRECISION = "precision";
    /** Key of the positive label's recall (binary tasks only). */
    public static final String RECALL = "recall";
    /** Key of the positive label's F1 (binary tasks), or of the macro F1 (otherwise). */
    public static final String F1 = "f1";
    /** Key of the mean per-label precision. */
    public static final String MACRO_PRECISION = "macro_precision";
    /** Key of the mean per-label recall. */
    public static final String MACRO_RECALL = "macro_recall";
    /** Key of the mean per-label F1. */
    public static final String MACRO_F1 = "macro_f1";

    private ClassificationMetrics() {}

    /**
     * @param matrix the counts
     * @param positiveId the positive label's id for binary metrics, or -1 for none
     * @return metrics by name, in a stable order
     */
    public static Map<String, Double> of(ConfusionMatrix matrix, int positiveId) {
        if (positiveId < -1 || positiveId >= matrix.numLabels()) {
            throw new IllegalArgumentException(
                    "positive label id " + positiveId + " is outside [0, " + matrix.numLabels() + ") and not -1");
        }
        Map<String, Double> m = new LinkedHashMap<>();
        m.put(ACCURACY, matrix.accuracy());
        if (positiveId >= 0) {
            m.put(PRECISION, matrix.precision(positiveId));
            m.put(RECALL, matrix.recall(positiveId));
            m.put(F1, matrix.f1(positiveId));
        } else {
            m.put(F1, matrix.macroF1());
        }
        m.put(MACRO_PRECISION, matrix.macroPrecision());
        m.put(MACRO_RECALL, matrix.macroRecall());
        m.put(MACRO_F1, matrix.macroF1());
        return m;
    }

    /**
     * @param gold gold label ids
     * @param predicted predicted label ids
     * @param numLabels number of labels
     * @param positiveId the positive label's id for binary metrics, or -1 for none
     * @return metrics by name
     */
    public static Map<String, Double> compute(int[] gold, int[] predicted, int numLabels, int positiveId) {
        return of(ConfusionMatrix.of(gold, predicted, numLabels), positiveId);
    }
}
