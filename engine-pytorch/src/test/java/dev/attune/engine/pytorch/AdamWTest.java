package dev.attune.engine.pytorch;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import dev.attune.core.train.AdamW;
import dev.attune.core.train.OptimizerSettings;
import dev.attune.engine.Batch;
import dev.attune.engine.EngineOptions;
import dev.attune.engine.LoweredModel;
import dev.attune.model.ModelDefinition.InputSpec;
import dev.attune.ops.DType;
import dev.attune.ops.Parameter.Init;
import dev.attune.ops.Ops;
import dev.attune.ops.Parameter;
import dev.attune.ops.ParameterSet.Scope;
import dev.attune.ops.Tensor;
import dev.attune.ops.TensorData;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * The one AdamW ({@link AdamW}) run eagerly by the PyTorch engine against AdamW computed by hand in double precision: decoupled
 * weight decay only on decay parameters, bias-corrected moments, eps after the bias correction of
 * sqrt(v), and global-norm clipping.
 */
class AdamWTest {
    static final float[] X = {0.5f, -1f, 2f, 1.5f, 0.25f, -0.75f}; // [2, 3]
    static final float[] TARGET = {1f, -2f, 0.5f, 3f}; // [2, 2]
    static final float[] W0 = {0.1f, -0.2f, 0.3f, 0.4f, 0.5f, -0.6f}; // [2, 3]
    static final float[] B0 = {0.05f, -0.05f};

    /** y = x W^T + b, loss = mean((y - t)^2). */
    static class Tiny extends ProbeModel {
        final Parameter w;
        final Parameter b;

        Tiny() {
            this(3, 2);
        }

        /** The same model with {@code in} inputs and {@code out} outputs. */
        Tiny(int in, int out) {
            super("Tiny");
            w = Scope.root(params).child("dense").param("weight", Init.zeros(), true, out, in);
            b = Scope.root(params).child("dense").param("bias", Init.zeros(), false, out);
        }

        @Override
        public List<InputSpec> inputs() {
            return List.of(new InputSpec("x", DType.FLOAT32, 2, false), new InputSpec("t", DType.FLOAT32, 2, true));
        }

        @Override
        public List<String> outputs() {
            return List.of("y", "loss");
        }

        @Override
        public Map<String, Tensor> forward(Ops ops, Map<String, Tensor> in) {
            Tensor y = ops.linear(in.get("x"), ops.parameter(w), ops.parameter(b));
            return Map.of("y", y, "loss", ops.meanSquaredError(y, in.get("t")));
        }
    }

    @Test
    void stepsMatchTorchAdamWArithmetic() {
        Tiny def = new Tiny();
        double lr = 0.1;
        double wd = 0.1;
        double clip = 0.5;
        double b1 = 0.9;
        double b2 = 0.999;
        double eps = 1e-8;
        try (LoweredModel m = new PyTorchEngineProvider().create().lower(def,
                p -> TensorData.ofFloats(p.shape(), p.name().endsWith("weight") ? W0 : B0), EngineOptions.defaults());
                AdamW s = new AdamW(m, new OptimizerSettings(b1, b2, eps, wd, clip, Set.of()))) {
            Batch batch = new Batch(Map.of(
                    "x", TensorData.ofFloats(new long[] {2, 3}, X),
                    "t", TensorData.ofFloats(new long[] {2, 2}, TARGET)), 2);
            double[] w = toDouble(W0);
            double[] b = toDouble(B0);
            double[] mw = new double[6];
            double[] vw = new double[6];
            double[] mb = new double[2];
            double[] vb = new double[2];
            for (int step = 1; step <= 3; step++) {
                // forward and gradients by hand
                double[] dy = new double[4];
                double loss = 0;
                for (int i = 0; i < 2; i++) {
                    for (int o = 0; o < 2; o++) {
                        double y = b[o];
                        for (int k = 0; k < 3; k++) {
                            y += X[i * 3 + k] * w[o * 3 + k];
                        }
                        double d = y - TARGET[i * 2 + o];
                        loss += d * d / 4;
                        dy[i * 2 + o] = 2 * d / 4;
                    }
                }
                double[] gw = new double[6];
                double[] gb = new double[2];
                for (int i = 0; i < 2; i++) {
                    for (int o = 0; o < 2; o++) {
                        gb[o] += dy[i * 2 + o];
                        for (int k = 0; k < 3; k++) {
                            gw[o * 3 + k] += dy[i * 2 + o] * X[i * 3 + k];
                        }
                    }
                }
                double norm = 0;
                for (double g : gw) {
                    norm += g * g;
                }
                for (double g : gb) {
                    norm += g * g;
                }
                norm = Math.sqrt(norm);
                double coef = Math.min(1, clip / (norm + 1e-6));
                float engineLoss = s.session().forwardBackward(batch, 1f);
                float engineNorm = s.step(lr);
                assertThat((double) engineLoss).isCloseTo(loss, within(1e-5));
                assertThat((double) engineNorm).isCloseTo(norm, within(1e-5));
                assertThat(coef).as("the test must exercise clipping").isLessThan(1);
                adamw(w, gw, mw, vw, coef, lr, wd, b1, b2, eps, step);
                adamw(b, gb, mb, vb, coef, lr, 0, b1, b2, eps, step);
                assertClose(m.read(def.w).toFloatArray(), w, "weight after step " + step);
                assertClose(m.read(def.b).toFloatArray(), b, "bias after step " + step);
            }
            assertThat(s.steps()).isEqualTo(3);
        }
    }

    /** The Tiny model plus a decayed parameter the forward pass never reads. */
    static final class WithUnused extends Tiny {
        final Parameter unused = Scope.root(params).child("spare").param("weight", Init.zeros(), true, 2);
    }

    @Test
    void accumulatedHalfBatchesStepLikeOneBatchAndParametersWithoutGradientsAreLeftAlone() {
        WithUnused def = new WithUnused();
        Batch batch = new Batch(Map.of(
                "x", TensorData.ofFloats(new long[] {2, 3}, X),
                "t", TensorData.ofFloats(new long[] {2, 2}, TARGET)), 2);
        float[][] once = train(def, batch, 1);
        float[][] twice = train(def, batch, 2);
        for (int k = 0; k < 2; k++) {
            for (int i = 0; i < once[k].length; i++) {
                assertThat(twice[k][i]).as("parameter %d [%d]", k, i).isCloseTo(once[k][i], within(1e-6f));
            }
        }
        // weight decay 0.1 over 3 steps would have moved it; torch skips parameters whose grad is None
        assertThat(once[2]).containsExactly(0.7f, -0.7f);
    }

    /** Three steps, each over {@code parts} forward/backward passes of the batch with loss scale 1/parts. */
    static float[][] train(WithUnused def, Batch batch, int parts) {
        try (LoweredModel m = new PyTorchEngineProvider().create().lower(def, p -> TensorData.ofFloats(p.shape(),
                p.name().startsWith("spare") ? new float[] {0.7f, -0.7f} : p.name().endsWith("weight") ? W0 : B0),
                EngineOptions.defaults());
                AdamW s = new AdamW(m, new OptimizerSettings(0.9, 0.999, 1e-8, 0.1, 1.0, Set.of()))) {
            for (int step = 0; step < 3; step++) {
                for (int p = 0; p < parts; p++) {
                    s.session().forwardBackward(batch, 1f / parts);
                }
                s.step(0.05);
            }
            return new float[][] {m.read(def.w).toFloatArray(), m.read(def.b).toFloatArray(),
                m.read(def.unused).toFloatArray()};
        }
    }

    static void adamw(double[] p, double[] g, double[] m, double[] v, double coef, double lr, double wd, double b1,
            double b2, double eps, int t) {
        double bc1 = 1 - Math.pow(b1, t);
        double bc2 = 1 - Math.pow(b2, t);
        for (int i = 0; i < p.length; i++) {
            double gi = g[i] * coef;
            p[i] *= 1 - lr * wd;
            m[i] = b1 * m[i] + (1 - b1) * gi;
            v[i] = b2 * v[i] + (1 - b2) * gi * gi;
            p[i] -= lr / bc1 * m[i] / (Math.sqrt(v[i]) / Math.sqrt(bc2) + eps);
        }
    }

    static double[] toDouble(float[] f) {
        double[] d = new double[f.length];
        for (int i = 0; i < f.length; i++) {
            d[i] = f[i];
        }
        return d;
    }

    static void assertClose(float[] actual, double[] expected, String what) {
        assertThat(actual).hasSize(expected.length);
        for (int i = 0; i < actual.length; i++) {
            assertThat((double) actual[i]).as(what + " [" + i + "]").isCloseTo(expected[i], within(1e-5));
        }
    }
}
