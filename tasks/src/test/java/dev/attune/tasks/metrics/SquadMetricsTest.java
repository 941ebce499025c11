package dev.attune.tasks.metrics;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class SquadMetricsTest {
    @Test
    void normalisationLowerCasesAndDropsPunctuationArticlesAndExtraSpaces() {
        assertThat(SquadMetrics.normalize("The  Denver Broncos!")).isEqualTo("denver broncos");
        assertThat(SquadMetrics.normalize("an apple, a day\tkeeps")).isEqualTo("apple day keeps");
        assertThat(SquadMetrics.normalize("theater another Anne")).isEqualTo("theater another anne");
        assertThat(SquadMetrics.normalize("U.S.-based (1990s)")).isEqualTo("usbased 1990s");
        assertThat(SquadMetrics.normalize("  ")).isEmpty();
    }

    @Test
    void exactMatchComparesNormalisedAnswers() {
        assertThat(SquadMetrics.exactMatch("Denver Broncos", "the denver broncos.")).isEqualTo(1.0);
        assertThat(SquadMetrics.exactMatch("Denver", "Denver Broncos")).isZero();
    }

    @Test
    void f1CountsSharedWordsWithMultiplicity() {
        assertThat(SquadMetrics.f1("Denver Broncos won", "Denver Broncos")).isCloseTo(0.8, within(1e-12));
        assertThat(SquadMetrics.f1("x x y", "x y y")).isCloseTo(2.0 / 3, within(1e-12));
        assertThat(SquadMetrics.f1("the cat", "a cat")).isEqualTo(1.0);
        assertThat(SquadMetrics.f1("dog", "cat")).isZero();
        assertThat(SquadMetrics.f1("", "cat")).isZero();
        assertThat(SquadMetrics.f1("the", "a")).isZero();
    }

    @Test
    void scoresAreTheBestOverGoldAnswersAveragedAsPercentages() {
        SquadMetrics m = new SquadMetrics();
        m.add("Denver Broncos", List.of("Denver Broncos", "Broncos"));
        m.add("Broncos team", List.of("Denver Broncos", "the Broncos"));
        Map<String, Double> r = m.metrics();
        assertThat(r.get("exact_match")).isCloseTo(50.0, within(1e-9));
        assertThat(r.get("f1")).isCloseTo(100 * (1 + 2.0 / 3) / 2, within(1e-9));
        assertThat(new SquadMetrics().metrics()).containsEntry("exact_match", 0.0).containsEntry("f1", 0.0);
    }
}
