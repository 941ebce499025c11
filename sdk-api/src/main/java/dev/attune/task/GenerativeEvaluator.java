package dev.attune.task;

import dev.attune.engine.LoweredModel;
import dev.attune.model.TextTokenizer;

/**
 * An {@link Evaluator} whose metrics need text the model generates (BLEU of translations), not only
 * the outputs of one forward pass. {@link dev.attune.FineTunedModel#evaluate} calls {@link
 * #generate} once, after every feature has gone through {@link #accept}, and before {@link
 * #metrics}.
 */
public interface GenerativeEvaluator extends Evaluator {
    /**
     * Generates outputs for the features seen so far and scores them.
     *
     * @param model the model being evaluated (inference only: it must not be trained here)
     * @param tokenizer the model's tokenizer, to turn generated ids into text
     */
    void generate(LoweredModel model, TextTokenizer tokenizer);
}
