package dev.attune.engine.pytorch;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.pytorch.jni.JniUtils;
import dev.attune.engine.Engine;
import dev.attune.engine.EngineOptions;
import dev.attune.engine.LoweredModel;
import dev.attune.testing.OpCase;
import dev.attune.testing.OpConformanceSuite;
import org.junit.jupiter.api.Test;

/**
 * The op-conformance suite on the PyTorch engine (eager libtorch; inference routes attention through
 * the fused kernel), at the suite's default tolerance, plus what only this engine has: libtorch's
 * process-wide gradient mode, which {@code predict} turns off and must give back as it found it.
 */
class PyTorchOpConformanceTest extends OpConformanceSuite {
    @Override
    protected Engine createEngine() {
        return new PyTorchEngineProvider().create();
    }

    @Test
    void predictGivesTheGradientModeBackAsItFoundIt() {
        OpCase c = cases().map(n -> n.getPayload()).filter(x -> x.name().startsWith("crossEntropy with class weights"))
                .findFirst().orElseThrow();
        boolean before = JniUtils.isGradMode();
        try (LoweredModel m = engine().lower(c.model(), c::valueOf, EngineOptions.defaults())) {
            for (boolean mode : new boolean[] {true, false}) {
                JniUtils.setGradMode(mode);
                m.predict(c.batch());
                assertThat(JniUtils.isGradMode()).as("gradient mode after predict").isEqualTo(mode);
            }
        } finally {
            JniUtils.setGradMode(before);
        }
    }
}
