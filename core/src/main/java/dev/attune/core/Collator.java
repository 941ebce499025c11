package dev.attune.core;

import org.apiguardian.api.API;

import dev.attune.task.Features;

import dev.attune.engine.Batch;
import dev.attune.ops.TensorData;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.function.ToIntFunction;

/**
 * Stacks the {@link Features} of several examples into one {@link Batch}, padding sequence fields.
 * Integer fields become {@code INT64} tensors and float fields {@code FLOAT32} tensors. Every task
 * can use it with the map its {@link dev.attune.task.Task#padding} returns.
 *
 * <p>Shapes, for a batch of {@code B} features:
 *
 * <ul>
 *   <li>a field named in the padding map is a sequence field and becomes {@code [B, T]}, where
 *       {@code T} is the fixed length, or (fixed length 0) the longest sequence field of the batch;
 *       shorter rows are filled on the right with that field's padding value (converted to float for
 *       a float field). All sequence fields share the one {@code T}, so {@code input_ids} and {@code
 *       attention_mask} line up;
 *   <li>any other field holding one value per feature ({@code labels} of sequence classification, a
 *       regression target) becomes {@code [B]};
 *   <li>any other field holding {@code n > 1} values (a multi-hot label vector) becomes {@code [B,
 *       n]}; its length must be the same in every feature.
 * </ul>
 *
 * <p>Features whose sequence fields hold {@code R > 1} rows ({@link
 * dev.attune.task.Task#sequenceRows}: a multiple-choice example, one row per choice) give {@code
 * [B, R, T]} sequence tensors: each row is padded on its own, and {@code T} is the longest row of
 * the batch (or the fixed length).
 *
 * <p>Every feature of a batch must have the same integer and float field names. Fields keep the
 * order of the first feature, integer fields first. The collator never truncates: a sequence longer
 * than a fixed length is an error, since truncation belongs to the tokenizer, where it can respect
 * special tokens.
 */
@API(status = API.Status.INTERNAL, since = "0.1")
public final class Collator {
    private Collator() {}

    /**
     * @param features the features of one batch, at least one
     * @param padding sequence fields and their padding values ({@link dev.attune.task.Task#padding})
     * @param fixedLength pad every sequence field to exactly this many positions, or 0 to pad to the
     *     longest sequence of the batch
     * @return the batch, of size {@code features.size()}
     * @throws IllegalArgumentException when the list is empty, the features disagree on their fields
     *     or on a field's element type, a fixed-size field changes length, or a sequence is longer
     *     than {@code fixedLength}
     */
    public static Batch collate(List<Features> features, Map<String, Long> padding, int fixedLength) {
        return collate(features, padding, fixedLength, f -> 1);
    }

    /**
     * Stacks features whose sequence fields may hold several rows each ({@link
     * dev.attune.task.Task#sequenceRows}).
     *
     * @param features the features of one batch, at least one
     * @param padding sequence fields and their padding values
     * @param fixedLength pad every row to exactly this many positions, or 0 to pad to the longest row
     * @param rows the rows of a feature's sequence fields (1: {@code [B, T]} tensors; more: {@code [B,
     *     R, T]})
     * @return the batch
     * @throws IllegalArgumentException as {@link #collate(List, Map, int)}, and when the features of
     *     the batch differ in rows or a sequence field's length is not a multiple of its rows
     */
    public static Batch collate(List<Features> features, Map<String, Long> padding, int fixedLength,
            ToIntFunction<Features> rows) {
        Objects.requireNonNull(features, "features");
        Objects.requireNonNull(padding, "padding");
        if (features.isEmpty()) {
            throw new dev.attune.error.InvalidDataException("cannot make a batch of no features: a batch needs at"
                    + " least one example");
        }
        if (fixedLength < 0) {
            throw new IllegalArgumentException("fixedLength must be >= 0 (0 pads to the longest), got " + fixedLength);
        }
        Features first = features.get(0);
        for (int i = 1; i < features.size(); i++) {
            Features f = features.get(i);
            if (!f.fields().keySet().equals(first.fields().keySet())
                    || !f.floatFields().keySet().equals(first.floatFields().keySet())) {
                throw new IllegalArgumentException(
                        "features of one batch must have the same fields, but feature 0 (example "
                                + first.exampleIndex() + ") has " + describe(first) + " and feature " + i
                                + " (example " + f.exampleIndex() + ") has " + describe(f));
            }
        }

        int r = rows.applyAsInt(first);
        if (r < 1) {
            throw new IllegalArgumentException("a feature has " + r + " rows; it needs at least 1");
        }
        int longest = 0;
        for (int i = 0; i < features.size(); i++) {
            Features f = features.get(i);
            if (rows.applyAsInt(f) != r) {
                throw new dev.attune.error.InvalidDataException("the examples of one batch must have the same number"
                        + " of rows (choices): example " + first.exampleIndex() + " has " + r + " and example "
                        + f.exampleIndex() + " has " + rows.applyAsInt(f) + "; give every example as many");
            }
            for (String name : f.fields().keySet()) {
                if (padding.containsKey(name)) {
                    longest = Math.max(longest, rowLength(f, i, name, f.fields().get(name).length, r));
                }
            }
            for (String name : f.floatFields().keySet()) {
                if (padding.containsKey(name)) {
                    longest = Math.max(longest, rowLength(f, i, name, f.floatFields().get(name).length, r));
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
        for (String name : first.fields().keySet()) {
            Long pad = padding.get(name);
            int rowsHere = pad != null ? r : 1;
            int n = pad != null ? seqLength : first.fields().get(name).length;
            long[] out = new long[Math.multiplyExact(Math.multiplyExact(b, rowsHere), n)];
            for (int i = 0; i < b; i++) {
                long[] all = features.get(i).fields().get(name);
                checkWidth(features, i, name, pad, all.length, n);
                int width = all.length / rowsHere;
                for (int j = 0; j < rowsHere; j++) {
                    int at = (i * rowsHere + j) * n;
                    System.arraycopy(all, j * width, out, at, width);
                    if (pad != null) {
                        Arrays.fill(out, at + width, at + n, pad);
                    }
                }
            }
            tensors.put(name, TensorData.ofLongs(shape(b, rowsHere, n, pad != null), out));
        }
        for (String name : first.floatFields().keySet()) {
            Long pad = padding.get(name);
            int rowsHere = pad != null ? r : 1;
            int n = pad != null ? seqLength : first.floatFields().get(name).length;
            float[] out = new float[Math.multiplyExact(Math.multiplyExact(b, rowsHere), n)];
            for (int i = 0; i < b; i++) {
                float[] all = features.get(i).floatFields().get(name);
                checkWidth(features, i, name, pad, all.length, n);
                int width = all.length / rowsHere;
                for (int j = 0; j < rowsHere; j++) {
                    int at = (i * rowsHere + j) * n;
                    System.arraycopy(all, j * width, out, at, width);
                    if (pad != null) {
                        Arrays.fill(out, at + width, at + n, (float) (long) pad);
                    }
                }
            }
            tensors.put(name, TensorData.ofFloats(shape(b, rowsHere, n, pad != null), out));
        }
        return new Batch(tensors, b);
    }

    /** A sequence field fits {@code n} (checked above); a fixed field has exactly {@code n} values. */
    private static void checkWidth(List<Features> features, int i, String name, Long pad, int length, int n) {
        if (pad == null && length != n) {
            throw new IllegalArgumentException(
                    "field '" + name + "' is not a sequence field (it has no padding value) but has "
                            + n + " values in feature 0 and " + length + " in feature " + i
                            + " (example " + features.get(i).exampleIndex()
                            + "); give it a padding value or make its length constant");
        }
    }

    /** @return the length of each of a sequence field's {@code rows} rows */
    private static int rowLength(Features f, int i, String name, int length, int rows) {
        if (length % rows != 0) {
            throw new IllegalArgumentException("sequence field '" + name + "' of feature " + i + " (example "
                    + f.exampleIndex() + ") has " + length + " values, not a multiple of its " + rows + " rows");
        }
        return length / rows;
    }

    /**
     * {@code [B, T]} for a sequence field ({@code [B, R, T]} with rows); {@code [B]} for one value per
     * feature, else {@code [B, n]}.
     */
    private static long[] shape(int b, int rows, int n, boolean sequence) {
        if (sequence && rows > 1) {
            return new long[] {b, rows, n};
        }
        return !sequence && n == 1 ? new long[] {b} : new long[] {b, n};
    }

    private static String describe(Features f) {
        return f.floatFields().isEmpty() ? f.fields().keySet().toString()
                : f.fields().keySet() + " and float fields " + f.floatFields().keySet();
    }
}
