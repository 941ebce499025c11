package dev.attune.tasks.metrics;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.util.List;
import org.junit.jupiter.api.Test;

/** ROUGE-L (rouge_score's default tokenisation, LCS F1) on hand-computed cases. */
class RougeLTest {
    @Test
    void tokenizesLikeRougeScore() {
        assertThat(RougeL.tokenize("The Cat, sat! on-the mat.")).containsExactly("the", "cat", "sat", "on", "the", "mat");
        assertThat(RougeL.tokenize(" ... ")).isEmpty();
    }

    @Test
    void longestCommonSubsequence() {
        assertThat(RougeL.lcs(List.of("a", "b", "c", "d"), List.of("a", "c", "b", "d"))).isEqualTo(3);
        assertThat(RougeL.lcs(List.of("a"), List.of())).isZero();
    }

    @Test
    void sentenceScores() {
        // LCS "the cat on the mat" = 5 of 6 tokens on both sides
        RougeL.Score s = RougeL.sentence("the cat sat on the mat", "the cat is on the mat");
        assertThat(s.precision()).isCloseTo(5.0 / 6, within(1e-12));
        assertThat(s.recall()).isCloseTo(5.0 / 6, within(1e-12));
        assertThat(s.f1()).isCloseTo(5.0 / 6, within(1e-12));
        // unequal lengths: P = 2/2, R = 2/5, F = 2PR/(P+R) = 4/7
        RougeL.Score u = RougeL.sentence("a b", "a x b y z");
        assertThat(u.precision()).isEqualTo(1.0);
        assertThat(u.recall()).isCloseTo(0.4, within(1e-12));
        assertThat(u.f1()).isCloseTo(4.0 / 7, within(1e-12));
        // punctuation and case do not count
        assertThat(RougeL.sentence("A, B; c!", "a b d").f1()).isCloseTo(2.0 / 3, within(1e-12));
        assertThat(RougeL.sentence("", "a b").f1()).isZero();
    }

    @Test
    void corpusScoreIsTheMeanOfSentenceF1() {
        double mean = RougeL.meanF1(List.of("a b", "x"), List.of("a b", "y"));
        assertThat(mean).isCloseTo(0.5, within(1e-12));
    }
}
