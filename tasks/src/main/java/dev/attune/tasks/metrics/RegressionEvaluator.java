package dev.attune.tasks.metrics;

import dev.attune.error.InvalidDataException;
import dev.attune.task.Evaluator;
import dev.attune.task.Features;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import org.apache.commons.math3.stat.correlation.PearsonsCorrelation;
import org.apache.commons.math3.stat.correlation.SpearmansCorrelation;
import org.apiguardian.api.API;

/**
 * Evaluator of a regression head with one output: the prediction is the feature's one {@code
 * logits} value, the gold value its float {@code labels} field. Metrics, as scikit-learn and SciPy
 * compute them (what HuggingFace's GLUE STS-B example reports):
 *
 * <ul>
 *   <li>{@value #MSE}: mean squared error, the loss a regression head trains on (lower is better);
 *   <li>{@value #RMSE}: its square root, in the units of the labels;
 *   <li>{@value #MAE}: mean absolute error;
 *   <li>{@value #PEARSON}: Pearson's correlation of predictions and gold values;
 *   <li>{@value #SPEARMAN}: Spearman's rank correlation (ties ranked by their average, as {@code
 *       scipy.stats.spearmanr}).
 * </ul>
 *
 * <p>A correlation is NaN when fewer than two features were seen or one side is constant (SciPy
 * says the same). Thread-safe.
 */
@API(status = API.Status.EXPERIMENTAL, since = "0.1")
public final class RegressionEvaluator implements Evaluator {
    /** Mean squared error. */
    public static final String MSE = "mse";
    /** Root mean squared error. */
    public static final String RMSE = "rmse";
    /** Mean absolute error. */
    public static final String MAE = "mae";
    /** Pearson correlation. */
    public static final String PEARSON = "pearson";
    /** Spearman rank correlation. */
    public static final String SPEARMAN = "spearman";

    private double[] predicted = new double[64];
    private double[] gold = new double[64];
    private int count;

    @Override
    public synchronized void accept(Features features, Map<String, float[]> outputs) {
        float[] target = features.floatFields().get(ClassificationEvaluator.LABELS);
        if (target == null || target.length != 1) {
            throw new InvalidDataException("example " + features.exampleIndex() + " of the evaluation set has no"
                    + " numeric label; evaluation data needs a value in every row");
        }
        float[] logits = outputs.get(ClassificationEvaluator.LOGITS);
        if (logits == null || logits.length != 1) {
            throw new IllegalArgumentException("a regression head returns one 'logits' value per input, got "
                    + (logits == null ? "outputs " + outputs.keySet() : logits.length + " values"));
        }
        if (count == predicted.length) {
            predicted = Arrays.copyOf(predicted, count * 2);
            gold = Arrays.copyOf(gold, count * 2);
        }
        predicted[count] = logits[0];
        gold[count] = target[0];
        count++;
    }

    /** @return {@value #MSE}, {@value #RMSE}, {@value #MAE}, {@value #PEARSON}, {@value #SPEARMAN} */
    @Override
    public synchronized Map<String, Double> metrics() {
        double se = 0;
        double ae = 0;
        for (int i = 0; i < count; i++) {
            double d = predicted[i] - gold[i];
            se += d * d;
            ae += Math.abs(d);
        }
        double mse = count == 0 ? Double.NaN : se / count;
        Map<String, Double> m = new LinkedHashMap<>();
        m.put(MSE, mse);
        m.put(RMSE, Math.sqrt(mse));
        m.put(MAE, count == 0 ? Double.NaN : ae / count);
        m.put(PEARSON, correlation(true));
        m.put(SPEARMAN, correlation(false));
        return m;
    }

    private double correlation(boolean pearson) {
        if (count < 2) {
            return Double.NaN;
        }
        double[] p = Arrays.copyOf(predicted, count);
        double[] g = Arrays.copyOf(gold, count);
        if (constant(p) || constant(g)) {
            return Double.NaN;
        }
        return pearson ? new PearsonsCorrelation().correlation(p, g) : new SpearmansCorrelation().correlation(p, g);
    }

    private static boolean constant(double[] values) {
        for (double v : values) {
            if (v != values[0]) {
                return false;
            }
        }
        return true;
    }

    /** @return the number of features counted so far */
    public synchronized int count() {
        return count;
    }
}
