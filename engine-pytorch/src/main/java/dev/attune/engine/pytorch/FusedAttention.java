package dev.attune.engine.pytorch;

import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.engine.PtNDManager;
import ai.djl.pytorch.engine.PtSymbolBlock;
import java.io.IOException;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * libtorch's fused {@code scaled_dot_product_attention} for inference. DJL's JNI layer has no
 * binding for it, so it runs as a {@link ScriptModule}.
 *
 * <p>The fused kernel never materialises the {@code [B, heads, Tq, Tk]} scores and reads the
 * strided head views without copies, which is where eager attention spends its time on CPU. The
 * scale is written into the script as a literal, so one module is kept per (scale, masked) pair for
 * the life of the JVM. If libtorch ever refuses the archive, the engine logs it once and falls back
 * to the composite for good.
 *
 * <p>The system property {@link PyTorchEngineProvider#DISABLE_FUSED_ATTENTION}{@code =true} turns it
 * off (read on each call), for comparing the two paths or ruling the kernel out when chasing a
 * numerical difference.
 *
 * <p>Only used when no gradient is needed: DJL runs TorchScript methods under no-grad, and the
 * training path keeps the composite (whose dropout and op order the resume tests pin down).
 */
final class FusedAttention {
    private static final Logger LOG = LoggerFactory.getLogger(FusedAttention.class);

    static final String CLASS_NAME = "FusedAttention";

    /** One module per scale literal and mask presence. */
    private record Key(float scale, boolean masked) {}

    private static final Map<Key, PtSymbolBlock> CACHE = new ConcurrentHashMap<>();

    private static volatile boolean unavailable;

    private FusedAttention() {}

    /**
     * @param bias additive bias broadcastable to {@code [B, heads, Tq, Tk]}, or null
     * @return the attended values on {@code step}, or null when the fused path is switched off or
     *     libtorch refused the module (the caller then runs the composite)
     */
    static PtNDArray apply(PtNDManager step, PtNDArray q, PtNDArray k, PtNDArray v, PtNDArray bias, float scale) {
        if (unavailable || Boolean.getBoolean(PyTorchEngineProvider.DISABLE_FUSED_ATTENTION)) {
            return null;
        }
        PtSymbolBlock module = CACHE.computeIfAbsent(new Key(scale, bias != null), FusedAttention::load);
        if (module == null) {
            return null;
        }
        return bias == null ? ScriptModule.call(module, step, q, k, v) : ScriptModule.call(module, step, q, k, v, bias);
    }

    /** @return the loaded module, or null (and the fused path off for good) if libtorch refuses it */
    private static PtSymbolBlock load(Key key) {
        try {
            return ScriptModule.load(CLASS_NAME, forward(key.scale(), key.masked()));
        } catch (IOException | RuntimeException e) {
            unavailable = true;
            LOG.warn("libtorch did not load the fused attention module ({}); using the composite attention",
                    e.toString());
            return null;
        }
    }

    /** The module's {@code forward}: the fused kernel with the scale as a literal. */
    static String forward(float scale, boolean masked) {
        String mask = masked ? "mask" : "None";
        String maskParam = masked ? ", mask: Tensor" : "";
        return "  def forward(self: __torch__." + CLASS_NAME + ", q: Tensor, k: Tensor, v: Tensor" + maskParam
                + ") -> Tensor:\n"
                + "    return torch.scaled_dot_product_attention(q, k, v, " + mask + ", 0., False, scale="
                + Double.toString(scale) + ")\n";
    }
}
