package dev.attune.engine;

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
public record Batch(Map<String, TensorData> tensors, int size) {
    /** Copies the map, keeping order. */
    public Batch {
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
