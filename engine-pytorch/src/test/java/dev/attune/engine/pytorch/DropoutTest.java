package dev.attune.engine.pytorch;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.engine.Engine;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.engine.PtNDManager;
import ai.djl.pytorch.jni.JniUtils;
import ai.djl.training.GradientCollector;
import dev.attune.ops.Tensor;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The training-mode dropout of the PyTorch lowering: inverted dropout with keep probability 1 - p,
 * kept values scaled by 1 / (1 - p), the gradient the upstream gradient through the same mask, masks
 * reproducible from the seed, and the identity outside training.
 */
class DropoutTest {
    static final int N = 1 << 16;

    /** Dropout of ones [4, N / 4] in training mode; returns {output, gradient of sum(output * g)}. */
    static float[][] dropOnes(float p, float[] g) {
        Engine engine = Engine.getEngine("PyTorch");
        try (PtNDManager m = (PtNDManager) engine.newBaseManager()) {
            PtNDArray x = (PtNDArray) m.ones(new Shape(4, N / 4));
            x.setRequiresGradient(true);
            EagerOps ops = new EagerOps(m, q -> null, true);
            try (GradientCollector collector = engine.newGradientCollector()) {
                Tensor y = ops.dropout(ops.wrap(x), p);
                PtNDArray out = EagerOps.a(y);
                PtNDArray upstream = (PtNDArray) m.create(g, new Shape(4, N / 4));
                collector.backward(out.mul(upstream).sum());
                return new float[][] {out.toFloatArray(), x.getGradient().toFloatArray()};
            }
        }
    }

    static float[] gaussian(long seed) {
        Random rnd = new Random(seed);
        float[] g = new float[N];
        for (int i = 0; i < N; i++) {
            g[i] = (float) rnd.nextGaussian();
        }
        return g;
    }

    @Test
    void keepsOneMinusPScaledAndPassesTheGradientThroughTheSameMask() {
        float p = 0.25f;
        float[] g = gaussian(3);
        JniUtils.setSeed(11);
        float[][] r = dropOnes(p, g);
        float[] out = r[0];
        float[] grad = r[1];
        float scale = 1f / (1f - p);
        int dropped = 0;
        for (int i = 0; i < N; i++) {
            assertThat(out[i]).as("element %d", i).isIn(0f, scale);
            if (out[i] == 0f) {
                dropped++;
            }
            // d(sum(y * g)) / dx = g * mask * scale, and x = 1 so mask * scale = y
            assertThat(grad[i]).as("gradient %d", i).isEqualTo(g[i] * out[i]);
        }
        // binomial: standard deviation sqrt(p (1 - p) / N) = 0.0017, so 0.01 is about six of them
        assertThat((double) dropped / N).isBetween(p - 0.01, p + 0.01);
    }

    /**
     * A float32 input keeps a boolean mask and is scaled after the product: each kept element must still
     * be exactly {@code x * scale} (one float rounding, as with a scaled float mask), and its gradient
     * exactly {@code g * scale}.
     */
    @Test
    void keptElementsAreExactlyTheInputTimesTheScaleAndSoAreTheirGradients() {
        float p = 0.1f;
        float scale = 1f / (1f - p);
        float[] xs = gaussian(13);
        float[] g = gaussian(17);
        Engine engine = Engine.getEngine("PyTorch");
        try (PtNDManager m = (PtNDManager) engine.newBaseManager()) {
            JniUtils.setSeed(5);
            PtNDArray x = (PtNDArray) m.create(xs, new Shape(4, N / 4));
            x.setRequiresGradient(true);
            EagerOps ops = new EagerOps(m, q -> null, true);
            float[] out;
            float[] grad;
            try (GradientCollector collector = engine.newGradientCollector()) {
                PtNDArray y = EagerOps.a(ops.dropout(ops.wrap(x), p));
                assertThat(y.getDataType()).isEqualTo(ai.djl.ndarray.types.DataType.FLOAT32);
                collector.backward(y.mul(m.create(g, new Shape(4, N / 4))).sum());
                out = y.toFloatArray();
                grad = x.getGradient().toFloatArray();
            }
            int kept = 0;
            for (int i = 0; i < N; i++) {
                if (grad[i] == 0f && out[i] == 0f) {
                    continue; // dropped
                }
                kept++;
                assertThat(out[i]).as("kept element %d", i).isEqualTo(xs[i] * scale);
                assertThat(grad[i]).as("gradient %d", i).isEqualTo(g[i] * scale);
            }
            assertThat((double) kept / N).isBetween(1 - p - 0.01, 1 - p + 0.01);
        }
    }

    @Test
    void theSameSeedDrawsTheSameMaskAndTheNextDrawAnother() {
        float[] g = gaussian(5);
        JniUtils.setSeed(42);
        float[] first = dropOnes(0.1f, g)[0];
        float[] next = dropOnes(0.1f, g)[0];
        JniUtils.setSeed(42);
        float[] again = dropOnes(0.1f, g)[0];
        assertThat(again).containsExactly(first);
        assertThat(next).isNotEqualTo(first);
    }

    @Test
    void libtorchsUniformSamplerStillServesWhenAskedAndKeepsTheSameLaw() {
        float[] g = gaussian(7);
        JniUtils.setSeed(9);
        float[] bits = dropOnes(0.3f, g)[0];
        String before = System.getProperty(EagerOps.UNIFORM_DROPOUT);
        System.setProperty(EagerOps.UNIFORM_DROPOUT, "true");
        float[] uniform;
        try {
            JniUtils.setSeed(9);
            uniform = dropOnes(0.3f, g)[0];
        } finally {
            if (before == null) {
                System.clearProperty(EagerOps.UNIFORM_DROPOUT);
            } else {
                System.setProperty(EagerOps.UNIFORM_DROPOUT, before);
            }
        }
        assertThat(uniform).as("the two samplers draw different masks from one seed").isNotEqualTo(bits);
        for (float[] out : new float[][] {bits, uniform}) {
            int dropped = 0;
            for (float v : out) {
                assertThat(v).isIn(0f, 1f / 0.7f);
                dropped += v == 0f ? 1 : 0;
            }
            assertThat((double) dropped / N).isBetween(0.29, 0.31);
        }
    }

    @Test
    void anOddSizedTensorGetsAMaskOfItsOwnShape() {
        try (PtNDManager m = (PtNDManager) Engine.getEngine("PyTorch").newBaseManager()) {
            JniUtils.setSeed(3);
            PtNDArray x = (PtNDArray) m.ones(new Shape(3, 5, 7));
            PtNDArray y = EagerOps.a(new EagerOps(m, q -> null, true).dropout(new EagerOps(m, q -> null, true).wrap(x), 0.5f));
            assertThat(y.getShape()).isEqualTo(new Shape(3, 5, 7));
            float[] v = y.toFloatArray();
            int kept = 0;
            for (float f : v) {
                assertThat(f).isIn(0f, 2f);
                kept += f == 2f ? 1 : 0;
            }
            // 105 draws at 1/2: both all-kept and all-dropped would be a broken sampler
            assertThat(kept).isBetween(20, 85);
        }
    }

    @Test
    void outsideTrainingOrAtZeroItIsTheIdentity() {
        try (PtNDManager m = (PtNDManager) Engine.getEngine("PyTorch").newBaseManager()) {
            Tensor x = new EagerOps(m, q -> null, true).constant(new long[] {2, 2}, new float[] {1, 2, 3, 4});
            assertThat(new EagerOps(m, q -> null, false).dropout(x, 0.5f)).isSameAs(x);
            assertThat(new EagerOps(m, q -> null, true).dropout(x, 0f)).isSameAs(x);
        }
    }
}
