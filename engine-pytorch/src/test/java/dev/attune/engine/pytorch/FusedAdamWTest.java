package dev.attune.engine.pytorch;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import ai.djl.engine.Engine;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.engine.PtNDManager;
import ai.djl.pytorch.jni.JniUtils;
import dev.attune.core.train.AdamW;
import dev.attune.core.train.OptimizerSettings;
import dev.attune.engine.Batch;
import dev.attune.engine.EngineOptions;
import dev.attune.engine.LoweredModel;
import dev.attune.ops.TensorData;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * libtorch's fused AdamW kernel as the engine runs it: against torch.optim.AdamW's arithmetic in
 * double precision (with and without a gradient divisor), over several parameters in one call (strided
 * ones through contiguous copies), and
 * inside {@link AdamW} taking the same steps as the composite of in-place ops it replaces.
 */
class FusedAdamWTest {
    static float[] random(Random rnd, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) rnd.nextGaussian();
        }
        return v;
    }

    @Test
    void oneKernelStepIsTorchAdamWArithmetic() {
        for (double divisor : new double[] {1.0, 2.5}) {
            try (PtNDManager m = (PtNDManager) Engine.getEngine("PyTorch").newBaseManager()) {
                Random rnd = new Random(11);
                float[] p0 = random(rnd, 12);
                float[] g0 = random(rnd, 12);
                float[] m0 = random(rnd, 12);
                float[] v0 = new float[12];
                for (int i = 0; i < 12; i++) {
                    v0[i] = Math.abs(random(rnd, 1)[0]);
                }
                PtNDArray p = (PtNDArray) m.create(p0, new Shape(3, 4));
                PtNDArray g = (PtNDArray) m.create(g0, new Shape(3, 4));
                PtNDArray mm = (PtNDArray) m.create(m0, new Shape(3, 4));
                PtNDArray vv = (PtNDArray) m.create(v0, new Shape(3, 4));
                double lr = 0.01, wd = 0.1, b1 = 0.9, b2 = 0.999, eps = 1e-8;
                int step = 3;
                boolean grad = JniUtils.isGradMode();
                JniUtils.setGradMode(false);
                try {
                    boolean ran = FusedAdamW.apply(p, g, mm, vv, (PtNDArray) m.create((float) step),
                            divisor == 1.0 ? null : (PtNDArray) m.create((float) divisor), lr, wd, b1, b2, eps);
                    assertThat(ran).as("libtorch ran the fused module").isTrue();
                } finally {
                    JniUtils.setGradMode(grad);
                }
                float[] pv = p.toFloatArray();
                float[] mv = mm.toFloatArray();
                float[] vvv = vv.toFloatArray();
                for (int i = 0; i < 12; i++) {
                    double gi = g0[i] / divisor;
                    double me = b1 * m0[i] + (1 - b1) * gi;
                    double ve = b2 * v0[i] + (1 - b2) * gi * gi;
                    double pe = p0[i] * (1 - lr * wd);
                    double bc1 = 1 - Math.pow(b1, step);
                    double bc2 = 1 - Math.pow(b2, step);
                    pe -= lr / bc1 * me / (Math.sqrt(ve) / Math.sqrt(bc2) + eps);
                    assertThat((double) mv[i]).as("m[%d], divisor %s", i, divisor).isCloseTo(me, within(1e-6 * (1 + Math.abs(me))));
                    assertThat((double) vvv[i]).as("v[%d], divisor %s", i, divisor).isCloseTo(ve, within(1e-6 * (1 + Math.abs(ve))));
                    assertThat((double) pv[i]).as("p[%d], divisor %s", i, divisor).isCloseTo(pe, within(1e-6 * (1 + Math.abs(pe))));
                }
            }
        }
    }

    @Test
    void oneCallOverSeveralParametersStepsEachAsItsOwnCallWouldStridedOnesIncluded() {
        try (PtNDManager m = (PtNDManager) Engine.getEngine("PyTorch").newBaseManager()) {
            Random rnd = new Random(5);
            float[][] p0 = {random(rnd, 6), random(rnd, 4), random(rnd, 6)};
            float[][] g0 = {random(rnd, 6), random(rnd, 4), random(rnd, 6)};
            float[][][] results = new float[2][][];
            boolean grad = JniUtils.isGradMode();
            JniUtils.setGradMode(false);
            try {
                for (int way = 0; way < 2; way++) {
                    java.util.List<PtNDArray> ps = new java.util.ArrayList<>();
                    java.util.List<PtNDArray> gs = new java.util.ArrayList<>();
                    java.util.List<PtNDArray> ms = new java.util.ArrayList<>();
                    java.util.List<PtNDArray> vs = new java.util.ArrayList<>();
                    PtNDArray[] bases = new PtNDArray[3];
                    for (int i = 0; i < 3; i++) {
                        Shape shape = p0[i].length == 6 ? new Shape(2, 3) : new Shape(4);
                        bases[i] = (PtNDArray) m.create(p0[i], shape);
                        // the third is a transposed view: the kernel walks storage linearly, so it must go
                        // through a contiguous copy that is copied back
                        ps.add(i == 2 ? (PtNDArray) bases[i].transpose() : bases[i]);
                        PtNDArray g = (PtNDArray) m.create(g0[i], shape);
                        gs.add(i == 2 ? (PtNDArray) g.transpose() : g);
                        ms.add((PtNDArray) m.zeros(ps.get(i).getShape()));
                        vs.add((PtNDArray) m.zeros(ps.get(i).getShape()));
                    }
                    PtNDArray step = (PtNDArray) m.create(1f);
                    if (way == 0) {
                        assertThat(FusedAdamW.applyAll(ps, gs, ms, vs, step, null, 0.1, 0.01, 0.9, 0.999, 1e-8)).isTrue();
                    } else {
                        for (int i = 0; i < 3; i++) {
                            assertThat(FusedAdamW.apply(ps.get(i), gs.get(i), ms.get(i), vs.get(i), step, null, 0.1, 0.01,
                                    0.9, 0.999, 1e-8)).isTrue();
                        }
                    }
                    results[way] = new float[][] {bases[0].toFloatArray(), bases[1].toFloatArray(),
                        bases[2].toFloatArray(), ms.get(2).toFloatArray()};
                }
            } finally {
                JniUtils.setGradMode(grad);
            }
            for (int k = 0; k < 4; k++) {
                assertThat(results[0][k]).as("tensor %d, one call vs one call each", k).containsExactly(results[1][k]);
            }
            assertThat(results[0][2]).as("the strided parameter was stepped").isNotEqualTo(p0[2]);
            assertThat(results[0][3]).as("and its first moment").doesNotContain(0f);
        }
    }

    /** Trains AdamWTest's model 3 steps with clipping and weight decay; returns weight and bias. */
    static float[][] train(boolean fused) {
        String before = System.getProperty(FusedAdamW.DISABLE);
        System.setProperty(FusedAdamW.DISABLE, Boolean.toString(!fused));
        AdamWTest.Tiny def = new AdamWTest.Tiny();
        try (LoweredModel m = new PyTorchEngineProvider().create().lower(def,
                p -> TensorData.ofFloats(p.shape(), p.name().endsWith("weight") ? AdamWTest.W0 : AdamWTest.B0),
                EngineOptions.defaults());
                AdamW s = new AdamW(m, new OptimizerSettings(0.9, 0.999, 1e-8, 0.1, 0.5, Set.of()))) {
            Batch batch = new Batch(Map.of(
                    "x", TensorData.ofFloats(new long[] {2, 3}, AdamWTest.X),
                    "t", TensorData.ofFloats(new long[] {2, 2}, AdamWTest.TARGET)), 2);
            for (int step = 0; step < 3; step++) {
                s.session().forwardBackward(batch, 1f);
                s.step(0.1);
            }
            return new float[][] {m.read(def.w).toFloatArray(), m.read(def.b).toFloatArray()};
        } finally {
            if (before == null) {
                System.clearProperty(FusedAdamW.DISABLE);
            } else {
                System.setProperty(FusedAdamW.DISABLE, before);
            }
        }
    }

    @Test
    void theOptimizerRunsTheKernelAndTakesTheCompositesSteps() {
        long before = FusedAdamW.APPLIED.sum();
        float[][] fused = train(true);
        assertThat(FusedAdamW.APPLIED.sum() - before).as("3 steps x 2 parameters through the kernel").isEqualTo(6);
        long composedBefore = FusedAdamW.APPLIED.sum();
        float[][] composite = train(false);
        assertThat(FusedAdamW.APPLIED.sum()).as("switched off").isEqualTo(composedBefore);
        for (int k = 0; k < 2; k++) {
            for (int i = 0; i < fused[k].length; i++) {
                assertThat(fused[k][i]).as("parameter %d [%d]", k, i)
                        .isCloseTo(composite[k][i], within(2e-6f * (1 + Math.abs(composite[k][i]))));
            }
        }
    }
}
