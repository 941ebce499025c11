package dev.attune.task;

import dev.attune.generate.TextGenerator;
import dev.attune.model.ModelConfig;
import dev.attune.model.TextTokenizer;
import java.util.Map;
import java.util.function.Supplier;
import org.apiguardian.api.API;

/**
 * Accumulates model outputs over an evaluation set and computes the task's metrics. The runtime
 * asks {@link Task#evaluator} for a fresh one per evaluation and uses it from one thread, so an
 * evaluator may keep mutable counts. Gold answers come from the features ({@link
 * Features#fields()} for class ids, {@link Features#floatFields()} for regression targets and
 * multi-hot vectors).
 */
@API(status = API.Status.STABLE, since = "0.1")
public interface Evaluator {
    /**
     * @param features one input
     * @param outputs the model's outputs for it (batch axis removed), by output name
     */
    void accept(Features features, Map<String, float[]> outputs);

    /**
     * For metrics that need text the model generates (the BLEU of translations), not only the outputs
     * of one forward pass: the runtime calls this once, after every feature has gone through {@link
     * #accept} and before {@link #metrics}. The default generates nothing.
     *
     * @param generator makes a generator decoding with the model being evaluated (inference only),
     *     when first asked, so evaluators that do not generate cost nothing
     * @param tokenizer the model's tokenizer, to turn generated ids into text
     * @param config the model's config ({@code eos_token_id}, ...)
     */
    default void generate(Supplier<TextGenerator> generator, TextTokenizer tokenizer, ModelConfig config) {
    }

    /** @return metrics by name ({@code accuracy}, {@code f1}, ...) */
    Map<String, Double> metrics();
}
