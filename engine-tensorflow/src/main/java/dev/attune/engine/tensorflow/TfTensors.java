package dev.attune.engine.tensorflow;

import dev.attune.error.EngineException;
import dev.attune.ops.DType;
import dev.attune.ops.TensorData;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.tensorflow.Tensor;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.proto.DataType;
import org.tensorflow.types.TBool;
import org.tensorflow.types.TFloat16;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.TInt64;
import org.tensorflow.types.family.TType;

/**
 * Copies between host {@link TensorData} (little-endian bytes) and TensorFlow tensors, whose raw
 * buffers hold the same row-major little-endian bytes on x86-64, so no element is converted.
 */
final class TfTensors {
    private TfTensors() {}

    static Class<? extends TType> typeClass(DType type) {
        return switch (type) {
            case FLOAT32 -> TFloat32.class;
            case FLOAT16 -> TFloat16.class;
            case INT64 -> TInt64.class;
            case INT32 -> TInt32.class;
            case BOOL -> TBool.class;
            case BFLOAT16 -> throw new IllegalArgumentException("BFLOAT16 must be widened to FLOAT32 before TensorFlow");
        };
    }

    static DType dtype(DataType type) {
        return switch (type) {
            case DT_FLOAT -> DType.FLOAT32;
            case DT_HALF -> DType.FLOAT16;
            case DT_INT64 -> DType.INT64;
            case DT_INT32 -> DType.INT32;
            case DT_BOOL -> DType.BOOL;
            default -> throw new EngineException("unexpected TensorFlow output type " + type);
        };
    }

    /** @return a new TF tensor holding a copy of {@code data}; the caller closes it */
    static TType toTf(TensorData data) {
        ByteBuffer src = data.buffer().duplicate().order(ByteOrder.LITTLE_ENDIAN);
        byte[] bytes = new byte[src.remaining()];
        src.get(bytes);
        return Tensor.of(typeClass(data.dtype()), Shape.of(data.shape()), bytes.length,
                t -> t.asRawTensor().data().write(bytes));
    }

    /** @return a host copy of a TF tensor (not closed here) */
    static TensorData toHost(Tensor t) {
        DType type = dtype(t.dataType());
        byte[] bytes = new byte[Math.toIntExact(t.numBytes())];
        t.asRawTensor().data().read(bytes);
        long[] shape = t.shape().asArray();
        return new TensorData(type, shape, ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN));
    }
}
