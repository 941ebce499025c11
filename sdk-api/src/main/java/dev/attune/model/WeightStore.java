package dev.attune.model;

import org.apiguardian.api.API;

import dev.attune.ops.DType;

import dev.attune.ops.TensorData;
import java.util.Set;

/** Named tensors of a checkpoint, read lazily by name. */
@API(status = API.Status.STABLE, since = "0.1")
public interface WeightStore extends AutoCloseable {
    /** @return every tensor name */
    Set<String> names();

    /**
     * @param name a tensor name
     * @return its type and shape
     * @throws dev.attune.error.InvalidCheckpointException when the name is unknown
     */
    TensorInfo info(String name);

    /**
     * @param name a tensor name
     * @return its data as stored (FLOAT32, FLOAT16, BFLOAT16, ...)
     */
    TensorData read(String name);

    /** @return a description of where the tensors come from (for messages) */
    String origin();

    /** Releases mapped files. */
    @Override
    void close();

    /**
     * What a weight store says about one tensor, before reading it.
     *
     * @param name tensor name
     * @param dtype stored type
     * @param shape dimensions
     */
    @API(status = API.Status.STABLE, since = "0.1")
    public record TensorInfo(String name, DType dtype, long[] shape) {}
}
