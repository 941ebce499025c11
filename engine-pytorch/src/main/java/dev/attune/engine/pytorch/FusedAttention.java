package dev.attune.engine.pytorch;

import ai.djl.ndarray.NDManager;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.engine.PtNDManager;
import ai.djl.pytorch.engine.PtSymbolBlock;
import ai.djl.pytorch.jni.IValue;
import ai.djl.pytorch.jni.IValueUtils;
import ai.djl.pytorch.jni.JniUtils;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.zip.CRC32;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;
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
 * <p>The system property {@code attune.pytorch.disableFusedAttention=true} turns it off (read on each call), for
 * comparing the two paths or ruling the kernel out when chasing a numerical difference.
 *
 * <p>Only used when no gradient is needed: DJL runs TorchScript methods under no-grad, and the
 * training path keeps the composite (whose dropout and op order the resume tests pin down).
 */
final class FusedAttention {
    private static final Logger LOG = LoggerFactory.getLogger(FusedAttention.class);

    /** Owns the modules; lives as long as the class. */
    private static final NDManager MODULES = NDManager.newBaseManager("PyTorch");

    private static final Map<Long, PtSymbolBlock> CACHE = new ConcurrentHashMap<>();

    /** System property that, set to {@code true}, makes inference use the composite attention. */
    static final String DISABLE_PROPERTY = "attune.pytorch.disableFusedAttention";

    private static volatile boolean unavailable;

    private FusedAttention() {}

    /** @return whether the fused kernel can be used (false once libtorch refused the module) */
    static boolean available() {
        return !unavailable && !Boolean.getBoolean(DISABLE_PROPERTY);
    }

    /**
     * @param bias additive bias broadcastable to {@code [B, heads, Tq, Tk]}, or null
     * @return the attended values on {@code step}, or null when the fused module is unavailable
     */
    static PtNDArray apply(PtNDManager step, PtNDArray q, PtNDArray k, PtNDArray v, PtNDArray bias, float scale) {
        PtSymbolBlock module = module(scale, bias != null);
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

    private static PtSymbolBlock module(float scale, boolean masked) {
        if (unavailable) {
            return null;
        }
        long key = ((long) Float.floatToIntBits(scale) << 1) | (masked ? 1 : 0);
        PtSymbolBlock cached = CACHE.get(key);
        if (cached != null) {
            return cached;
        }
        synchronized (CACHE) {
            cached = CACHE.get(key);
            if (cached == null) {
                try {
                    byte[] archive = archive(scale, masked);
                    cached = JniUtils.loadModule(
                            (PtNDManager) MODULES, new ByteArrayInputStream(archive), false, false);
                    CACHE.put(key, cached);
                } catch (IOException | RuntimeException e) {
                    unavailable = true;
                    LOG.warn("libtorch did not load the fused attention module ({}); using the composite attention",
                            e.toString());
                    return null;
                }
            }
            return cached;
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
        ByteArrayOutputStream zip = new ByteArrayOutputStream();
        try (ZipOutputStream z = new ZipOutputStream(zip)) {
            stored(z, "fused_attention/data.pkl", state.toByteArray());
            stored(z, "fused_attention/code/__torch__.py", source(scale, masked).getBytes(StandardCharsets.UTF_8));
            stored(z, "fused_attention/constants.pkl", new byte[] {(byte) 0x80, 2, ')', '.'});
            stored(z, "fused_attention/version", "3\n".getBytes(StandardCharsets.US_ASCII));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return zip.toByteArray();
    }

    /** Uncompressed entries with their size and CRC up front (no data descriptors). */
    private static void stored(ZipOutputStream z, String name, byte[] bytes) throws IOException {
        ZipEntry e = new ZipEntry(name);
        e.setMethod(ZipEntry.STORED);
        e.setSize(bytes.length);
        CRC32 crc = new CRC32();
        crc.update(bytes);
        e.setCrc(crc.getValue());
        z.putNextEntry(e);
        z.write(bytes);
        z.closeEntry();
    }
}
