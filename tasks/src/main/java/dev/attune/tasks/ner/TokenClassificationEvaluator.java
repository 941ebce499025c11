package dev.attune.tasks.ner;

import dev.attune.error.InvalidDataException;
import dev.attune.tasks.metrics.Logits;
import dev.attune.task.Evaluator;
import dev.attune.task.Features;
import dev.attune.tasks.metrics.EntityMetrics;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Evaluator of the token-classification task. Each feature is one sentence; its words are the
 * positions whose {@code labels} field is not -100 (the first sub-token of each word), so every
 * word is scored once, by the prediction on its first sub-token: the argmax of that token's row of
 * {@code logits} ({@code float[T * C]} for the padded length {@code T} of its batch). Words cut off
 * by the maximum length are not scored, as in the HuggingFace examples. Metrics are {@link
 * EntityMetrics}. Thread-safe.
 */
final class TokenClassificationEvaluator implements Evaluator {
    private final List<String> labels;
    private final EntityMetrics metrics = new EntityMetrics();

    TokenClassificationEvaluator(List<String> labels) {
        this.labels = labels;
    }

    @Override
    public synchronized void accept(Features features, Map<String, float[]> outputs) {
        long[] gold = features.fields().get(TokenClassificationTask.LABELS);
        if (gold == null) {
            throw new InvalidDataException("example " + features.exampleIndex() + " of the evaluation set has no"
                    + " tags; evaluation data needs a tag for every word");
        }
        float[] logits = TokenClassificationTask.logits(outputs, labels.size(), gold.length);
        int c = labels.size();
        List<String> g = new ArrayList<>();
        List<String> p = new ArrayList<>();
        for (int i = 0; i < gold.length; i++) {
            if (gold[i] < 0) {
                continue;
            }
            g.add(labels.get(Math.toIntExact(gold[i])));
            p.add(labels.get(argmax(logits, i * c, c)));
        }
        metrics.add(g, p);
    }

    @Override
    public synchronized Map<String, Double> metrics() {
        return metrics.metrics();
    }

    static int argmax(float[] values, int offset, int n) {
        float[] row = new float[n];
        System.arraycopy(values, offset, row, 0, n);
        return Logits.argmax(row);
    }
}
