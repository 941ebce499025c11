package dev.attune.tasks.metrics;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class EntityMetricsTest {
    private static List<EntitySpan> entities(String tags) {
        return EntityMetrics.entities(List.of(tags.split(" ")));
    }

    @Test
    void iob2Entities() {
        assertThat(entities("B-PER I-PER O B-LOC"))
                .containsExactly(new EntitySpan("PER", 0, 2), new EntitySpan("LOC", 3, 4));
        assertThat(entities("B-ORG I-ORG")).containsExactly(new EntitySpan("ORG", 0, 2));
        assertThat(entities("B-PER B-PER")).containsExactly(new EntitySpan("PER", 0, 1), new EntitySpan("PER", 1, 2));
        assertThat(entities("O O")).isEmpty();
    }

    @Test
    void insideAfterOutsideOrAtTheStartBeginsAnEntity() {
        assertThat(entities("O I-PER I-PER O")).containsExactly(new EntitySpan("PER", 1, 3));
        assertThat(entities("I-ORG I-ORG")).containsExactly(new EntitySpan("ORG", 0, 2));
    }

    @Test
    void aTypeSwitchEndsOneEntityAndStartsAnother() {
        assertThat(entities("B-PER I-LOC I-LOC"))
                .containsExactly(new EntitySpan("PER", 0, 1), new EntitySpan("LOC", 1, 3));
        assertThat(entities("B-PER I-PER B-LOC I-PER"))
                .containsExactly(new EntitySpan("PER", 0, 2), new EntitySpan("LOC", 2, 3), new EntitySpan("PER", 3, 4));
    }

    @Test
    void iob1BeginsOnlyBetweenAdjacentEntitiesOfOneType() {
        assertThat(entities("I-MISC I-MISC B-MISC O"))
                .containsExactly(new EntitySpan("MISC", 0, 2), new EntitySpan("MISC", 2, 3));
    }

    @Test
    void entitiesEndAtTheSentenceEnd() {
        EntityMetrics m = new EntityMetrics();
        m.add(List.of("O", "B-PER"), List.of("O", "B-PER"));
        m.add(List.of("I-PER", "O"), List.of("I-PER", "O"));
        assertThat(m.metrics()).containsEntry("precision", 1.0).containsEntry("recall", 1.0).containsEntry("f1", 1.0);
    }

    @Test
    void microScoresOverSentences() {
        // gold entities: PER, LOC | MISC | ORG (4); predicted: PER, ORG | MISC (3); right: PER, MISC (2)
        Map<String, Double> m = EntityMetrics.compute(
                List.of(List.of("B-PER", "I-PER", "O", "B-LOC"), List.of("O", "B-MISC", "I-MISC"), List.of("B-ORG", "O")),
                List.of(List.of("B-PER", "I-PER", "O", "B-ORG"), List.of("O", "I-MISC", "I-MISC"), List.of("O", "O")));
        assertThat(m.get("precision")).isCloseTo(2.0 / 3, within(1e-12));
        assertThat(m.get("recall")).isCloseTo(0.5, within(1e-12));
        assertThat(m.get("f1")).isCloseTo(4.0 / 7, within(1e-12));
        assertThat(m.get("accuracy")).isCloseTo(6.0 / 9, within(1e-12));
        assertThat(m).containsOnlyKeys("precision", "recall", "f1", "accuracy");
    }

    @Test
    void partialMatchesDoNotCount() {
        Map<String, Double> m = EntityMetrics.compute(
                List.of(List.of("B-PER", "I-PER", "I-PER")), List.of(List.of("B-PER", "I-PER", "O")));
        assertThat(m.get("precision")).isZero();
        assertThat(m.get("recall")).isZero();
        assertThat(m.get("f1")).isZero();
    }

    @Test
    void noEntitiesGivesZeros() {
        assertThat(EntityMetrics.compute(List.of(List.of("O")), List.of(List.of("O"))))
                .containsEntry("precision", 0.0).containsEntry("f1", 0.0).containsEntry("accuracy", 1.0);
    }
}
