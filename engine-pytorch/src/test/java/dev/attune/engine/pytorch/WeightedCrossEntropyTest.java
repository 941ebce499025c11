package dev.attune.engine.pytorch;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import ai.djl.engine.Engine;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.engine.PtNDManager;
import ai.djl.pytorch.jni.JniUtils;
import dev.attune.ops.DType;
import dev.attune.ops.Tensor;
import dev.attune.ops.TensorData;
import org.junit.jupiter.api.Test;

/**
 * The class-weighted cross-entropy of the ops contract, lowered to libtorch, against the formula of
 * PyTorch's {@code cross_entropy(weight=w, ignore_index=-100)} computed by hand in double precision.
 */
class WeightedCrossEntropyTest {
    static final float[] LOGITS = {2f, 0f, -1f, 0f, 1f, 0.5f, 1f, 1f, 3f, -0.5f, 0.25f, 0f}; // [4, 3]
    static final long[] LABELS = {0, 1, -100, 2};
    static final float[] WEIGHTS = {1f, 3f, 0.5f};

    static double expected(float[] weights) {
        double num = 0;
        double den = 0;
        for (int i = 0; i < LABELS.length; i++) {
            if (LABELS[i] == -100) {
                continue;
            }
            double z = 0;
            for (int c = 0; c < 3; c++) {
                z += Math.exp(LOGITS[i * 3 + c]);
            }
            double nll = Math.log(z) - LOGITS[i * 3 + (int) LABELS[i]];
            double w = weights == null ? 1 : weights[(int) LABELS[i]];
            num += w * nll;
            den += w;
        }
        return num / den;
    }

    static float loss(float[] weights) {
        try (PtNDManager m = (PtNDManager) Engine.getEngine("PyTorch").newBaseManager()) {
            EagerOps ops = new EagerOps(m, p -> null, true);
            Tensor logits = ops.constant(new long[] {4, 3}, LOGITS);
            Tensor labels = ops.wrap((PtNDArray) m.create(LABELS));
            Tensor loss = weights == null ? ops.crossEntropy(logits, labels, -100)
                    : ops.crossEntropy(logits, labels, -100, weights);
            TensorData out = PtLoweredModel.toHost(EagerOps.a(loss));
            assertThat(out.dtype()).isEqualTo(DType.FLOAT32);
            return out.buffer().getFloat(0);
        }
    }

    @Test
    void weightsScaleEachEntryByItsGoldClassAndNormaliseByTheirSum() {
        Engine.getEngine("PyTorch"); // loads the natives
        boolean grad = JniUtils.isGradMode();
        float weighted = loss(WEIGHTS);
        assertThat((double) weighted).isCloseTo(expected(WEIGHTS), within(1e-6));
        // not the unweighted mean: the weights change the value
        assertThat(Math.abs(expected(WEIGHTS) - expected(null))).isGreaterThan(0.01);
        assertThat((double) loss(null)).isCloseTo(expected(null), within(1e-6));
        // equal weights give the unweighted loss
        assertThat((double) loss(new float[] {2f, 2f, 2f})).isCloseTo(expected(null), within(1e-6));
        assertThat(JniUtils.isGradMode()).isEqualTo(grad);
    }
}
