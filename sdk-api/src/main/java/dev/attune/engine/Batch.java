package dev.attune.engine;

import org.apiguardian.api.API;

import dev.attune.error.InvalidDataException;
import dev.attune.ops.TensorData;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Model inputs for one step, by input name ({@code input_ids [B, T]}, {@code labels [B]}, ...).
 *
 * @param tensors inputs by name
 * @param size number of examples (B)
 */
@API(status = API.Status.STABLE, since = "0.1")
public record Batch(Map<String, TensorData> tensors, int size) {
    /**
     * Copies the map, keeping order.
     *
     * @throws InvalidDataException when the batch holds no example: engines cannot run one (an empty
     *     prediction list is answered without a batch)
     */
    public Batch {
        if (size < 1) {
            throw new InvalidDataException("a batch needs at least one example, got " + size
                    + "; skip the forward pass when there is nothing to run");
        }
        tensors = Collections.unmodifiableMap(new LinkedHashMap<>(tensors));
    }

    /**
     * @param name an input name
     * @return the tensor, or null
     */
    public TensorData get(String name) {
        return tensors.get(name);
    }

    /**
     * @param names inputs to drop (labels before inference)
     * @return a batch without them
     */
    public Batch without(String... names) {
        Map<String, TensorData> copy = new LinkedHashMap<>(tensors);
        for (String n : names) {
            copy.remove(n);
        }
        return new Batch(copy, size);
    }
}
