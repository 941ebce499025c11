package dev.attune.task;

import dev.attune.generate.TextGenerator;
import dev.attune.model.ModelConfig;
import dev.attune.model.TextTokenizer;
import org.apiguardian.api.API;

/**
 * An {@link Evaluator} whose metrics need text the model generates (BLEU of translations), not only
 * the outputs of one forward pass. The runtime calls {@link #generate} once, after every feature has
 * gone through {@link #accept}, and before {@link #metrics}.
 */
@API(status = API.Status.EXPERIMENTAL, since = "0.1")
public interface GenerativeEvaluator extends Evaluator {
    /**
     * Generates outputs for the features seen so far and scores them.
     *
     * @param generator decodes with the model being evaluated (inference only)
     * @param tokenizer the model's tokenizer, to turn generated ids into text
     * @param config the model's config ({@code eos_token_id}, ...)
     */
    void generate(TextGenerator generator, TextTokenizer tokenizer, ModelConfig config);
}
