package dev.attune.tasks.metrics;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.util.List;
import org.junit.jupiter.api.Test;

/** Corpus BLEU and the 13a tokeniser against values worked out by hand from sacreBLEU's definitions. */
class BleuTest {
    @Test
    void tokenizes13aLikeMteval() {
        assertThat(Bleu.tokenize13a("Hello, world!")).containsExactly("Hello", ",", "world", "!");
        // the period and comma inside a number stay; the trailing ones split; $ is a symbol
        assertThat(Bleu.tokenize13a("It costs $3.50, ok.")).containsExactly("It", "costs", "$", "3.50", ",", "ok", ".");
        // a dash after a digit splits, a dash between letters and an apostrophe do not
        assertThat(Bleu.tokenize13a("1-2 well-known don't")).containsExactly("1", "-", "2", "well-known", "don't");
        assertThat(Bleu.tokenize13a("&quot;Hi&quot; &amp; bye")).containsExactly("\"", "Hi", "\"", "&", "bye");
        assertThat(Bleu.tokenize13a("   ")).isEmpty();
    }

    @Test
    void identicalSentencesScoreOneHundred() {
        Bleu.Score s = Bleu.corpus(List.of("the cat sat on the mat"), List.of("the cat sat on the mat"));
        assertThat(s.score()).isCloseTo(100.0, within(1e-9));
        assertThat(s.brevityPenalty()).isEqualTo(1.0);
        assertThat(s.matches()).containsExactly(6, 5, 4, 3);
    }

    @Test
    void clipsCountsSmoothsMissingOrdersAndPenalisesBrevity() {
        // hypothesis: 4 x "the"; reference has "the" twice, so 1-grams match 2 of 4
        Bleu.Score s = Bleu.corpus(List.of("the the the the"), List.of("the cat is on the mat"));
        assertThat(s.matches()).containsExactly(2, 0, 0, 0);
        assertThat(s.totals()).containsExactly(4, 3, 2, 1);
        // exp smoothing: the k-th order without a match gets 100 / (2^k * total)
        assertThat(s.precisions()[0]).isCloseTo(50.0, within(1e-9));
        assertThat(s.precisions()[1]).isCloseTo(100.0 / (2 * 3), within(1e-9));
        assertThat(s.precisions()[2]).isCloseTo(100.0 / (4 * 2), within(1e-9));
        assertThat(s.precisions()[3]).isCloseTo(100.0 / (8 * 1), within(1e-9));
        // brevity penalty: c = 4 < r = 6
        assertThat(s.brevityPenalty()).isCloseTo(Math.exp(1 - 6.0 / 4), within(1e-12));
        double geometric = Math.exp((Math.log(50) + Math.log(100.0 / 6) + Math.log(12.5) + Math.log(12.5)) / 4);
        assertThat(s.score()).isCloseTo(Math.exp(-0.5) * geometric, within(1e-9)).isCloseTo(11.5216, within(1e-3));
    }

    @Test
    void outputsShorterThanFourTokensScoreZeroAsInSacreBleu() {
        // no 3-gram anywhere: sacreBLEU leaves that precision 0, so BLEU is 0 even for an exact match
        assertThat(Bleu.corpus(List.of("a b"), List.of("a b")).score()).isCloseTo(0, within(1e-9));
        assertThat(Bleu.corpus(List.of(""), List.of("a b c d")).score()).isZero();
    }

    @Test
    void sumsCountsOverTheCorpusBeforeDividing() {
        // sentence 1 matches everything, sentence 2 nothing: every order is 50%, so corpus BLEU is 50
        Bleu.Score s = Bleu.corpus(List.of("a b c d", "e f g h"), List.of("a b c d", "w x y z"));
        assertThat(s.matches()).containsExactly(4, 3, 2, 1);
        assertThat(s.totals()).containsExactly(8, 6, 4, 2);
        assertThat(s.score()).isCloseTo(50.0, within(1e-9));
    }

    @Test
    void usesTheClosestReferenceLengthAndClipsByAnyReference() {
        Bleu.Score s = Bleu.corpusMultiReference(List.of("a b c d e"),
                List.of(List.of("a b c", "a b c d e f g", "x a b c d")));
        // lengths 3, 7, 5: 5 is closest (equal), so no brevity penalty
        assertThat(s.referenceLength()).isEqualTo(5);
        assertThat(s.brevityPenalty()).isEqualTo(1.0);
        assertThat(s.matches()[0]).isEqualTo(5);
        // ties in distance prefer the shorter reference (sacreBLEU's closest_len)
        assertThat(Bleu.corpusMultiReference(List.of("a b c d"), List.of(List.of("a b c d e f", "a b"))).referenceLength())
                .isEqualTo(2);
    }
}
