package dev.attune.core.generate;

import dev.attune.generate.GenerationConfig;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Random;
import org.junit.jupiter.api.Test;

/** The host-side logits steps on hand-computed cases. */
class LogitsProcessingTest {
    private static final float NEG_INF = Float.NEGATIVE_INFINITY;

    @Test
    void repetitionPenaltyDividesPositiveAndMultipliesNegativeOncePerToken() {
        float[] s = {2f, -2f, 1f};
        LogitsProcessing.repetitionPenalty(s, new long[] {0, 1, 0}, 2.0);
        assertThat(s).containsExactly(1f, -4f, 1f);
    }

    @Test
    void topKKeepsTies() {
        float[] s = {1f, 3f, 2f, 3f};
        LogitsProcessing.topK(s, 2);
        assertThat(s).containsExactly(NEG_INF, 3f, NEG_INF, 3f);
    }

    @Test
    void topPKeepsTheSmallestNucleus() {
        float[] s = {(float) Math.log(0.5), (float) Math.log(0.3), (float) Math.log(0.15), (float) Math.log(0.05)};
        LogitsProcessing.topP(s, 0.7);
        assertThat(s[0]).isFinite();
        assertThat(s[1]).isFinite();
        assertThat(s[2]).isEqualTo(NEG_INF);
        assertThat(s[3]).isEqualTo(NEG_INF);

        float[] one = {0f, 5f};
        LogitsProcessing.topP(one, 1e-6);
        assertThat(one).containsExactly(NEG_INF, 5f);
    }

    @Test
    void samplingOnlyDrawsKeptTokensAndGreedyTakesTheFirstMaximum() {
        Random random = new Random(1);
        for (int i = 0; i < 100; i++) {
            assertThat(LogitsProcessing.sample(new float[] {NEG_INF, 0f, NEG_INF}, random)).isEqualTo(1);
        }
        assertThat(LogitsProcessing.argmax(new float[] {1f, 4f, 4f})).isEqualTo(1);
        GenerationConfig topOne = GenerationConfig.builder().doSample(true).topK(1).build();
        assertThat(LogitsProcessing.pick(new float[] {0.1f, 0.3f, 0.2f}, new long[] {0}, topOne, random)).isEqualTo(1);
    }

    @Test
    void settingsAreValidated() {
        assertThatThrownBy(() -> GenerationConfig.builder().temperature(0).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("temperature");
        assertThatThrownBy(() -> GenerationConfig.builder().topP(1.5).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("topP");
    }
}
