package dev.attune.engine.pytorch;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.sun.management.OperatingSystemMXBean;
import dev.attune.engine.Batch;
import dev.attune.engine.EngineOptions;
import dev.attune.engine.LoweredModel;
import dev.attune.engine.TrainingSession;
import dev.attune.ops.TensorData;
import java.lang.management.ManagementFactory;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/**
 * libtorch keeps its intra-op thread count per calling thread (OpenMP's setting): a model lowered
 * with one thread must compute with one on every Java thread that calls it, also on a thread where
 * a model lowered with two computed before (two models served from one pool of threads, or Spark
 * tasks of two jobs). What is observed is the process's CPU time against the wall time while that
 * thread computes: about 1 with one thread, near 2 with two (1.9 before the fix). Load from other
 * processes can only lower that ratio, so a busy machine cannot fail the test wrongly.
 */
class IntraOpThreadsTest {
    private static final int WIDTH = 768;

    @Test
    void aModelLoweredWithOneThreadComputesWithOneOnAThreadWhereAnotherModelUsedTwo() throws Exception {
        assumeTrue(Runtime.getRuntime().availableProcessors() >= 2, "one core: nothing to tell apart");
        SplittableRandom random = new SplittableRandom(1);
        // one wide linear layer: enough arithmetic per call for libtorch to use every thread it may
        AdamWTest.Tiny def = new AdamWTest.Tiny(WIDTH, WIDTH);
        try (LoweredModel m = new PyTorchEngineProvider().create().lower(def,
                p -> TensorData.ofFloats(p.shape(), floats(random, (int) p.size())),
                new EngineOptions(EngineOptions.DeviceSpec.parse("cpu"), 1, 42))) {
            Batch batch = new Batch(Map.of(
                    "x", TensorData.ofFloats(new long[] {512, WIDTH}, floats(random, 512 * WIDTH)),
                    "t", TensorData.ofFloats(new long[] {512, WIDTH}, floats(random, 512 * WIDTH))), 512);
            AtomicReference<Throwable> failed = new AtomicReference<>();
            double[] ratio = new double[2];
            Thread other = new Thread(() -> {
                // another model, lowered on this thread with every core, computes here first
                try (LoweredModel wide = new PyTorchEngineProvider().create().lower(new AdamWTest.Tiny(WIDTH, WIDTH),
                        p -> TensorData.ofFloats(p.shape(), new float[(int) p.size()]),
                        new EngineOptions(EngineOptions.DeviceSpec.parse("cpu"), 2, 42))) {
                    wide.predict(batch);
                    ratio[0] = cpuPerWall(() -> m.predict(batch));
                    try (TrainingSession s = m.startTraining(Set.of(), List.of())) {
                        ratio[1] = cpuPerWall(() -> s.forwardBackward(batch, 1f));
                    }
                } catch (Throwable e) {
                    failed.set(e);
                }
            });
            other.start();
            other.join();
            assertThat(failed.get()).isNull();
            assertThat(ratio[0]).as("CPU time / wall time while predicting on another thread").isLessThan(1.4);
            assertThat(ratio[1]).as("CPU time / wall time while training on another thread").isLessThan(1.4);
        }
    }

    private static double cpuPerWall(Runnable work) {
        OperatingSystemMXBean os = (OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
        for (int i = 0; i < 3; i++) {
            work.run();
        }
        long cpu = os.getProcessCpuTime();
        long wall = System.nanoTime();
        for (int i = 0; i < 20; i++) {
            work.run();
        }
        return (os.getProcessCpuTime() - cpu) / (double) (System.nanoTime() - wall);
    }

    private static float[] floats(SplittableRandom random, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) (random.nextDouble() - 0.5);
        }
        return v;
    }
}
