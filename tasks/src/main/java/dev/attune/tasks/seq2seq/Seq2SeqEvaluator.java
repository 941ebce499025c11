package dev.attune.tasks.seq2seq;

import dev.attune.generate.GenerationConfig;
import dev.attune.generate.TextGenerator;
import dev.attune.model.ModelConfig;
import dev.attune.model.TextTokenizer;
import dev.attune.task.Features;
import dev.attune.task.Evaluator;
import java.util.function.Supplier;
import dev.attune.tasks.metrics.Bleu;
import dev.attune.tasks.metrics.RougeL;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Collects the evaluation sources with targets, generates an output for each and scores them with
 * corpus BLEU, mean ROUGE-L F1, exact match and mean generated length.
 */
final class Seq2SeqEvaluator implements Evaluator {
    private final Seq2SeqTask task;
    private final List<Features> features = new ArrayList<>();
    private final List<String> predictions = new ArrayList<>();
    private final List<String> references = new ArrayList<>();
    private long generatedTokens;

    Seq2SeqEvaluator(Seq2SeqTask task) {
        this.task = task;
    }

    @Override
    public void accept(Features f, Map<String, float[]> outputs) {
        if (f.context() instanceof Seq2SeqExample e && e.target() != null) {
            features.add(f);
        }
    }

    @Override
    public void generate(Supplier<TextGenerator> generators, TextTokenizer tokenizer, ModelConfig modelConfig) {
        if (features.isEmpty()) {
            return;
        }
        TextGenerator generator = generators.get();
        GenerationConfig config = task.generationConfig(modelConfig);
        for (Features f : features) {
            Seq2SeqPrediction p = task.generateIds(generator, tokenizer, f.fields().get(Seq2SeqTask.INPUT_IDS), config);
            predictions.add(p.text());
            references.add(((Seq2SeqExample) f.context()).target());
            generatedTokens += p.ids().length - 1;
        }
        features.clear();
    }

    /** @return the decoded outputs so far, in evaluation order */
    List<String> predictions() {
        return List.copyOf(predictions);
    }

    @Override
    public Map<String, Double> metrics() {
        Map<String, Double> m = new LinkedHashMap<>();
        m.put("bleu", Bleu.corpus(predictions, references).score());
        m.put("rougeL", RougeL.meanF1(predictions, references));
        long exact = 0;
        for (int i = 0; i < predictions.size(); i++) {
            exact += predictions.get(i).strip().equals(references.get(i).strip()) ? 1 : 0;
        }
        m.put("exact_match", predictions.isEmpty() ? 0 : (double) exact / predictions.size());
        m.put("gen_len", predictions.isEmpty() ? 0 : (double) generatedTokens / predictions.size());
        return m;
    }
}
