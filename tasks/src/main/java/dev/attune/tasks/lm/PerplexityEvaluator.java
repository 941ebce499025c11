package dev.attune.tasks.lm;

import dev.attune.task.Evaluator;
import dev.attune.task.Features;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Perplexity of a causal language model: {@code exp} of the mean negative log-likelihood per
 * predicted token, over every next-token prediction ({@code perplexity}) and over the predictions
 * of response tokens ({@code response_perplexity}, when the features mark responses).
 */
final class PerplexityEvaluator implements Evaluator {
    static final String PERPLEXITY = "perplexity";
    static final String RESPONSE_PERPLEXITY = "response_perplexity";
    static final String TOKENS = "tokens";
    static final String RESPONSE_TOKENS = "response_tokens";

    private double allSum;
    private long allCount;
    private double responseSum;
    private long responseCount;

    /**
     * @param features the feature, whose context may be a {@code boolean[]} marking response tokens
     * @param outputs {@code token_nll}: position {@code t}'s loss on token {@code t + 1}
     */
    @Override
    public void accept(Features features, Map<String, float[]> outputs) {
        float[] nll = outputs.get(TokenScores.TOKEN_NLL);
        if (nll == null) {
            throw new IllegalArgumentException("the outputs have no '" + TokenScores.TOKEN_NLL + "'; they are "
                    + outputs.keySet());
        }
        int n = features.length();
        boolean[] response = features.context() instanceof boolean[] r ? r : null;
        for (int t = 0; t + 1 < n && t < nll.length; t++) {
            allSum += nll[t];
            allCount++;
            if (response != null && response[t + 1]) {
                responseSum += nll[t];
                responseCount++;
            }
        }
    }

    @Override
    public Map<String, Double> metrics() {
        Map<String, Double> m = new LinkedHashMap<>();
        m.put(PERPLEXITY, allCount == 0 ? Double.NaN : Math.exp(allSum / allCount));
        m.put(TOKENS, (double) allCount);
        if (responseCount > 0) {
            m.put(RESPONSE_PERPLEXITY, Math.exp(responseSum / responseCount));
            m.put(RESPONSE_TOKENS, (double) responseCount);
        }
        return m;
    }
}
