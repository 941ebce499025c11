package dev.attune.engine.pytorch;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import dev.attune.engine.Batch;
import dev.attune.generate.GenerationConfig.BeamSearchConfig;
import dev.attune.generate.GenerationConfig;
import dev.attune.core.generate.Seq2SeqGenerator;
import dev.attune.core.generate.Seq2SeqGenerator.Hypothesis;
import dev.attune.ops.TensorData;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Beam search with the fixture T5: one beam is greedy decoding; the cache changes no hypothesis;
 * each returned score is the hypothesis' summed log-probability (recomputed by teacher forcing)
 * divided by its generated length to the length penalty; hypotheses come best first; more beams
 * never find a worse best hypothesis here than fewer.
 */
class Seq2SeqBeamSearchTest {
    static long[] source() {
        return T5FidelityTest.longs(T5FidelityTest.referenceCases().get(1).get("input_ids"));
    }

    static GenerationConfig settings(int maxNew) {
        return GenerationConfig.builder().maxNewTokens(maxNew).eosTokenIds(List.of(1L)).build();
    }

    /** @return sum of log p(ids[t] | ids[<t], source) over the generated tokens, by one forward pass */
    static double teacherForcedLogProb(long[] source, long[] ids) {
        Map<String, TensorData> inputs = new LinkedHashMap<>();
        inputs.put("input_ids", TensorData.ofLongs(new long[] {1, source.length}, source));
        long[] decoder = java.util.Arrays.copyOf(ids, ids.length - 1);
        inputs.put("decoder_input_ids", TensorData.ofLongs(new long[] {1, decoder.length}, decoder));
        TensorData logits = T5FidelityTest.model.predict(new Batch(inputs, 1)).get("logits");
        float[] all = logits.toFloatArray();
        int vocab = (int) logits.shape()[2];
        double total = 0;
        for (int t = 0; t < decoder.length; t++) {
            double max = Double.NEGATIVE_INFINITY;
            for (int v = 0; v < vocab; v++) {
                max = Math.max(max, all[t * vocab + v]);
            }
            double sum = 0;
            for (int v = 0; v < vocab; v++) {
                sum += Math.exp(all[t * vocab + v] - max);
            }
            total += all[t * vocab + (int) ids[t + 1]] - max - Math.log(sum);
        }
        return total;
    }

    @Test
    void beamSearchScoresOrderAndCache() {
        T5FidelityTest.load();
        try {
            Seq2SeqGenerator generator = new Seq2SeqGenerator(T5FidelityTest.model);
            long[] source = source();
            GenerationConfig settings = settings(8);

            long[] greedy = generator.generate(source, settings);
            List<Hypothesis> one = generator.beamSearchAll(source, settings, BeamSearchConfig.of(1));
            assertThat(one.get(0).ids()).containsExactly(greedy);

            for (BeamSearchConfig.EarlyStopping early : BeamSearchConfig.EarlyStopping.values()) {
                BeamSearchConfig beams = BeamSearchConfig.of(4).withLengthPenalty(0.8).withEarlyStopping(early)
                        .withNumReturnSequences(4);
                List<Hypothesis> cached = generator.beamSearchAll(source, settings, beams);
                List<Hypothesis> uncached = generator.beamSearchAll(source, settings.toBuilder().useCache(false).build(), beams);
                assertThat(cached).hasSize(4).hasSameSizeAs(uncached);
                for (int i = 0; i < cached.size(); i++) {
                    Hypothesis h = cached.get(i);
                    assertThat(h.ids()).as("%s hypothesis %d, cache vs none", early, i).containsExactly(uncached.get(i).ids());
                    assertThat(h.ids()[0]).isEqualTo(generator.decoderStartTokenId());
                    assertThat(h.ids().length).isLessThanOrEqualTo(9);
                    double expected = teacherForcedLogProb(source, h.ids()) / Math.pow(h.ids().length - 1, 0.8);
                    assertThat(h.score()).as("score of %s hypothesis %d", early, i).isCloseTo(expected, within(1e-4));
                    if (i > 0) {
                        assertThat(h.score()).isLessThanOrEqualTo(cached.get(i - 1).score());
                    }
                }
            }
            double greedyScore = teacherForcedLogProb(source, greedy) / (greedy.length - 1);
            Hypothesis best = generator.beamSearchAll(source, settings, BeamSearchConfig.of(5).withEarlyStopping(
                    BeamSearchConfig.EarlyStopping.NEVER)).get(0);
            assertThat(best.score()).isGreaterThanOrEqualTo(greedyScore - 1e-6);
        } finally {
            T5FidelityTest.close();
        }
    }
}
