package dev.attune.engine.pytorch;

import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.DataType;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.engine.PtNDManager;
import ai.djl.pytorch.engine.PtSymbolBlock;
import ai.djl.pytorch.jni.IValueUtils;
import ai.djl.pytorch.jni.JniUtils;
import dev.attune.error.EngineException;
import dev.attune.ops.DType;
import dev.attune.ops.TensorData;
import java.io.IOException;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Casts into bfloat16 and float16 for autocast (mixed precision), done on the native side.
 *
 * <p>DJL's JNI layer names element types by a small integer that has no bfloat16 ({@code
 * GetScalarTypeFromDType} rethrows with no active exception, which terminates the JVM), so no call
 * that passes a dtype from Java may name bfloat16 or be handed {@link DataType#UNKNOWN}, which is
 * what DJL reports for a bfloat16 tensor. The cast down therefore runs as a {@link ScriptModule}
 * ({@code x.to(15)} for bfloat16, {@code x.to(5)} for float16: torch's {@code ScalarType} codes),
 * recorded by autograd while training so gradients flow back to the float32 master weights; the cast
 * up to float32 is an ordinary JNI call, which passes only the target type. Java code never reads
 * the bytes of a low-precision tensor: {@link #up} widens it first.
 */
final class LowPrecision {
    private static final Map<DType, PtSymbolBlock> CASTS = new ConcurrentHashMap<>();
    private static final Map<DType, PtSymbolBlock> WIDEN = new ConcurrentHashMap<>();
    private static final Map<String, PtSymbolBlock> ATTENTION = new ConcurrentHashMap<>();

    private LowPrecision() {}

    /** @return torch's ScalarType code of a low-precision type */
    static int code(DType type) {
        return switch (type) {
            case BFLOAT16 -> 15;
            case FLOAT16 -> 5;
            default -> throw new IllegalArgumentException("not a low-precision compute type: " + type);
        };
    }

    /** @return whether the array is float32, float16 or bfloat16 (the types autocast casts between) */
    static boolean isFloatingPoint(PtNDArray x) {
        DataType t = x.getDataType();
        return t == DataType.FLOAT32 || t == DataType.FLOAT16 || t == DataType.UNKNOWN || t == DataType.BFLOAT16;
    }

    /** @return whether the array holds float32 */
    static boolean isFloat32(PtNDArray x) {
        return x.getDataType() == DataType.FLOAT32;
    }

    /**
     * @param x a float tensor (float32, float16 or bfloat16)
     * @param type BFLOAT16 or FLOAT16
     * @param grad whether autograd records the cast (training)
     * @param step the manager that owns the result
     * @return x in the low-precision type
     */
    static PtNDArray down(PtNDArray x, DType type, boolean grad, PtNDManager step) {
        return run(CASTS.computeIfAbsent(type, LowPrecision::loadCast), x, grad, step);
    }

    /**
     * @param x a float tensor
     * @param grad whether autograd records the cast (training)
     * @param step the manager that owns the result
     * @return x widened to float32 on the native side (x itself when it is float32). DJL's own cast
     *     ({@code JniUtils.to}) runs under no-grad, so while training the cast runs as a script
     */
    static PtNDArray up(PtNDArray x, boolean grad, PtNDManager step) {
        if (isFloat32(x)) {
            return x;
        }
        if (!grad) {
            PtNDArray r = JniUtils.to(x, DataType.FLOAT32, x.getDevice());
            r.attach(step);
            return r;
        }
        return run(WIDEN.computeIfAbsent(DType.FLOAT32, t -> load("CastToFloat32",
                "  def forward(self: __torch__.CastToFloat32, x: Tensor) -> Tensor:\n    return x.float()\n")), x, true, step);
    }

    /** Runs a one-tensor script; with {@code grad} DJL runs it in training mode, so autograd records it. */
    private static PtNDArray run(PtSymbolBlock module, PtNDArray x, boolean grad, PtNDManager step) {
        // a one-op script gains nothing from the profiling executor, which re-specialises it for every new
        // input shape (a new sequence length) and made a training step several times slower
        JniUtils.setGraphExecutorOptimize(false);
        try {
            if (!grad) {
                return ScriptModule.call(module, step, x);
            }
            NDList out = IValueUtils.forward(module, new NDList(x), true);
            PtNDArray r = (PtNDArray) out.get(0);
            r.attach(step);
            return r;
        } finally {
            JniUtils.setGraphExecutorOptimize(GRAPH_OPTIMIZER);
        }
    }

    /** DJL's setting for the executor (its engine applies it at start), restored after each cast. */
    private static final boolean GRAPH_OPTIMIZER =
            Boolean.parseBoolean(System.getProperty("ai.djl.pytorch.graph_optimizer", "true"));

    /** @return x widened to float32 without autograd (a new tensor, or x itself when it is float32) */
    static PtNDArray up(PtNDArray x) {
        if (isFloat32(x)) {
            return x;
        }
        return JniUtils.to(x, DataType.FLOAT32, x.getDevice());
    }

    /**
     * @param x a float tensor
     * @param type BFLOAT16 or FLOAT16
     * @return whether x already holds that type (DJL reports bfloat16 as UNKNOWN or BFLOAT16)
     */
    static boolean holds(PtNDArray x, DType type) {
        DataType t = x.getDataType();
        return type == DType.FLOAT16 ? t == DataType.FLOAT16 : t == DataType.UNKNOWN || t == DataType.BFLOAT16;
    }

    /**
     * A tensor in a low precision on the host, in that precision: float16 as DJL reads it; bfloat16,
     * whose type DJL cannot name, widened to float32 on the native side (exact: every bfloat16 value
     * is a float32) and cut back to its bfloat16 bits in Java (exact again: the upper half of each
     * float32). A key/value cache crosses to Java this way between generation steps.
     *
     * @param x a float tensor (cast to {@code type} first when it holds another)
     * @param type BFLOAT16 or FLOAT16
     * @param step the manager that owns the temporaries
     * @return the values in {@code type}
     */
    static TensorData toHost(PtNDArray x, DType type, PtNDManager step) {
        PtNDArray low = holds(x, type) ? x : down(x, type, false, step);
        if (type == DType.FLOAT16) {
            return PtLoweredModel.toHost(low);
        }
        PtNDArray wide = up(low);
        if (wide != low) {
            wide.attach(step);
        }
        TensorData f = PtLoweredModel.toHost(wide);
        java.nio.FloatBuffer in = f.buffer().order(java.nio.ByteOrder.LITTLE_ENDIAN).asFloatBuffer();
        java.nio.ByteBuffer bits = java.nio.ByteBuffer.allocate(in.remaining() * 2).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        while (in.hasRemaining()) {
            bits.putShort((short) (Float.floatToRawIntBits(in.get()) >>> 16));
        }
        bits.flip();
        return new TensorData(DType.BFLOAT16, f.shape(), bits);
    }

    /**
     * A bfloat16 value from the host (a cache {@link #toHost(PtNDArray, DType, PtNDManager)} gave):
     * widened to float32 in Java (exact), created as float32, cast to bfloat16 on the native side
     * (exact: the values are bfloat16 values).
     *
     * @param data bfloat16 values
     * @param manager the manager that owns the result
     * @return the bfloat16 tensor, on the CPU
     */
    static PtNDArray fromHostBf16(TensorData data, PtNDManager manager) {
        float[] f = data.toFloatArray();
        PtNDArray wide = (PtNDArray) manager.create(f, new ai.djl.ndarray.types.Shape(data.shape()));
        return down(wide, DType.BFLOAT16, false, manager);
    }

    private static PtSymbolBlock loadCast(DType type) {
        String name = "CastTo" + (type == DType.BFLOAT16 ? "BFloat16" : "Float16");
        return load(name, "  def forward(self: __torch__." + name + ", x: Tensor) -> Tensor:\n"
                + "    return x.to(" + code(type) + ")\n");
    }

    /**
     * libtorch's fused attention in a low precision (inference): q, k, v (and the additive mask) cast
     * to the type in the script, so the kernel sees one element type as it requires.
     *
     * @return the attended values in the low precision
     */
    static PtNDArray attention(PtNDManager step, DType type, PtNDArray q, PtNDArray k, PtNDArray v, PtNDArray bias,
            float scale) {
        int c = code(type);
        String key = type + "/" + scale + "/" + (bias != null);
        PtSymbolBlock module = ATTENTION.computeIfAbsent(key, k2 -> {
            String name = "LowAttention";
            String mask = bias != null ? "mask.to(" + c + ")" : "None";
            return load(name, "  def forward(self: __torch__." + name + ", q: Tensor, k: Tensor, v: Tensor"
                    + (bias != null ? ", mask: Tensor" : "") + ") -> Tensor:\n"
                    + "    return torch.scaled_dot_product_attention(q.to(" + c + "), k.to(" + c + "), v.to(" + c
                    + "), " + mask + ", 0., False, scale=" + Double.toString(scale) + ")\n");
        });
        JniUtils.setGraphExecutorOptimize(false);
        try {
            return bias == null ? ScriptModule.call(module, step, q, k, v) : ScriptModule.call(module, step, q, k, v, bias);
        } finally {
            JniUtils.setGraphExecutorOptimize(GRAPH_OPTIMIZER);
        }
    }

    private static PtSymbolBlock load(String name, String forward) {
        try {
            return ScriptModule.load(name, forward);
        } catch (IOException | RuntimeException e) {
            throw new EngineException("libtorch refused the low-precision module " + name + " (" + e
                    + "); run in float32 (no --bf16/--fp16/--dtype)", e);
        }
    }
}
