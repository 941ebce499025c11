package dev.attune.engine.pytorch;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.engine.Engine;
import dev.attune.engine.EngineOptions.DeviceSpec;
import dev.attune.engine.EngineOptions;
import dev.attune.engine.LoweredModel;
import dev.attune.error.EngineException;
import org.junit.jupiter.api.Test;

/** The device choice reaches the engine: cpu and auto run here; a GPU that is not there is a clear error. */
class DeviceChoiceTest {
    @Test
    void cpuAndAutoLowerOntoTheCpuWhenThereIsNoGpu() {
        AdamWTest.Tiny def = new AdamWTest.Tiny();
        PyTorchEngine engine = (PyTorchEngine) new PyTorchEngineProvider().create();
        try (LoweredModel cpu = engine.lower(def, p -> dev.attune.ops.TensorData.ofFloats(p.shape(), new float[(int) p.size()]),
                new EngineOptions(DeviceSpec.CPU, 1, 1))) {
            assertThat(cpu.device()).isEqualTo("cpu()");
        }
        if (Engine.getEngine("PyTorch").getGpuCount() == 0) {
            assertThat(engine.resolve(DeviceSpec.AUTO).toString()).isEqualTo("cpu()");
        }
    }

    @Test
    void aMissingGpuIsAnEngineErrorThatSaysWhatToDo() {
        PyTorchEngine engine = (PyTorchEngine) new PyTorchEngineProvider().create();
        int gpus = Engine.getEngine("PyTorch").getGpuCount();
        assertThatThrownBy(() -> engine.resolve(DeviceSpec.parse("gpu:" + gpus)))
                .isInstanceOf(EngineException.class)
                .hasMessageContaining("gpu:" + gpus)
                .hasMessageContaining("--device cpu");
    }
}
