package dev.attune.samples.tagging;

import dev.attune.task.Evaluator;
import dev.attune.task.Features;
import java.util.LinkedHashMap;
import java.util.Map;

/** Multi-label metrics at probability 0.5 (logit 0): micro and macro F1, micro precision and recall, exact match. */
final class TaggingMetrics implements Evaluator {
    static final String MICRO_F1 = "micro_f1";

    private final long[] tp;
    private final long[] fp;
    private final long[] fn;
    private long exact;
    private long examples;

    TaggingMetrics(int tags) {
        tp = new long[tags];
        fp = new long[tags];
        fn = new long[tags];
    }

    @Override
    public void accept(Features features, Map<String, float[]> outputs) {
        float[] gold = features.floatFields().get("labels");
        float[] logits = outputs.get("logits");
        boolean allRight = true;
        for (int i = 0; i < tp.length; i++) {
            boolean predicted = logits[i] > 0;
            boolean actual = gold[i] == 1f;
            if (predicted && actual) {
                tp[i]++;
            } else if (predicted) {
                fp[i]++;
            } else if (actual) {
                fn[i]++;
            }
            allRight &= predicted == actual;
        }
        exact += allRight ? 1 : 0;
        examples++;
    }

    @Override
    public Map<String, Double> metrics() {
        long sumTp = 0;
        long sumFp = 0;
        long sumFn = 0;
        double macro = 0;
        for (int i = 0; i < tp.length; i++) {
            sumTp += tp[i];
            sumFp += fp[i];
            sumFn += fn[i];
            macro += f1(tp[i], fp[i], fn[i]);
        }
        Map<String, Double> m = new LinkedHashMap<>();
        m.put(MICRO_F1, f1(sumTp, sumFp, sumFn));
        m.put("macro_f1", macro / tp.length);
        m.put("micro_precision", sumTp + sumFp == 0 ? 0 : (double) sumTp / (sumTp + sumFp));
        m.put("micro_recall", sumTp + sumFn == 0 ? 0 : (double) sumTp / (sumTp + sumFn));
        m.put("exact_match", examples == 0 ? 0 : (double) exact / examples);
        return m;
    }

    /** @return F1 from counts; 0 when there is nothing predicted nor expected */
    static double f1(long tp, long fp, long fn) {
        return tp == 0 ? 0 : 2.0 * tp / (2.0 * tp + fp + fn);
    }
}
