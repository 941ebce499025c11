package dev.attune.engine.pytorch;

import static org.assertj.core.api.Assertions.assertThat;

import dev.attune.Attune;
import dev.attune.core.train.AdamW;
import dev.attune.core.train.OptimizerSettings;
import dev.attune.core.train.OptimizerState;
import dev.attune.model.FineTunedModel;
import dev.attune.engine.EngineOptions.DeviceSpec;
import dev.attune.model.PretrainedModel;
import dev.attune.ops.TensorData;
import dev.attune.task.Task;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * Restoring a checkpoint copies its values into memory the tensors own. A restore that left the
 * tensors pointing at the Java buffers it was given (as DJL's {@code JniUtils.set} does) reads freed
 * memory once the garbage collector releases those buffers: here the buffers are dropped, the
 * collector is pushed and the freed memory is overwritten with NaN bytes before the values are read
 * back.
 */
class RestoreMemoryTest {

    /** Values shifted so they differ from what the model holds before the restore. */
    private static TensorData shifted(TensorData t, float by) {
        float[] v = t.toFloatArray();
        for (int i = 0; i < v.length; i++) {
            v[i] += by;
        }
        return TensorData.ofFloats(t.shape(), v);
    }

    /** Drops references, runs the collector and refills direct memory with NaN bytes. */
    private static void churnDirectMemory() throws InterruptedException {
        for (int round = 0; round < 3; round++) {
            System.gc();
            Thread.sleep(50);
            List<ByteBuffer> filler = new ArrayList<>();
            for (int i = 0; i < 64; i++) {
                ByteBuffer b = ByteBuffer.allocateDirect(1 << 20);
                while (b.hasRemaining()) {
                    b.put((byte) 0xff); // 0xffffffff is a NaN float
                }
                filler.add(b);
            }
            filler.clear();
        }
    }

    /** Compares bit patterns and names the first differing element (the arrays are too long to print). */
    private static void assertSameBits(String name, TensorData actual, TensorData expected) {
        float[] a = actual.toFloatArray();
        float[] e = expected.toFloatArray();
        assertThat(a).as(name).hasSameSizeAs(e);
        for (int i = 0; i < e.length; i++) {
            if (Float.floatToRawIntBits(a[i]) != Float.floatToRawIntBits(e[i])) {
                throw new AssertionError(name + "[" + i + "] is " + a[i] + ", restored " + e[i]);
            }
        }
    }

    @Test
    void restoredParametersAndMomentsSurviveTheCollector() throws InterruptedException {
        try (Attune attune = Attune.builder().engine("pytorch").device(DeviceSpec.CPU).build();
                PretrainedModel base = attune.load(FineTuneTest.FIXTURE)) {
            Task task = attune.task("text-classification", Map.of()).withLabels(List.of("neg", "pos"));
            try (FineTunedModel m = attune.prepare(base, task, 16, 42)) {
                Map<String, TensorData> expected = new LinkedHashMap<>();
                m.stateDict().forEach((k, v) -> expected.put(k, shifted(v, 0.25f)));
                try (AdamW session = new AdamW(m.lowered(),
                        new OptimizerSettings(0.9, 0.999, 1e-8, 0.01, 1.0, Set.of()))) {
                    OptimizerState zero = session.state();
                    Map<String, TensorData> moments = new LinkedHashMap<>();
                    zero.tensors().forEach((k, v) -> moments.put(k, shifted(v, 0.5f)));
                    session.restore(new LinkedHashMap<>(expected), new OptimizerState(7, new LinkedHashMap<>(moments)));
                    moments.replaceAll((k, v) -> TensorData.ofFloats(v.shape(), v.toFloatArray()));

                    churnDirectMemory();

                    OptimizerState after = session.state();
                    assertThat(after.steps()).isEqualTo(7);
                    assertThat(after.tensors().keySet()).containsExactlyElementsOf(moments.keySet());
                    for (String k : moments.keySet()) {
                        assertSameBits(k, after.tensors().get(k), moments.get(k));
                    }
                }
                Map<String, TensorData> actual = m.stateDict();
                assertThat(actual.keySet()).containsExactlyElementsOf(expected.keySet());
                for (String k : expected.keySet()) {
                    assertSameBits(k, actual.get(k), expected.get(k));
                }
            }
        }
    }
}
