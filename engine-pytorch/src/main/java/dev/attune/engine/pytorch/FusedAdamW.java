package dev.attune.engine.pytorch;

import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.engine.PtSymbolBlock;
import ai.djl.pytorch.jni.IValue;
import ai.djl.pytorch.jni.IValueUtils;
import ai.djl.pytorch.jni.JniUtils;
import java.io.IOException;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * libtorch's fused AdamW step ({@code torch._fused_adamw_}, what {@code torch.optim.AdamW(fused=True)}
 * runs) on a list of parameters, as a {@link ScriptModule}: DJL has no binding for it. One pass reads the
 * value, gradient and both moments and writes value and moments, with no temporaries; the composite
 * of in-place ops it replaces made about a dozen passes over BERT-base's 110M parameters and kept up
 * to two parameter-sized temporaries alive.
 *
 * <p>TorchScript drops a call whose only effect is on tensors inside lists it built, so the module
 * returns what it wrote. The kernel walks storage linearly, so non-contiguous tensors are stepped
 * through contiguous copies. If libtorch refuses the module, the engine logs it once and the
 * optimizer composes the step from in-place ops for good. The system property {@link #DISABLE}
 * {@code =true} turns it off (read on each call), to compare the two.
 */
final class FusedAdamW {
    private static final Logger LOG = LoggerFactory.getLogger(FusedAdamW.class);

    /** System property: {@code true} composes every AdamW step from in-place ops instead. */
    static final String DISABLE = "attune.pytorch.disableFusedAdamW";

    static final String CLASS_NAME = "FusedAdamW";
    static final String SCALED_CLASS_NAME = "FusedAdamWScaled";

    private static volatile PtSymbolBlock plain;
    private static volatile PtSymbolBlock scaled;
    private static volatile boolean unavailable;
    /** Steps the kernel applied, over the JVM's life (tests check the fused path ran). */
    static final java.util.concurrent.atomic.LongAdder APPLIED = new java.util.concurrent.atomic.LongAdder();

    private FusedAdamW() {}

    /**
     * Applies one step in place to one parameter.
     *
     * @param step the step count, a float32 scalar on the parameter's device
     * @param divisor what the gradient is divided by first (float32 scalar), or null for none
     * @return false when the fused path is off or refused by libtorch: nothing changed, the caller
     *     composes the step
     */
    static boolean apply(PtNDArray value, PtNDArray gradient, PtNDArray m, PtNDArray v, PtNDArray step,
            PtNDArray divisor, double lr, double weightDecay, double beta1, double beta2, double eps) {
        return applyAll(List.of(value), List.of(gradient), List.of(m), List.of(v), step, divisor, lr, weightDecay,
                beta1, beta2, eps);
    }

    /** @return whether the kernel will run: not switched off, and libtorch took the module */
    static boolean available() {
        return !unavailable && !Boolean.getBoolean(DISABLE) && module(false) != null && module(true) != null;
    }

    /**
     * Applies one step in place to parameters that share their hypers, in one call: the kernel loops
     * over the lists natively, so a step costs one TorchScript call per group instead of one per
     * parameter (73 at bert-mini, where the calls' overhead was a visible share of a step).
     * Non-contiguous tensors go through contiguous copies that are copied back.
     *
     * @param step the step count, a float32 scalar on the parameters' device
     * @param divisor what the gradients are divided by first (float32 scalar), or null for none
     * @return false when the fused path is off or refused by libtorch: nothing changed
     */
    static boolean applyAll(List<PtNDArray> values, List<PtNDArray> gradients, List<PtNDArray> ms, List<PtNDArray> vs,
            PtNDArray step, PtNDArray divisor, double lr, double weightDecay, double beta1, double beta2, double eps) {
        if (values.isEmpty()) {
            return true;
        }
        if (unavailable || Boolean.getBoolean(DISABLE)) {
            return false;
        }
        PtSymbolBlock module = module(divisor != null);
        if (module == null) {
            return false;
        }
        IValue[] in = new IValue[divisor == null ? 10 : 11];
        int i = 0;
        // a one-op script gains nothing from the profiling executor, which would re-specialise it for
        // every parameter shape
        JniUtils.setGraphExecutorOptimize(false);
        try {
            in[i++] = IValue.listFrom(values.toArray(new PtNDArray[0]));
            in[i++] = IValue.listFrom(gradients.toArray(new PtNDArray[0]));
            in[i++] = IValue.listFrom(ms.toArray(new PtNDArray[0]));
            in[i++] = IValue.listFrom(vs.toArray(new PtNDArray[0]));
            in[i++] = IValue.from(step);
            if (divisor != null) {
                in[i++] = IValue.from(divisor);
            }
            in[i++] = IValue.from(lr);
            in[i++] = IValue.from(weightDecay);
            in[i++] = IValue.from(beta1);
            in[i++] = IValue.from(beta2);
            in[i++] = IValue.from(eps);
            try (IValue out = IValueUtils.forward(module, in)) {
                IValue[] written = out.toIValueArray();
                for (IValue w : written) {
                    w.close();
                }
                if (written.length == 0) {
                    return false;
                }
                APPLIED.add(values.size());
                return true;
            }
        } finally {
            JniUtils.setGraphExecutorOptimize(GRAPH_OPTIMIZER);
            for (IValue x : in) {
                if (x != null) {
                    x.close();
                }
            }
        }
    }

    /** DJL's setting for the executor (its engine applies it at start), restored after each call. */
    private static final boolean GRAPH_OPTIMIZER =
            Boolean.parseBoolean(System.getProperty("ai.djl.pytorch.graph_optimizer", "true"));

    private static PtSymbolBlock module(boolean withDivisor) {
        PtSymbolBlock m = withDivisor ? scaled : plain;
        if (m != null) {
            return m;
        }
        synchronized (FusedAdamW.class) {
            m = withDivisor ? scaled : plain;
            if (m == null && !unavailable) {
                String name = withDivisor ? SCALED_CLASS_NAME : CLASS_NAME;
                try {
                    m = ScriptModule.load(name, forward(name, withDivisor));
                    if (withDivisor) {
                        scaled = m;
                    } else {
                        plain = m;
                    }
                } catch (IOException | RuntimeException e) {
                    unavailable = true;
                    LOG.warn("libtorch did not load the fused AdamW module ({}); composing AdamW from in-place ops",
                            e.toString());
                    return null;
                }
            }
            return m;
        }
    }

    /**
     * The module's {@code forward}: the fused kernel over lists of parameters sharing their hypers,
     * returning the tensors it wrote (which keeps TorchScript from dropping the call). A
     * non-contiguous value, moment or gradient is stepped through a contiguous copy, copied back.
     */
    static String forward(String className, boolean withDivisor) {
        return "  def forward(self: __torch__." + className + ", ps: List[Tensor], gs: List[Tensor], ms: List[Tensor],"
                + " vs: List[Tensor], step: Tensor" + (withDivisor ? ", divisor: Tensor" : "")
                + ", lr: float, wd: float, b1: float, b2: float, eps: float) -> List[Tensor]:\n"
                + "    cp = [p.contiguous() for p in ps]\n"
                + "    cg = [g.contiguous() for g in gs]\n"
                + "    cm = [m.contiguous() for m in ms]\n"
                + "    cv = [v.contiguous() for v in vs]\n"
                + "    torch._fused_adamw_(cp, cg, cm, cv, annotate(List[Tensor], []), [step for p in ps], lr=lr,"
                + " beta1=b1, beta2=b2, weight_decay=wd, eps=eps, amsgrad=False, maximize=False"
                + (withDivisor ? ", grad_scale=divisor" : "") + ")\n"
                + "    for i in range(len(ps)):\n"
                + "      if not ps[i].is_contiguous():\n"
                + "        ps[i].copy_(cp[i])\n"
                + "      if not ms[i].is_contiguous():\n"
                + "        ms[i].copy_(cm[i])\n"
                + "      if not vs[i].is_contiguous():\n"
                + "        vs[i].copy_(cv[i])\n"
                + "    return cp + cm + cv\n";
    }
}
