package dev.attune.train;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.attune.error.ConfigurationException;
import org.junit.jupiter.api.Test;

class TrainingConfigTest {
    @Test
    void defaultsAreHuggingFaceTrainingArguments() {
        TrainingConfig c = TrainingConfig.builder().build();
        assertThat(c.learningRate()).isEqualTo(5e-5);
        assertThat(c.numTrainEpochs()).isEqualTo(3.0);
        assertThat(c.perDeviceTrainBatchSize()).isEqualTo(8);
        assertThat(c.adamBeta1()).isEqualTo(0.9);
        assertThat(c.adamBeta2()).isEqualTo(0.999);
        assertThat(c.adamEpsilon()).isEqualTo(1e-8);
        assertThat(c.maxGradNorm()).isEqualTo(1.0);
        assertThat(c.weightDecay()).isZero();
        assertThat(c.seed()).isEqualTo(42);
        assertThat(c.lrSchedulerType()).isEqualTo(SchedulerType.LINEAR);
    }

    @Test
    void warmupRatioRoundsUpAsHuggingFaceDoes() {
        TrainingConfig c = TrainingConfig.builder().warmupRatio(0.1).build();
        assertThat(c.warmupStepsFor(280)).isEqualTo(28);
        assertThat(c.warmupStepsFor(2105)).isEqualTo(211);
        assertThat(c.toBuilder().warmupSteps(7).build().warmupStepsFor(280)).isEqualTo(7);
    }

    @Test
    void invalidValuesNameTheSetting() {
        assertThatThrownBy(() -> TrainingConfig.builder().learningRate(0).build())
                .isInstanceOf(ConfigurationException.class).hasMessageContaining("learningRate");
        assertThatThrownBy(() -> TrainingConfig.builder().warmupRatio(1.5).build())
                .isInstanceOf(ConfigurationException.class).hasMessageContaining("warmupRatio");
        assertThatThrownBy(() -> TrainingConfig.builder().perDeviceTrainBatchSize(0).build())
                .isInstanceOf(ConfigurationException.class).hasMessageContaining("perDeviceTrainBatchSize");
        assertThatThrownBy(() -> TrainingConfig.builder().gradientAccumulationSteps(-1).build())
                .isInstanceOf(ConfigurationException.class).hasMessageContaining("gradientAccumulationSteps");
    }
}
