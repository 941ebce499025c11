package dev.attune.engine;

import dev.attune.engine.EngineOptions.DeviceSpec;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.attune.error.ConfigurationException;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class DeviceSpecTest {
    @ParameterizedTest
    @CsvSource({"auto, AUTO, 0", "cpu, CPU, 0", "gpu, GPU, 0", "GPU:1, GPU, 1", "cuda:3, GPU, 3"})
    void parses(String text, DeviceSpec.Kind kind, int index) {
        DeviceSpec d = DeviceSpec.parse(text);
        assertThat(d.kind()).isEqualTo(kind);
        assertThat(d.index()).isEqualTo(index);
    }

    @ParameterizedTest
    @ValueSource(strings = {"tpu", "gpu:", "gpu:-1", "gpu:x", ""})
    void rejectsWithTheChoices(String text) {
        assertThatThrownBy(() -> DeviceSpec.parse(text))
                .isInstanceOf(ConfigurationException.class).hasMessageContaining("auto, cpu, gpu or gpu:N");
    }
}
