package dev.attune.tasks.metrics;

import dev.attune.error.InvalidDataException;
import dev.attune.task.Evaluator;
import dev.attune.task.Features;
import java.util.LinkedHashMap;
import java.util.Map;
import org.apiguardian.api.API;

/**
 * Evaluator of multi-label classification: label {@code i} is predicted when its probability (the
 * sigmoid of {@code logits[i]}) is above 0.5, that is when the logit is above 0, and is gold when
 * the feature's float {@code labels} field holds 1 there. Metrics, with scikit-learn's conventions
 * ({@code f1_score(average="micro"|"macro")}, {@code accuracy_score} on label sets; a ratio whose
 * denominator is 0 counts as 0):
 *
 * <ul>
 *   <li>{@value #MICRO_F1}: F1 of the true/false positives and negatives summed over labels;
 *   <li>{@value #MACRO_F1}: the mean of each label's F1;
 *   <li>{@value #MICRO_PRECISION}, {@value #MICRO_RECALL};
 *   <li>{@value #EXACT_MATCH}: the share of inputs whose whole label set is right.
 * </ul>
 *
 * Thread-safe.
 */
@API(status = API.Status.EXPERIMENTAL, since = "0.1")
public final class MultiLabelEvaluator implements Evaluator {
    /** Micro-averaged F1. */
    public static final String MICRO_F1 = "micro_f1";
    /** Macro-averaged F1. */
    public static final String MACRO_F1 = "macro_f1";
    /** Micro-averaged precision. */
    public static final String MICRO_PRECISION = "micro_precision";
    /** Micro-averaged recall. */
    public static final String MICRO_RECALL = "micro_recall";
    /** Share of inputs with every label right (subset accuracy). */
    public static final String EXACT_MATCH = "exact_match";

    private final long[] tp;
    private final long[] fp;
    private final long[] fn;
    private long exact;
    private long count;

    /** @param numLabels number of labels, at least 1 */
    public MultiLabelEvaluator(int numLabels) {
        if (numLabels < 1) {
            throw new IllegalArgumentException("a multi-label evaluator needs at least one label, got " + numLabels);
        }
        tp = new long[numLabels];
        fp = new long[numLabels];
        fn = new long[numLabels];
    }

    @Override
    public synchronized void accept(Features features, Map<String, float[]> outputs) {
        float[] gold = features.floatFields().get(ClassificationEvaluator.LABELS);
        if (gold == null || gold.length != tp.length) {
            throw new InvalidDataException("example " + features.exampleIndex() + " of the evaluation set has no"
                    + " label vector of " + tp.length + " values; evaluation data needs the labels column in every row");
        }
        float[] logits = outputs.get(ClassificationEvaluator.LOGITS);
        if (logits == null || logits.length != tp.length) {
            throw new IllegalArgumentException("'logits' should have " + tp.length + " values (one per label), got "
                    + (logits == null ? "outputs " + outputs.keySet() : logits.length));
        }
        boolean allRight = true;
        for (int i = 0; i < tp.length; i++) {
            boolean predicted = logits[i] > 0;
            boolean actual = gold[i] >= 0.5f;
            if (predicted && actual) {
                tp[i]++;
            } else if (predicted) {
                fp[i]++;
            } else if (actual) {
                fn[i]++;
            }
            allRight &= predicted == actual;
        }
        exact += allRight ? 1 : 0;
        count++;
    }

    @Override
    public synchronized Map<String, Double> metrics() {
        long sumTp = 0;
        long sumFp = 0;
        long sumFn = 0;
        double macro = 0;
        for (int i = 0; i < tp.length; i++) {
            sumTp += tp[i];
            sumFp += fp[i];
            sumFn += fn[i];
            macro += f1(tp[i], fp[i], fn[i]);
        }
        Map<String, Double> m = new LinkedHashMap<>();
        m.put(MICRO_F1, f1(sumTp, sumFp, sumFn));
        m.put(MACRO_F1, macro / tp.length);
        m.put(MICRO_PRECISION, ratio(sumTp, sumTp + sumFp));
        m.put(MICRO_RECALL, ratio(sumTp, sumTp + sumFn));
        m.put(EXACT_MATCH, ratio(exact, count));
        return m;
    }

    /** @return the number of features counted so far */
    public synchronized long count() {
        return count;
    }

    private static double f1(long tp, long fp, long fn) {
        return tp == 0 ? 0 : 2.0 * tp / (2.0 * tp + fp + fn);
    }

    private static double ratio(long a, long b) {
        return b == 0 ? 0 : (double) a / b;
    }
}
