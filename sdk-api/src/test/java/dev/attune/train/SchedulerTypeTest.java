package dev.attune.train;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import dev.attune.error.ConfigurationException;
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
}
