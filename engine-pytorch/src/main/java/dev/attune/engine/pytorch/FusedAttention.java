package dev.attune.engine.pytorch;

import ai.djl.ndarray.NDManager;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.engine.PtNDManager;
import ai.djl.pytorch.engine.PtSymbolBlock;
import ai.djl.pytorch.jni.IValue;
import ai.djl.pytorch.jni.IValueUtils;
import ai.djl.pytorch.jni.JniUtils;
import dev.attune.internal.torch.TorchArchiveWriter;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * libtorch's fused {@code scaled_dot_product_attention} for inference. DJL's JNI layer has no
 * binding for it, but it can run TorchScript, so this class writes a TorchScript archive whose one
 * method calls it (the archive is a zip of the module's pickled state and its TorchScript source,
 * composed here, not produced by Python) and loads it through DJL.
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

    /** Owns the modules; lives as long as the class. */
    private static final NDManager MODULES = NDManager.newBaseManager("PyTorch");

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
        IValue[] in = bias == null
                ? new IValue[] {IValue.from(q), IValue.from(k), IValue.from(v)}
                : new IValue[] {IValue.from(q), IValue.from(k), IValue.from(v), IValue.from(bias)};
        try (IValue out = IValueUtils.forward(module, in)) {
            return out.toTensor(step);
        } finally {
            for (IValue i : in) {
                i.close();
            }
        }
    }

    /** @return the loaded module, or null (and the fused path off for good) if libtorch refuses it */
    private static PtSymbolBlock load(Key key) {
        try {
            return JniUtils.loadModule((PtNDManager) MODULES,
                    new ByteArrayInputStream(archive(key.scale(), key.masked())), false, false);
        } catch (IOException | RuntimeException e) {
            unavailable = true;
            LOG.warn("libtorch did not load the fused attention module ({}); using the composite attention",
                    e.toString());
            return null;
        }
    }

    /** The TorchScript source of the module: one {@code forward} calling the fused kernel. */
    static String source(float scale, boolean masked) {
        String mask = masked ? "mask" : "None";
        String maskParam = masked ? ", mask: Tensor" : "";
        return "class FusedAttention(Module):\n"
                + "  __parameters__ = []\n"
                + "  __buffers__ = []\n"
                + "  training : bool\n"
                + "  def forward(self: __torch__.FusedAttention, q: Tensor, k: Tensor, v: Tensor" + maskParam
                + ") -> Tensor:\n"
                + "    return torch.scaled_dot_product_attention(q, k, v, " + mask + ", 0., False, scale="
                + Double.toString(scale) + ")\n";
    }

    /** A TorchScript archive (format version 3) holding the module in eval mode. */
    static byte[] archive(float scale, boolean masked) {
        // data.pkl, pickle protocol 2: an instance of __torch__.FusedAttention whose state is {"training": False}
        ByteArrayOutputStream state = new ByteArrayOutputStream();
        state.write(0x80);
        state.write(2);
        state.writeBytes("c__torch__\nFusedAttention\n".getBytes(StandardCharsets.US_ASCII));
        state.write(')'); // empty tuple of constructor arguments
        state.write(0x81); // NEWOBJ
        state.write('}'); // empty dict
        byte[] name = "training".getBytes(StandardCharsets.US_ASCII);
        state.write('X'); // BINUNICODE: 4-byte little-endian length, then UTF-8
        state.write(name.length);
        state.write(0);
        state.write(0);
        state.write(0);
        state.writeBytes(name);
        state.write(0x89); // NEWFALSE
        state.write('s'); // SETITEM
        state.write('b'); // BUILD
        state.write('.'); // STOP
        Map<String, byte[]> records = new LinkedHashMap<>();
        records.put("data.pkl", state.toByteArray());
        records.put("code/__torch__.py", source(scale, masked).getBytes(StandardCharsets.UTF_8));
        records.put("constants.pkl", new byte[] {(byte) 0x80, 2, ')', '.'}); // an empty tuple
        return TorchArchiveWriter.write("fused_attention", records);
    }
}
