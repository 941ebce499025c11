package dev.attune.tasks.qa;

import dev.attune.task.Dataset;
import dev.attune.task.Evaluator;
import dev.attune.task.Example;
import dev.attune.task.Features;
import dev.attune.tasks.metrics.SquadMetrics;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Evaluator of the question-answering task: collects the start and end logits of every window,
 * and at {@link #metrics()} decodes each example's answer over its windows ({@link SpanDecoder})
 * and scores it against the gold answers ({@link SquadMetrics}). Every labelled example of the data
 * set counts; one without any window scored predicts the empty answer. Thread-safe.
 */
final class QaEvaluator implements Evaluator {
    private final Dataset data;
    private final SpanDecoder decoder;
    private final Map<Integer, List<SpanDecoder.Scored>> windows = new HashMap<>();

    QaEvaluator(Dataset data, SpanDecoder decoder) {
        this.data = data;
        this.decoder = decoder;
    }

    @Override
    public synchronized void accept(Features features, Map<String, float[]> outputs) {
        ContextWindow w = QuestionAnsweringTask.window(features);
        float[] start = QuestionAnsweringTask.output(outputs, QuestionAnsweringTask.START_LOGITS, w.length());
        float[] end = QuestionAnsweringTask.output(outputs, QuestionAnsweringTask.END_LOGITS, w.length());
        windows.computeIfAbsent(features.exampleIndex(), k -> new ArrayList<>())
                .add(new SpanDecoder.Scored(w, java.util.Arrays.copyOf(start, w.length()),
                        java.util.Arrays.copyOf(end, w.length())));
    }

    @Override
    public synchronized Map<String, Double> metrics() {
        SquadMetrics metrics = new SquadMetrics();
        List<? extends Example> examples = data.examples();
        for (int i = 0; i < examples.size(); i++) {
            QaExample e = QuestionAnsweringTask.cast(examples.get(i));
            if (e.answers().isEmpty()) {
                continue;
            }
            String prediction = decoder.decode(e.context(), windows.getOrDefault(i, List.of())).answer();
            List<String> golds = new ArrayList<>();
            for (QaExample.Answer a : e.answers()) {
                golds.add(a.text());
            }
            metrics.add(prediction, golds);
        }
        return metrics.metrics();
    }
}
