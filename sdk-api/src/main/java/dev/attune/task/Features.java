package dev.attune.task;

import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import org.apiguardian.api.API;

/**
 * One model input derived from an example (an example may give several, such as the windows of a
 * long question-answering context), as {@link Task#encode} returns it and the runtime's collator
 * stacks it into a batch.
 *
 * <p>A field is a vector of values under an input name. Integer fields ({@code input_ids}, class
 * ids) become {@code INT64} tensors; float fields (a regression target, a multi-hot label vector, a
 * per-token weight) become {@code FLOAT32} tensors. A name is either an integer or a float field,
 * never both. Fields named in {@link Task#padding} are sequences padded to the batch's length;
 * other fields keep their length, which must then be the same in every feature: one value per
 * feature gives a {@code [batch]} tensor, {@code n} values a {@code [batch, n]} tensor. A field's
 * element type must match the {@link dev.attune.model.ModelDefinition.InputSpec#dtype()} the task declares for it
 * (in {@link Task#labelInputs()}).
 *
 * @param exampleIndex index of the example in its data set
 * @param fields integer fields by input name ({@code INT64} tensors)
 * @param floatFields float fields by input name ({@code FLOAT32} tensors); empty for most tasks
 * @param context task data the decoder needs later (offsets, words), or null
 */
@API(status = API.Status.STABLE, since = "0.1")
public record Features(int exampleIndex, Map<String, long[]> fields, Map<String, float[]> floatFields,
        Object context) {
    /**
     * Copies the maps, keeping their order.
     *
     * @param exampleIndex index of the example in its data set
     * @param fields integer fields by input name ({@code INT64} tensors)
     * @param floatFields float fields by input name ({@code FLOAT32} tensors); empty for most tasks
     * @param context task data the decoder needs later (offsets, words), or null
     * @throws IllegalArgumentException when a name is both an integer and a float field
     */
    public Features {
        fields = Collections.unmodifiableMap(new LinkedHashMap<>(Objects.requireNonNull(fields, "fields")));
        floatFields = Collections.unmodifiableMap(
                new LinkedHashMap<>(Objects.requireNonNull(floatFields, "floatFields")));
        if (!floatFields.isEmpty()) {
            Set<String> both = new HashSet<>(fields.keySet());
            both.retainAll(floatFields.keySet());
            if (!both.isEmpty()) {
                throw new IllegalArgumentException("field(s) " + both + " are given both as integer and as float"
                        + " fields; give each input name one element type");
            }
        }
    }

    /**
     * Features with integer fields only.
     *
     * @param exampleIndex index of the example in its data set
     * @param fields integer fields by input name
     * @param context task data the decoder needs later, or null
     */
    public Features(int exampleIndex, Map<String, long[]> fields, Object context) {
        this(exampleIndex, fields, Map.of(), context);
    }

    /** @return the number of tokens ({@code input_ids} length) */
    public int length() {
        long[] ids = fields.get("input_ids");
        return ids == null ? 0 : ids.length;
    }

    /** @return the names of every field, integer fields first, each in its map's order */
    public Set<String> names() {
        Set<String> names = new LinkedHashSet<>(fields.keySet());
        names.addAll(floatFields.keySet());
        return Collections.unmodifiableSet(names);
    }
}
