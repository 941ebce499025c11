package dev.attune.engine.pytorch;

import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.engine.PtNDManager;
import ai.djl.pytorch.jni.JniUtils;
import dev.attune.engine.Batch;
import dev.attune.engine.OptimizerSettings;
import dev.attune.engine.TrainingSession;
import dev.attune.error.EngineException;
import dev.attune.ops.Parameter;
import dev.attune.ops.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Training on libtorch: autograd accumulates gradients across {@link #forwardBackward} calls; {@link
 * #step} clips them to a global L2 norm and applies AdamW with the exact arithmetic of {@code
 * torch.optim.AdamW} (decoupled decay {@code p *= 1 - lr*wd}, bias-corrected moments, {@code eps}
 * added after dividing {@code sqrt(v)} by {@code sqrt(1 - beta2^t)}). DJL's optimizers are not used:
 * they decay every parameter and clip per element.
 */
final class PtTrainingSession implements TrainingSession {
    private final PtLoweredModel model;
    private final OptimizerSettings settings;
    private final PtNDManager state;
    private final List<Slot> slots = new ArrayList<>();
    private long steps;
    private boolean open = true;
    private boolean hasGradients;

    /** One trainable parameter and its Adam moments. */
    private record Slot(Parameter parameter, PtNDArray value, PtNDArray m, PtNDArray v) {}

    PtTrainingSession(PtLoweredModel model, OptimizerSettings settings) {
        this.model = model;
        this.settings = settings;
        this.state = (PtNDManager) model.root().newSubManager();
        for (Parameter p : model.definition().parameters().all()) {
            PtNDArray value = model.value(p);
            if (settings.frozen().contains(p.name())) {
                JniUtils.attachGradient(value, false);
                continue;
            }
            JniUtils.attachGradient(value, true);
            PtNDArray m = (PtNDArray) state.zeros(value.getShape());
            PtNDArray v = (PtNDArray) state.zeros(value.getShape());
            slots.add(new Slot(p, value, m, v));
        }
    }

    boolean isOpen() {
        return open;
    }

    @Override
    public float forwardBackward(Batch batch, float lossScale) {
        ensureOpen();
        boolean grad = JniUtils.isGradMode();
        JniUtils.setGradMode(true);
        try (PtNDManager step = (PtNDManager) model.root().newSubManager()) {
            EagerOps ops = new EagerOps(step, model::value, true);
            Map<String, Tensor> out = model.forward(ops, step, batch);
            Tensor lossT = out.get("loss");
            if (lossT == null) {
                throw new EngineException(
                        model.definition().architecture() + " returned no 'loss': the batch needs labels");
            }
            PtNDArray loss = EagerOps.a(lossT);
            float value = loss.toFloatArray()[0];
            PtNDArray seed = (PtNDArray) step.full(loss.getShape(), lossScale, loss.getDataType());
            JniUtils.backward(loss, seed, false, false);
            hasGradients = true;
            return value;
        } finally {
            JniUtils.setGradMode(grad);
        }
    }

    @Override
    public float step(double learningRate) {
        ensureOpen();
        if (!hasGradients) {
            throw new IllegalStateException("step() without a forwardBackward() since the last step");
        }
        boolean grad = JniUtils.isGradMode();
        JniUtils.setGradMode(false);
        try (PtNDManager tmp = (PtNDManager) state.newSubManager()) {
            List<PtNDArray> grads = new ArrayList<>(slots.size());
            PtNDArray sumSq = null;
            for (Slot s : slots) {
                PtNDArray g = JniUtils.getGradient(s.value());
                if (g == null) {
                    grads.add(null);
                    continue;
                }
                g.attach(tmp);
                grads.add(g);
                PtNDArray n = JniUtils.norm(g, 2, allAxes(g), false);
                n.attach(tmp);
                PtNDArray sq = JniUtils.mul(n, n);
                sq.attach(tmp);
                if (sumSq == null) {
                    sumSq = sq;
                } else {
                    PtNDArray next = JniUtils.add(sumSq, sq);
                    next.attach(tmp);
                    sumSq = next;
                }
            }
            float norm = sumSq == null ? 0f : (float) Math.sqrt(sumSq.toFloatArray()[0]);
            if (!Float.isFinite(norm)) {
                zeroGradients();
                steps++;
                return norm;
            }
            double clip = 1.0;
            if (settings.maxGradNorm() > 0) {
                clip = Math.min(1.0, settings.maxGradNorm() / (norm + 1e-6));
            }
            steps++;
            double bc1 = 1 - Math.pow(settings.beta1(), steps);
            double bc2 = 1 - Math.pow(settings.beta2(), steps);
            float b1 = (float) settings.beta1();
            float b2 = (float) settings.beta2();
            PtNDArray clipS = scalar(tmp, (float) clip);
            PtNDArray oneMinusB1 = scalar(tmp, 1 - b1);
            PtNDArray oneMinusB2 = scalar(tmp, 1 - b2);
            PtNDArray b1S = scalar(tmp, b1);
            PtNDArray b2S = scalar(tmp, b2);
            PtNDArray decayS = scalar(tmp, (float) (1 - learningRate * settings.weightDecay()));
            PtNDArray sqrtBc2 = scalar(tmp, (float) Math.sqrt(bc2));
            PtNDArray epsS = scalar(tmp, (float) settings.epsilon());
            PtNDArray stepSize = scalar(tmp, (float) (learningRate / bc1));
            for (int i = 0; i < slots.size(); i++) {
                Slot s = slots.get(i);
                PtNDArray g = grads.get(i);
                if (g == null) {
                    continue;
                }
                if (clip < 1.0) {
                    JniUtils.muli(g, clipS);
                }
                if (s.parameter().decay() && settings.weightDecay() != 0) {
                    JniUtils.muli(s.value(), decayS);
                }
                // m = b1*m + (1-b1)*g ; v = b2*v + (1-b2)*g*g
                JniUtils.muli(s.m(), b1S);
                PtNDArray gm = JniUtils.mul(g, oneMinusB1);
                gm.attach(tmp);
                JniUtils.addi(s.m(), gm);
                JniUtils.muli(s.v(), b2S);
                PtNDArray gg = JniUtils.mul(g, g);
                gg.attach(tmp);
                JniUtils.muli(gg, oneMinusB2);
                JniUtils.addi(s.v(), gg);
                // p -= lr/bc1 * m / (sqrt(v)/sqrt(bc2) + eps)
                PtNDArray denom = JniUtils.sqrt(s.v());
                denom.attach(tmp);
                JniUtils.divi(denom, sqrtBc2);
                JniUtils.addi(denom, epsS);
                PtNDArray update = JniUtils.div(s.m(), denom);
                update.attach(tmp);
                JniUtils.muli(update, stepSize);
                JniUtils.subi(s.value(), update);
                gm.close();
                gg.close();
                denom.close();
                update.close();
            }
            zeroGradients();
            return norm;
        } finally {
            JniUtils.setGradMode(grad);
        }
    }

    private void zeroGradients() {
        for (Slot s : slots) {
            JniUtils.zeroGrad(s.value());
        }
        hasGradients = false;
    }

    private static PtNDArray scalar(PtNDManager m, float v) {
        return (PtNDArray) m.create(v);
    }

    private static int[] allAxes(PtNDArray a) {
        int[] axes = new int[a.getShape().dimension()];
        for (int i = 0; i < axes.length; i++) {
            axes[i] = i;
        }
        return axes;
    }

    @Override
    public long steps() {
        return steps;
    }

    private void ensureOpen() {
        if (!open) {
            throw new IllegalStateException("training session is closed");
        }
    }

    @Override
    public void close() {
        if (!open) {
            return;
        }
        open = false;
        for (Slot s : slots) {
            JniUtils.attachGradient(s.value(), false);
        }
        state.close();
    }
}
