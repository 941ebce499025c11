package dev.attune.tasks.metrics;

import dev.attune.error.InvalidDataException;
import dev.attune.task.Evaluator;
import dev.attune.task.Features;
import java.util.Map;
import org.apiguardian.api.API;

/**
 * Evaluator of single-label classification: for each feature, the predicted label is the argmax of
 * the {@code logits} output (the first on ties) and the gold label is the feature's {@code labels}
 * field; {@link #metrics()} are the {@link ClassificationMetrics} of the counts. Features whose
 * gold label is negative (the ignore index, -100) are not counted. Thread-safe.
 */
@API(status = API.Status.EXPERIMENTAL, since = "0.1")
public final class ClassificationEvaluator implements Evaluator {
    /** Name of the model output holding one score per label. */
    public static final String LOGITS = "logits";
    /** Name of the feature field holding the gold label id. */
    public static final String LABELS = "labels";

    private final ConfusionMatrix matrix;
    private final int positiveId;

    /**
     * @param numLabels number of labels
     * @param positiveId the positive label's id for binary metrics, or -1 for macro metrics only
     */
    public ClassificationEvaluator(int numLabels, int positiveId) {
        this.matrix = new ConfusionMatrix(numLabels);
        if (positiveId < -1 || positiveId >= numLabels) {
            throw new IllegalArgumentException("positive label id " + positiveId + " is outside [0, " + numLabels + ")");
        }
        this.positiveId = positiveId;
    }

    @Override
    public synchronized void accept(Features features, Map<String, float[]> outputs) {
        long[] gold = features.fields().get(LABELS);
        if (gold == null || gold.length != 1) {
            throw new InvalidDataException("example " + features.exampleIndex() + " of the evaluation set has no"
                    + " label; evaluation data needs a label in every row");
        }
        float[] logits = outputs.get(LOGITS);
        if (logits == null) {
            throw new IllegalArgumentException("the model's outputs have no '" + LOGITS + "'; they are " + outputs.keySet());
        }
        if (logits.length != matrix.numLabels()) {
            throw new IllegalArgumentException("'" + LOGITS + "' has " + logits.length + " values but the task has "
                    + matrix.numLabels() + " labels");
        }
        if (gold[0] < 0) {
            return;
        }
        matrix.add(Math.toIntExact(gold[0]), Logits.argmax(logits));
    }

    @Override
    public synchronized Map<String, Double> metrics() {
        return ClassificationMetrics.of(matrix, positiveId);
    }

    /** @return the number of features counted so far */
    public synchronized long count() {
        return matrix.total();
    }

    /**
     * @param gold gold label id
     * @param predicted predicted label id
     * @return how often {@code gold} was predicted as {@code predicted} so far
     */
    public synchronized long count(int gold, int predicted) {
        return matrix.count(gold, predicted);
    }

}
