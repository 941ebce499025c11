package dev.attune.train;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import dev.attune.error.ConfigurationException;
import dev.attune.train.TrainingConfig.SchedulerType;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Schedule factors as HuggingFace's get_scheduler lambdas give them (total 100, warmup 10). */
class SchedulerTypeTest {
    @ParameterizedTest(name = "{0} at step {1} -> {2}")
    @CsvSource(textBlock = """
            LINEAR,                0,   0.0
            LINEAR,                5,   0.5
            LINEAR,               10,   1.0
            LINEAR,               55,   0.5
            LINEAR,              100,   0.0
            COSINE,                5,   0.5
            COSINE,               10,   1.0
            COSINE,               55,   0.5
            COSINE,              100,   0.0
            CONSTANT,              0,   1.0
            CONSTANT,             99,   1.0
            CONSTANT_WITH_WARMUP,  2,   0.2
            CONSTANT_WITH_WARMUP, 80,   1.0
            """)
    void factorsMatchHuggingFace(SchedulerType type, long step, double expected) {
        assertThat(type.factor(step, 10, 100)).isCloseTo(expected, within(1e-12));
    }

    @ParameterizedTest
    @CsvSource({"linear, LINEAR", "Cosine, COSINE", "constant-with-warmup, CONSTANT_WITH_WARMUP"})
    void parsesHuggingFaceNames(String name, SchedulerType expected) {
        assertThat(SchedulerType.parse(name)).isEqualTo(expected);
    }

    @org.junit.jupiter.api.Test
    void unknownNameIsAConfigurationError() {
        assertThatThrownBy(() -> SchedulerType.parse("triangle"))
                .isInstanceOf(ConfigurationException.class).hasMessageContaining("triangle").hasMessageContaining("cosine");
    }

    /**
     * Newer schedules (total 100, warmup 10) against HuggingFace's formulas worked by hand:
     * cosine_with_restarts with 2 cycles, polynomial with power 2 down to 0.1 of the peak, and ULMFiT's
     * slanted triangular rate (ratio 32).
     */
    @ParameterizedTest(name = "{0} at step {1} -> {2}")
    @CsvSource(textBlock = """
            COSINE_WITH_RESTARTS,  5,   0.5
            COSINE_WITH_RESTARTS, 10,   1.0
            COSINE_WITH_RESTARTS, 32.5, 0.5
            COSINE_WITH_RESTARTS, 55,   1.0
            COSINE_WITH_RESTARTS, 77.5, 0.5
            COSINE_WITH_RESTARTS, 100,  0.0
            POLYNOMIAL,            5,   0.5
            POLYNOMIAL,           10,   1.0
            POLYNOMIAL,           55,   0.325
            POLYNOMIAL,          100,   0.1
            POLYNOMIAL,          120,   0.1
            SLANTED_TRIANGULAR,    0,   0.03125
            SLANTED_TRIANGULAR,    5,   0.515625
            SLANTED_TRIANGULAR,   10,   1.0
            SLANTED_TRIANGULAR,   55,   0.515625
            SLANTED_TRIANGULAR,  100,   0.03125
            """)
    void newerSchedulesFollowTheirFormulas(SchedulerType type, double step, double expected) {
        if (step != Math.rint(step)) {
            // half steps are not steps: check the continuous formula at the two neighbours instead
            double lo = type.factor((long) Math.floor(step), 10, 100, 2, 2, 0.1);
            double hi = type.factor((long) Math.ceil(step), 10, 100, 2, 2, 0.1);
            assertThat(lo).isGreaterThan(expected);
            assertThat(hi).isLessThan(expected);
            return;
        }
        assertThat(type.factor((long) step, 10, 100, 2, 2, 0.1)).isCloseTo(expected, within(1e-12));
    }

    @org.junit.jupiter.api.Test
    void slantedTriangularRisesOverTenPercentWithoutWarmup() {
        assertThat(SchedulerType.SLANTED_TRIANGULAR.factor(10, 0, 100)).isEqualTo(1.0);
        assertThat(SchedulerType.SLANTED_TRIANGULAR.factor(0, 0, 100)).isEqualTo(1 / 32.0);
        assertThat(SchedulerType.parse("slanted_triangular")).isEqualTo(SchedulerType.SLANTED_TRIANGULAR);
        assertThat(SchedulerType.parse("cosine_with_restarts")).isEqualTo(SchedulerType.COSINE_WITH_RESTARTS);
        assertThat(SchedulerType.parse("polynomial")).isEqualTo(SchedulerType.POLYNOMIAL);
    }
}
