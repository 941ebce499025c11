package dev.attune.engine.pytorch;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.engine.Engine;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.engine.PtNDManager;
import ai.djl.pytorch.jni.JniUtils;
import dev.attune.ops.Ops;
import dev.attune.ops.Tensor;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The fused attention of inference against the composite of the ops contract on the same inputs:
 * with and without a padding mask, with a per-head bias (T5's position bias) and scale 1, and with
 * fewer queries than keys (a generation step against a cache).
 */
class FusedAttentionTest {
    static float[] random(Random rnd, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) rnd.nextGaussian();
        }
        return v;
    }

    /** Max |fused - composite| for q [B,H,Tq,D], k and v [B,H,Tk,D] and the given bias. */
    static double difference(int b, int h, int tq, int tk, int d, long[] biasShape, float[] bias, float scale) {
        Engine.getEngine("PyTorch");
        boolean grad = JniUtils.isGradMode();
        JniUtils.setGradMode(false);
        try (PtNDManager m = (PtNDManager) Engine.getEngine("PyTorch").newBaseManager()) {
            Random rnd = new Random(7);
            EagerOps inference = new EagerOps(m, p -> null, false);
            Tensor q = inference.constant(new long[] {b, h, tq, d}, random(rnd, b * h * tq * d));
            Tensor k = inference.constant(new long[] {b, h, tk, d}, random(rnd, b * h * tk * d));
            Tensor v = inference.constant(new long[] {b, h, tk, d}, random(rnd, b * h * tk * d));
            Tensor mask = bias == null ? null : inference.constant(biasShape, bias);
            PtNDArray fused = FusedAttention.apply(m, EagerOps.a(q), EagerOps.a(k), EagerOps.a(v),
                    mask == null ? null : EagerOps.a(mask), scale);
            assertThat(fused).as("libtorch loaded the fused attention module").isNotNull();
            assertThat(fused.getShape()).isEqualTo(new Shape(b, h, tq, d));
            // the eval-mode ops route through the fused kernel
            PtNDArray viaOps = EagerOps.a(inference.attention(q, k, v, mask, scale, 0.1f));
            assertThat(viaOps.sub(fused).abs().max().getFloat()).isEqualTo(0f);
            // the composite of the contract, which the training ops run (no dropout here, so no randomness)
            Ops composite = new EagerOps(m, p -> null, true);
            PtNDArray reference = EagerOps.a(composite.attention(q, k, v, mask, scale, 0f));
            return reference.sub(fused).abs().max().getFloat();
        } finally {
            JniUtils.setGradMode(grad);
        }
    }

    static float[] paddingMask(int b, int tk, int... lengths) {
        float[] bias = new float[b * tk];
        for (int i = 0; i < b; i++) {
            for (int j = lengths[i]; j < tk; j++) {
                bias[i * tk + j] = -Float.MAX_VALUE;
            }
        }
        return bias;
    }

    @Test
    void unmaskedAttentionMatchesTheComposite() {
        assertThat(difference(2, 4, 9, 9, 16, null, null, 0.25f)).isLessThan(1e-6);
    }

    @Test
    void paddingMaskMatchesTheComposite() {
        float[] bias = paddingMask(3, 7, 7, 4, 1);
        assertThat(difference(3, 2, 7, 7, 8, new long[] {3, 1, 1, 7}, bias, (float) (1 / Math.sqrt(8)))).isLessThan(1e-6);
    }

    @Test
    void perHeadBiasWithScaleOneMatchesTheComposite() {
        Random rnd = new Random(3);
        float[] bias = random(rnd, 2 * 5 * 5);
        assertThat(difference(2, 2, 5, 5, 4, new long[] {1, 2, 5, 5}, bias, 1f)).isLessThan(1e-6);
    }

    @Test
    void oneQueryAgainstACacheOfKeysMatchesTheComposite() {
        float[] bias = paddingMask(2, 6, 6, 3);
        assertThat(difference(2, 2, 1, 6, 8, new long[] {2, 1, 1, 6}, bias, 0.5f)).isLessThan(1e-6);
    }

    @Test
    void theArchiveIsATorchScriptModuleCallingTheFusedKernel() {
        String source = ScriptModule.source(FusedAttention.CLASS_NAME, FusedAttention.forward(0.125f, true));
        assertThat(source).startsWith("class FusedAttention(Module):")
                .contains("torch.scaled_dot_product_attention(q, k, v, mask, 0., False, scale=0.125)");
        assertThat(FusedAttention.forward(1f, false)).contains("(q, k, v, None, 0., False, scale=1.0)");
        byte[] zip = ScriptModule.archive(FusedAttention.CLASS_NAME, FusedAttention.forward(0.125f, true));
        assertThat(zip[0]).isEqualTo((byte) 'P');
        assertThat(zip[1]).isEqualTo((byte) 'K');
    }
}
