package dev.attune.tasks.metrics;

/**
 * Counts of (gold label, predicted label) pairs over a set of single-label predictions, and the
 * classification scores derived from them.
 *
 * <p>Scores follow scikit-learn: a precision, recall or F1 whose denominator is zero is 0 (its
 * {@code zero_division=0}), and macro averages are the unweighted mean of per-label scores over the
 * labels that occur among the gold or predicted labels (what {@code precision_recall_fscore_support}
 * averages when it is not given an explicit label list). Macro F1 is the mean of per-label F1, not
 * the F1 of macro precision and recall. Not thread-safe.
 */
public final class ConfusionMatrix {
    private final int numLabels;
    private final long[][] counts;
    private long total;

    /** @param numLabels number of labels, at least 1 */
    public ConfusionMatrix(int numLabels) {
        if (numLabels < 1) {
            throw new IllegalArgumentException("numLabels must be >= 1, got " + numLabels);
        }
        this.numLabels = numLabels;
        this.counts = new long[numLabels][numLabels];
    }

    /**
     * @param gold gold label ids
     * @param predicted predicted label ids, as many
     * @param numLabels number of labels
     * @return their confusion matrix
     */
    public static ConfusionMatrix of(int[] gold, int[] predicted, int numLabels) {
        if (gold.length != predicted.length) {
            throw new IllegalArgumentException(
                    gold.length + " gold labels but " + predicted.length + " predictions");
        }
        ConfusionMatrix m = new ConfusionMatrix(numLabels);
        for (int i = 0; i < gold.length; i++) {
            m.add(gold[i], predicted[i]);
        }
        return m;
    }

    /**
     * Records one prediction.
     *
     * @param gold the gold label id
     * @param predicted the predicted label id
     */
    public void add(int gold, int predicted) {
        check(gold, "gold");
        check(predicted, "predicted");
        counts[gold][predicted]++;
        total++;
    }

    private void check(int id, String what) {
        if (id < 0 || id >= numLabels) {
            throw new IllegalArgumentException(what + " label id " + id + " is outside [0, " + numLabels + ")");
        }
    }

    /** @return the number of labels */
    public int numLabels() {
        return numLabels;
    }

    /** @return the number of predictions recorded */
    public long total() {
        return total;
    }

    /**
     * @param gold gold label id
     * @param predicted predicted label id
     * @return how often {@code gold} was predicted as {@code predicted}
     */
    public long count(int gold, int predicted) {
        return counts[gold][predicted];
    }

    /**
     * @param label a label id
     * @return predictions of {@code label} that were right
     */
    public long truePositives(int label) {
        return counts[label][label];
    }

    /**
     * @param label a label id
     * @return predictions of {@code label} whose gold label was another
     */
    public long falsePositives(int label) {
        return predicted(label) - counts[label][label];
    }

    /**
     * @param label a label id
     * @return examples of {@code label} predicted as another label
     */
    public long falseNegatives(int label) {
        return support(label) - counts[label][label];
    }

    /**
     * @param label a label id
     * @return examples whose gold label is {@code label}
     */
    public long support(int label) {
        long s = 0;
        for (int p = 0; p < numLabels; p++) {
            s += counts[label][p];
        }
        return s;
    }

    /**
     * @param label a label id
     * @return examples predicted as {@code label}
     */
    public long predicted(int label) {
        long s = 0;
        for (int g = 0; g < numLabels; g++) {
            s += counts[g][label];
        }
        return s;
    }

    /** @return the fraction of predictions that were right; 0 when none was recorded */
    public double accuracy() {
        long right = 0;
        for (int i = 0; i < numLabels; i++) {
            right += counts[i][i];
        }
        return ratio(right, total);
    }

    /**
     * @param label a label id
     * @return TP / (TP + FP), or 0 when the label was never predicted
     */
    public double precision(int label) {
        return ratio(truePositives(label), predicted(label));
    }

    /**
     * @param label a label id
     * @return TP / (TP + FN), or 0 when the label never occurs
     */
    public double recall(int label) {
        return ratio(truePositives(label), support(label));
    }

    /**
     * @param label a label id
     * @return 2 TP / (2 TP + FP + FN), the harmonic mean of precision and recall; 0 when both are 0
     */
    public double f1(int label) {
        long tp = truePositives(label);
        return ratio(2 * tp, 2 * tp + falsePositives(label) + falseNegatives(label));
    }

    /** @return mean per-label precision over the labels present in gold or predictions */
    public double macroPrecision() {
        return macro(Score.PRECISION);
    }

    /** @return mean per-label recall over the labels present in gold or predictions */
    public double macroRecall() {
        return macro(Score.RECALL);
    }

    /** @return mean per-label F1 over the labels present in gold or predictions */
    public double macroF1() {
        return macro(Score.F1);
    }

    private enum Score {
        PRECISION,
        RECALL,
        F1
    }

    private double macro(Score score) {
        double sum = 0;
        int present = 0;
        for (int l = 0; l < numLabels; l++) {
            if (support(l) == 0 && predicted(l) == 0) {
                continue;
            }
            present++;
            sum += switch (score) {
                case PRECISION -> precision(l);
                case RECALL -> recall(l);
                case F1 -> f1(l);
            };
        }
        return present == 0 ? 0 : sum / present;
    }

    private static double ratio(long numerator, long denominator) {
        return denominator == 0 ? 0 : (double) numerator / denominator;
    }
}
