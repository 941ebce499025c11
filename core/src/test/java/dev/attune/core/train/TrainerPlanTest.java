package dev.attune.core.train;

import dev.attune.train.TrainingConfig;

import static org.assertj.core.api.Assertions.assertThat;

import dev.attune.core.train.LayerGroups;
import dev.attune.task.Features;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** Epoch plans (shuffled, length-grouped) and the layer groups that freezing and LLRD act on. */
class TrainerPlanTest {
    static List<Features> features(int n, long seed) {
        Random r = new Random(seed);
        List<Features> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            out.add(new Features(i, Map.of("input_ids", new long[4 + r.nextInt(120)]), null));
        }
        return out;
    }

    /** Tokens a batch holds once padded to its longest example, summed over the epoch. */
    static long paddedTokens(List<int[]> batches, List<Features> f) {
        long total = 0;
        for (int[] b : batches) {
            int max = 0;
            for (int i : b) {
                max = Math.max(max, f.get(i).length());
            }
            total += (long) max * b.length;
        }
        return total;
    }

    @Test
    void lengthGroupingCoversEveryExampleOnceAndCutsPadding() {
        List<Features> f = features(1000, 7);
        DefaultTrainer plain = new DefaultTrainer(TrainingConfig.builder().build());
        DefaultTrainer grouped = new DefaultTrainer(TrainingConfig.builder().groupByLength(true).build());
        List<int[]> a = plain.plan(new Random(42), f, 16);
        List<int[]> b = grouped.plan(new Random(42), f, 16);
        assertThat(b).hasSameSizeAs(a);
        int[] seen = new int[f.size()];
        for (int[] batch : b) {
            for (int i : batch) {
                seen[i]++;
            }
        }
        assertThat(Arrays.stream(seen).allMatch(c -> c == 1)).isTrue();
        long real = f.stream().mapToLong(Features::length).sum();
        // random batches pad ~to the maximum; grouped batches stay near the real token count
        assertThat(paddedTokens(b, f)).isLessThan((long) (real * 1.15));
        assertThat(paddedTokens(a, f)).isGreaterThan((long) (real * 1.5));
        // the batches are shuffled too: not simply longest first across the epoch
        int firstMax = Arrays.stream(b.get(0)).map(i -> f.get(i).length()).max().orElseThrow();
        int secondMax = Arrays.stream(b.get(1)).map(i -> f.get(i).length()).max().orElseThrow();
        int thirdMax = Arrays.stream(b.get(2)).map(i -> f.get(i).length()).max().orElseThrow();
        assertThat(firstMax >= secondMax && secondMax >= thirdMax).isFalse();
    }

    @Test
    void plansAreAFunctionOfTheGeneratorState() {
        List<Features> f = features(100, 3);
        DefaultTrainer t = new DefaultTrainer(TrainingConfig.builder().groupByLength(true).build());
        Shuffler r1 = new Shuffler(5);
        r1.nextInt(7);
        Random r2 = Shuffler.decode(r1.encode(), java.nio.file.Path.of("x"));
        List<int[]> p1 = t.plan(r1, f, 8);
        List<int[]> p2 = t.plan(r2, f, 8);
        for (int i = 0; i < p1.size(); i++) {
            assertThat(p2.get(i)).containsExactly(p1.get(i));
        }
        assertThat(r1.nextLong()).isEqualTo(r2.nextLong());
    }

    @Test
    void layerGroupsFollowHuggingFaceNames() {
        LayerGroups g = new LayerGroups(List.of("bert.embeddings.word_embeddings.weight",
                "bert.embeddings.LayerNorm.weight", "bert.encoder.layer.0.attention.self.query.weight",
                "bert.encoder.layer.1.output.dense.bias", "bert.pooler.dense.weight", "classifier.weight"));
        assertThat(g.count()).isEqualTo(4);
        assertThat(g.groups()).containsExactly(0, 0, 1, 2, 3, 3);
        assertThat(g.body()).containsExactlyInAnyOrder("bert.embeddings.word_embeddings.weight",
                "bert.embeddings.LayerNorm.weight", "bert.encoder.layer.0.attention.self.query.weight",
                "bert.encoder.layer.1.output.dense.bias", "bert.pooler.dense.weight");
        assertThat(g.lowest(2)).hasSize(3);
        Map<String, Double> s = g.decayedScales(0.5);
        assertThat(s.get("classifier.weight")).isEqualTo(1.0);
        assertThat(s.get("bert.encoder.layer.1.output.dense.bias")).isEqualTo(0.5);
        assertThat(s.get("bert.embeddings.LayerNorm.weight")).isEqualTo(0.125);

        LayerGroups gpt = new LayerGroups(List.of("transformer.wte.weight", "transformer.wpe.weight",
                "transformer.h.0.attn.c_attn.weight", "transformer.h.1.mlp.c_fc.weight", "transformer.ln_f.weight",
                "score.weight"));
        assertThat(gpt.groups()).containsExactly(0, 0, 1, 2, 3, 3);
        assertThat(gpt.body()).doesNotContain("score.weight").contains("transformer.ln_f.weight");
    }
}
