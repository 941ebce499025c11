package dev.attune.task;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * One model input derived from an example (an example may give several, such as the windows of a
 * long question-answering context).
 *
 * @param exampleIndex index of the example in its data set
 * @param fields integer fields by input name; sequence fields are padded by the collator
 * @param context task data the decoder needs later (offsets, words), or null
 */
public record Features(int exampleIndex, Map<String, long[]> fields, Object context) {
    /** Copies the map. */
    public Features {
        fields = Collections.unmodifiableMap(new LinkedHashMap<>(fields));
    }

    /** @return the number of tokens ({@code input_ids} length) */
    public int length() {
        long[] ids = fields.get("input_ids");
        return ids == null ? 0 : ids.length;
    }
}
