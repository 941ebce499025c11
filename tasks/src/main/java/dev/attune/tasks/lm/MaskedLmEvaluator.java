package dev.attune.tasks.lm;

import dev.attune.task.Evaluator;
import dev.attune.task.Features;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Masked-token accuracy (share of selected tokens whose original is the model's most probable
 * token) and perplexity ({@code exp} of the mean negative log-likelihood of the originals) over
 * every selected position.
 */
final class MaskedLmEvaluator implements Evaluator {
    static final String ACCURACY = "accuracy";
    static final String PERPLEXITY = "perplexity";
    static final String MASKED_TOKENS = "masked_tokens";

    private double nllSum;
    private long correct;
    private long count;

    @Override
    public void accept(Features features, Map<String, float[]> outputs) {
        long[] labels = features.fields().get(CausalLmTask.LABELS);
        float[] nll = outputs.get(TokenScores.TOKEN_NLL);
        float[] right = outputs.get(TokenScores.TOKEN_CORRECT);
        if (labels == null || nll == null || right == null) {
            throw new IllegalArgumentException("masked-LM evaluation needs labelled features and the outputs "
                    + TokenScores.TOKEN_NLL + " and " + TokenScores.TOKEN_CORRECT + "; got " + outputs.keySet());
        }
        for (int t = 0; t < labels.length && t < nll.length; t++) {
            if (labels[t] != TokenScores.IGNORE_INDEX) {
                nllSum += nll[t];
                correct += right[t] > 0.5f ? 1 : 0;
                count++;
            }
        }
    }

    @Override
    public Map<String, Double> metrics() {
        Map<String, Double> m = new LinkedHashMap<>();
        m.put(ACCURACY, count == 0 ? Double.NaN : (double) correct / count);
        m.put(PERPLEXITY, count == 0 ? Double.NaN : Math.exp(nllSum / count));
        m.put(MASKED_TOKENS, (double) count);
        return m;
    }
}
