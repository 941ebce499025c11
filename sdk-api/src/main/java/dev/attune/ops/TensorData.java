package dev.attune.ops;

import org.apiguardian.api.API;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.Objects;

/**
 * A dense host tensor crossing the boundary between Java and an engine: little-endian, row-major,
 * of one {@link DType}. Weight stores hand these to engines and engines hand outputs back as these.
 */
@API(status = API.Status.STABLE, since = "0.1")
public final class TensorData {
    private final DType dtype;
    private final long[] shape;
    private final ByteBuffer data;

    /**
     * @param dtype element type
     * @param shape dimensions
     * @param data little-endian bytes, exactly {@code size * dtype.byteSize()} remaining
     */
    public TensorData(DType dtype, long[] shape, ByteBuffer data) {
        this.dtype = Objects.requireNonNull(dtype);
        this.shape = shape.clone();
        this.data = data.slice().order(ByteOrder.LITTLE_ENDIAN);
        long expected = elementCount(shape) * dtype.byteSize();
        if (this.data.remaining() != expected) {
            throw new IllegalArgumentException(
                    "tensor of shape " + Arrays.toString(shape) + " and type " + dtype + " needs "
                            + expected + " bytes but got " + this.data.remaining());
        }
    }

    /**
     * @param shape dimensions
     * @param values row-major values
     * @return a FLOAT32 tensor
     */
    public static TensorData ofFloats(long[] shape, float[] values) {
        ByteBuffer b = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        b.asFloatBuffer().put(values);
        return new TensorData(DType.FLOAT32, shape, b);
    }

    /**
     * @param shape dimensions
     * @param values row-major values
     * @return an INT64 tensor
     */
    public static TensorData ofLongs(long[] shape, long[] values) {
        ByteBuffer b = ByteBuffer.allocate(values.length * 8).order(ByteOrder.LITTLE_ENDIAN);
        b.asLongBuffer().put(values);
        return new TensorData(DType.INT64, shape, b);
    }

    /**
     * @param shape dimensions
     * @return the number of elements of that shape
     */
    public static long elementCount(long[] shape) {
        long n = 1;
        for (long d : shape) {
            n = Math.multiplyExact(n, d);
        }
        return n;
    }

    /** @return element type */
    public DType dtype() {
        return dtype;
    }

    /** @return a copy of the dimensions */
    public long[] shape() {
        return shape.clone();
    }

    /** @return number of elements */
    public long size() {
        return elementCount(shape);
    }

    /** @return a read-only little-endian view of the bytes, positioned at 0 */
    public ByteBuffer buffer() {
        return data.asReadOnlyBuffer().order(ByteOrder.LITTLE_ENDIAN);
    }

    /** @return the values as floats (FLOAT32, FLOAT16 and BFLOAT16 are converted) */
    public float[] toFloatArray() {
        int n = Math.toIntExact(size());
        float[] out = new float[n];
        ByteBuffer b = buffer();
        switch (dtype) {
            case FLOAT32 -> b.asFloatBuffer().get(out);
            case FLOAT16 -> {
                for (int i = 0; i < n; i++) {
                    out[i] = halfToFloat(b.getShort(i * 2));
                }
            }
            case BFLOAT16 -> {
                for (int i = 0; i < n; i++) {
                    out[i] = Float.intBitsToFloat((b.getShort(i * 2) & 0xffff) << 16);
                }
            }
            case INT64 -> {
                for (int i = 0; i < n; i++) {
                    out[i] = b.getLong(i * 8);
                }
            }
            case INT32 -> {
                for (int i = 0; i < n; i++) {
                    out[i] = b.getInt(i * 4);
                }
            }
            case BOOL -> {
                for (int i = 0; i < n; i++) {
                    out[i] = b.get(i) != 0 ? 1f : 0f;
                }
            }
        }
        return out;
    }

    /** @return the values as longs (integer types only) */
    public long[] toLongArray() {
        int n = Math.toIntExact(size());
        long[] out = new long[n];
        ByteBuffer b = buffer();
        switch (dtype) {
            case INT64 -> b.asLongBuffer().get(out);
            case INT32 -> {
                for (int i = 0; i < n; i++) {
                    out[i] = b.getInt(i * 4);
                }
            }
            case BOOL -> {
                for (int i = 0; i < n; i++) {
                    out[i] = b.get(i);
                }
            }
            default -> throw new IllegalStateException("tensor of type " + dtype + " is not integral");
        }
        return out;
    }

    /**
     * @return this tensor as FLOAT32 (itself when already FLOAT32); BF16 is widened in Java, which
     *     is the only safe path (DJL has no BF16 arrays)
     */
    public TensorData toFloat32() {
        if (dtype == DType.FLOAT32) {
            return this;
        }
        return ofFloats(shape, toFloatArray());
    }

    /**
     * Widens an IEEE 754 half-precision value (Java 17 has no {@code Float.float16ToFloat}).
     *
     * @param bits the 16 bits of the half
     * @return the same value as a float
     */
    public static float halfToFloat(short bits) {
        int h = bits & 0xffff;
        int sign = (h & 0x8000) << 16;
        int exp = (h >>> 10) & 0x1f;
        int mant = h & 0x3ff;
        if (exp == 0x1f) { // infinity or NaN
            return Float.intBitsToFloat(sign | 0x7f800000 | (mant << 13));
        }
        if (exp == 0) {
            if (mant == 0) {
                return Float.intBitsToFloat(sign);
            }
            // subnormal half: value = mant * 2^-24, exact in float
            float v = mant * 0x1p-24f;
            return sign != 0 ? -v : v;
        }
        return Float.intBitsToFloat(sign | ((exp + 112) << 23) | (mant << 13));
    }

    /**
     * Narrows a float to IEEE 754 half precision, rounding to nearest even.
     *
     * @param f the value
     * @return the 16 bits of the half
     */
    public static short floatToHalf(float f) {
        int x = Float.floatToRawIntBits(f);
        int sign = (x >>> 16) & 0x8000;
        int exp = (x >>> 23) & 0xff;
        int mant = x & 0x7fffff;
        if (exp == 0xff) {
            return (short) (sign | 0x7c00 | (mant != 0 ? 0x200 : 0));
        }
        int e = exp - 127 + 15;
        if (e >= 0x1f) {
            return (short) (sign | 0x7c00);
        }
        if (e <= 0) {
            if (e < -10) {
                return (short) sign;
            }
            mant |= 0x800000;
            int shift = 14 - e;
            int half = mant >> shift;
            int rem = mant & ((1 << shift) - 1);
            int mid = 1 << (shift - 1);
            if (rem > mid || (rem == mid && (half & 1) != 0)) {
                half++;
            }
            return (short) (sign | half);
        }
        int half = (e << 10) | (mant >> 13);
        int rem = mant & 0x1fff;
        if (rem > 0x1000 || (rem == 0x1000 && (half & 1) != 0)) {
            half++;
        }
        return (short) (sign | half);
    }

    @Override
    public String toString() {
        return "TensorData{" + dtype + Arrays.toString(shape) + "}";
    }
}
