package dev.attune.core;

import dev.attune.task.Features;

import dev.attune.engine.Batch;
import dev.attune.ops.TensorData;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Stacks the {@link Features} of several examples into one {@link Batch} of INT64 tensors, padding
 * sequence fields. Every task can use it with the map its {@link dev.attune.task.Task#padding} returns.
 *
 * <p>Shapes, for a batch of {@code B} features:
 *
 * <ul>
 *   <li>a field named in the padding map is a sequence field and becomes {@code [B, T]}, where
 *       {@code T} is the fixed length, or (fixed length 0) the longest sequence field of the batch;
 *       shorter rows are filled on the right with that field's padding value. All sequence fields
 *       share the one {@code T}, so {@code input_ids} and {@code attention_mask} line up;
 *   <li>any other field holding one value per feature ({@code labels} of sequence classification)
 *       becomes {@code [B]};
 *   <li>any other field holding {@code n > 1} values becomes {@code [B, n]}; its length must be the
 *       same in every feature.
 * </ul>
 *
 * <p>Every feature of a batch must have the same field names. Fields keep the order of the first
 * feature. The collator never truncates: a sequence longer than a fixed length is an error, since
 * truncation belongs to the tokenizer, where it can respect special tokens.
 */
public final class Collator {
    private Collator() {}

    /**
     * @param features the features of one batch, at least one
     * @param padding sequence fields and their padding values ({@link dev.attune.task.Task#padding})
     * @param fixedLength pad every sequence field to exactly this many positions, or 0 to pad to the
     *     longest sequence of the batch
     * @return the batch, of size {@code features.size()}
     * @throws IllegalArgumentException when the list is empty, the features disagree on their fields,
     *     a fixed-size field changes length, or a sequence is longer than {@code fixedLength}
     */
    public static Batch collate(List<Features> features, Map<String, Long> padding, int fixedLength) {
        Objects.requireNonNull(features, "features");
        Objects.requireNonNull(padding, "padding");
        if (features.isEmpty()) {
            throw new IllegalArgumentException("cannot collate an empty list of features");
        }
        if (fixedLength < 0) {
            throw new IllegalArgumentException("fixedLength must be >= 0 (0 pads to the longest), got " + fixedLength);
        }
        List<String> names = new ArrayList<>(features.get(0).fields().keySet());
        for (int i = 1; i < features.size(); i++) {
            if (!features.get(i).fields().keySet().equals(features.get(0).fields().keySet())) {
                throw new IllegalArgumentException(
                        "features of one batch must have the same fields, but feature 0 (example "
                                + features.get(0).exampleIndex() + ") has " + names + " and feature " + i
                                + " (example " + features.get(i).exampleIndex() + ") has "
                                + features.get(i).fields().keySet());
            }
        }

        int longest = 0;
        for (Features f : features) {
            for (String name : names) {
                if (padding.containsKey(name)) {
                    longest = Math.max(longest, f.fields().get(name).length);
                }
            }
        }
        if (fixedLength > 0 && longest > fixedLength) {
            throw new IllegalArgumentException(
                    "a sequence of " + longest + " positions does not fit the fixed length " + fixedLength
                            + "; encode with a maximum length of at most " + fixedLength);
        }
        int seqLength = fixedLength > 0 ? fixedLength : longest;

        int b = features.size();
        Map<String, TensorData> tensors = new LinkedHashMap<>();
        for (String name : names) {
            Long pad = padding.get(name);
            if (pad != null) {
                tensors.put(name, stackPadded(features, name, seqLength, pad));
            } else {
                tensors.put(name, stackFixed(features, name));
            }
        }
        return new Batch(tensors, b);
    }

    private static TensorData stackPadded(List<Features> features, String name, int seqLength, long pad) {
        int b = features.size();
        long[] out = new long[Math.multiplyExact(b, seqLength)];
        for (int i = 0; i < b; i++) {
            long[] row = features.get(i).fields().get(name);
            System.arraycopy(row, 0, out, i * seqLength, row.length);
            for (int j = row.length; j < seqLength; j++) {
                out[i * seqLength + j] = pad;
            }
        }
        return TensorData.ofLongs(new long[] {b, seqLength}, out);
    }

    private static TensorData stackFixed(List<Features> features, String name) {
        int b = features.size();
        int n = features.get(0).fields().get(name).length;
        long[] out = new long[Math.multiplyExact(b, n)];
        for (int i = 0; i < b; i++) {
            long[] row = features.get(i).fields().get(name);
            if (row.length != n) {
                throw new IllegalArgumentException(
                        "field '" + name + "' is not a sequence field (it has no padding value) but has "
                                + n + " values in feature 0 and " + row.length + " in feature " + i
                                + " (example " + features.get(i).exampleIndex()
                                + "); give it a padding value or make its length constant");
            }
            System.arraycopy(row, 0, out, i * n, n);
        }
        long[] shape = n == 1 ? new long[] {b} : new long[] {b, n};
        return TensorData.ofLongs(shape, out);
    }
}
