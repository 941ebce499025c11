package dev.attune.engine.pytorch;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.engine.PtNDManager;
import ai.djl.pytorch.jni.JniUtils;
import dev.attune.ops.Ops;
import dev.attune.ops.Tensor;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * A training segment (one transformer layer) run without gradient checkpointing keeps only its
 * output: the handles of its intermediates are closed when it returns, while autograd keeps what the
 * backward pass needs, so the gradients are those of the same computation run unscoped.
 */
class SegmentScopeTest {

    @org.junit.jupiter.api.BeforeAll
    static void loadLibtorch() {
        ai.djl.engine.Engine.getEngine("PyTorch"); // JniUtils needs the natives loaded
    }

    /** Eager ops that remember every result they made. */
    private static final class Recording extends EagerOps {
        final List<PtNDArray> made = new ArrayList<>();

        Recording(PtNDManager step) {
            super(step, p -> {
                throw new AssertionError("no parameters here");
            }, true);
        }

        @Override
        T own(PtNDArray r) {
            made.add(r);
            return super.own(r);
        }
    }

    /** A layer-like segment: a product, a GELU, a residual sum, a layer norm and a dropout. */
    private static Tensor layer(Ops o, Tensor h, Tensor w, Tensor gamma, Tensor beta) {
        Tensor inner = o.gelu(o.matmul(h, w));
        Tensor sum = o.add(h, inner);
        return o.dropout(o.layerNorm(sum, gamma, beta, 1e-5f), 0.1f);
    }

    @Test
    void aSegmentsIntermediatesAreClosedWhenItReturnsAndTheGradientsStayTheSame() {
        boolean grad = JniUtils.isGradMode();
        JniUtils.setGradMode(true);
        try (PtNDManager root = (PtNDManager) ai.djl.ndarray.NDManager.newBaseManager(ai.djl.Device.cpu(), "PyTorch")) {
            float[][] gradients = new float[2][];
            for (int run = 0; run < 2; run++) {
                try (PtNDManager step = (PtNDManager) root.newSubManager()) {
                    JniUtils.setSeed(7);
                    PtNDArray x = (PtNDArray) step.randomNormal(new Shape(2, 3, 4));
                    PtNDArray w = (PtNDArray) step.randomNormal(new Shape(4, 4));
                    PtNDArray gamma = (PtNDArray) step.ones(new Shape(4));
                    PtNDArray beta = (PtNDArray) step.zeros(new Shape(4));
                    JniUtils.attachGradient(x, true);
                    JniUtils.attachGradient(w, true);
                    Recording ops = new Recording(step);
                    Tensor in = ops.wrap(x);
                    Tensor wt = ops.wrap(w);
                    Tensor g = ops.wrap(gamma);
                    Tensor b = ops.wrap(beta);
                    int before = ops.made.size();
                    Tensor out;
                    if (run == 0) {
                        // the reference: the same computation outside any segment, the generator reseeded as
                        // checkpoint() reseeds it, so both draw the same dropout mask
                        JniUtils.setSeed(ops.drawSeed());
                        out = layer(ops, in, wt, g, b);
                    } else {
                        out = ops.checkpoint((o, h) -> layer(o, h, wt, g, b), in);
                    }
                    PtNDArray y = EagerOps.a(out);
                    assertThat(y.isReleased()).isFalse();
                    assertThat(x.isReleased()).as("the segment's input belongs to the caller").isFalse();
                    List<PtNDArray> open = new ArrayList<>();
                    for (PtNDArray r : ops.made.subList(before, ops.made.size())) {
                        if (!r.isReleased() && r != y) {
                            open.add(r);
                        }
                    }
                    if (run == 0) {
                        assertThat(open).as("unscoped, the step holds every intermediate").hasSizeGreaterThanOrEqualTo(4);
                    } else {
                        assertThat(open).as("intermediates still open after the segment returned").isEmpty();
                        assertThat(y.getManager()).isSameAs(step);
                    }
                    JniUtils.backward((PtNDArray) y.mul(y).sum(), (PtNDArray) step.ones(new Shape()), false, false);
                    gradients[run] = concat(JniUtils.getGradient(x).toFloatArray(), JniUtils.getGradient(w).toFloatArray());
                }
            }
            assertThat(gradients[0]).isNotEmpty();
            assertThat(gradients[1]).as("gradients through the scoped segment").containsExactly(gradients[0]);
        } finally {
            JniUtils.setGradMode(grad);
        }
    }

    @Test
    void aSegmentThatReturnsItsInputLeavesItOpen() {
        boolean grad = JniUtils.isGradMode();
        JniUtils.setGradMode(true);
        try (PtNDManager root = (PtNDManager) ai.djl.ndarray.NDManager.newBaseManager(ai.djl.Device.cpu(), "PyTorch");
                PtNDManager step = (PtNDManager) root.newSubManager()) {
            Recording ops = new Recording(step);
            PtNDArray x = (PtNDArray) step.randomNormal(new Shape(2, 3));
            Tensor out = ops.checkpoint((o, h) -> h, ops.wrap(x));
            assertThat(EagerOps.a(out)).isSameAs(x);
            assertThat(x.isReleased()).isFalse();
            assertThat(x.getManager()).isSameAs(step);
        } finally {
            JniUtils.setGradMode(grad);
        }
    }

    private static float[] concat(float[] a, float[] b) {
        float[] out = new float[a.length + b.length];
        System.arraycopy(a, 0, out, 0, a.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }
}
