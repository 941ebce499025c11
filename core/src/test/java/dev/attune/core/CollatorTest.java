package dev.attune.core;

import dev.attune.task.Features;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.attune.engine.Batch;
import dev.attune.ops.DType;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class CollatorTest {
    private static final Map<String, Long> PADDING = Map.of("input_ids", 0L, "attention_mask", 0L);

    private static Features features(int index, long[] ids, long... labels) {
        Map<String, long[]> fields = new LinkedHashMap<>();
        fields.put("input_ids", ids);
        long[] mask = new long[ids.length];
        java.util.Arrays.fill(mask, 1);
        fields.put("attention_mask", mask);
        fields.put("labels", labels);
        return new Features(index, fields, null);
    }

    /** Multiple choice: two rows per feature, each feature's rows of its own width, padded row by row. */
    @Test
    void featuresWithRowsBecomeBatchRowsTokensTensorsPaddedRowByRow() {
        Features a = features(0, new long[] {5, 6, 7, 8}, 1); // rows [5, 6] and [7, 8]
        Features b = features(1, new long[] {9, 4, 3, 2, 1, 0}, 0); // rows [9, 4, 3] and [2, 1, 0]
        Batch batch = Collator.collate(List.of(a, b), PADDING, 0, f -> 2);
        assertThat(batch.get("input_ids").shape()).containsExactly(2, 2, 3);
        assertThat(batch.get("input_ids").toLongArray()).containsExactly(5, 6, 0, 7, 8, 0, 9, 4, 3, 2, 1, 0);
        assertThat(batch.get("attention_mask").toLongArray()).containsExactly(1, 1, 0, 1, 1, 0, 1, 1, 1, 1, 1, 1);
        assertThat(batch.get("labels").shape()).containsExactly(2);
        assertThat(Collator.collate(List.of(a), PADDING, 4, f -> 2).get("input_ids").toLongArray())
                .containsExactly(5, 6, 0, 0, 7, 8, 0, 0);

        assertThatThrownBy(() -> Collator.collate(List.of(a, b), PADDING, 0, f -> f.exampleIndex() + 2))
                .isInstanceOf(dev.attune.error.InvalidDataException.class).hasMessageContaining("same number of rows");
        assertThatThrownBy(() -> Collator.collate(List.of(a), PADDING, 0, f -> 3))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("not a multiple of its 3 rows");
    }

    @Test
    void padsSequencesToTheLongestAndStacksScalarLabels() {
        Batch batch = Collator.collate(
                List.of(features(0, new long[] {5, 6, 7}, 1), features(1, new long[] {8}, 0)), PADDING, 0);

        assertThat(batch.size()).isEqualTo(2);
        assertThat(batch.tensors().keySet()).containsExactly("input_ids", "attention_mask", "labels");
        assertThat(batch.get("input_ids").dtype()).isEqualTo(DType.INT64);
        assertThat(batch.get("input_ids").shape()).containsExactly(2, 3);
        assertThat(batch.get("input_ids").toLongArray()).containsExactly(5, 6, 7, 8, 0, 0);
        assertThat(batch.get("attention_mask").toLongArray()).containsExactly(1, 1, 1, 1, 0, 0);
        assertThat(batch.get("labels").shape()).containsExactly(2);
        assertThat(batch.get("labels").toLongArray()).containsExactly(1, 0);
    }

    @Test
    void usesEachFieldsOwnPaddingValue() {
        Batch batch = Collator.collate(
                List.of(features(0, new long[] {5, 6}, 1), features(1, new long[] {8}, 0)),
                Map.of("input_ids", 99L, "attention_mask", 0L),
                0);

        assertThat(batch.get("input_ids").toLongArray()).containsExactly(5, 6, 8, 99);
        assertThat(batch.get("attention_mask").toLongArray()).containsExactly(1, 1, 1, 0);
    }

    @Test
    void padsToAFixedLength() {
        Batch batch = Collator.collate(List.of(features(0, new long[] {5, 6}, 1)), PADDING, 4);

        assertThat(batch.get("input_ids").shape()).containsExactly(1, 4);
        assertThat(batch.get("input_ids").toLongArray()).containsExactly(5, 6, 0, 0);
    }

    @Test
    void stacksFixedFieldsOfSeveralValuesAsMatrix() {
        Batch batch = Collator.collate(
                List.of(features(0, new long[] {5}, 1, 2), features(1, new long[] {6}, 3, 4)), PADDING, 0);

        assertThat(batch.get("labels").shape()).containsExactly(2, 2);
        assertThat(batch.get("labels").toLongArray()).containsExactly(1, 2, 3, 4);
    }

    @Test
    void rejectsASequenceLongerThanTheFixedLength() {
        assertThatThrownBy(() -> Collator.collate(List.of(features(0, new long[] {1, 2, 3}, 0)), PADDING, 2))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("3 positions")
                .hasMessageContaining("fixed length 2");
    }

    @Test
    void rejectsFeaturesWithDifferentFields() {
        Features noLabels = new Features(1, Map.of("input_ids", new long[] {1}, "attention_mask", new long[] {1}), null);
        assertThatThrownBy(() -> Collator.collate(List.of(features(0, new long[] {1}, 0), noLabels), PADDING, 0))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("same fields");
    }

    @Test
    void rejectsAFixedFieldWhoseLengthChanges() {
        assertThatThrownBy(() -> Collator.collate(
                        List.of(features(0, new long[] {1}, 0), features(1, new long[] {1}, 0, 1)), PADDING, 0))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("'labels'");
    }

    @Test
    void rejectsAnEmptyBatch() {
        assertThatThrownBy(() -> Collator.collate(List.of(), PADDING, 0))
                .isInstanceOf(dev.attune.error.InvalidDataException.class)
                .hasMessageContaining("at least one example");
    }

    private static Features withFloats(int index, long[] ids, Map<String, float[]> floats) {
        long[] mask = new long[ids.length];
        java.util.Arrays.fill(mask, 1);
        Map<String, long[]> fields = new LinkedHashMap<>();
        fields.put("input_ids", ids);
        fields.put("attention_mask", mask);
        return new Features(index, fields, floats, null);
    }

    @Test
    void stacksAFloatTargetPerFeatureAsAFloat32Vector() {
        Batch batch = Collator.collate(List.of(
                withFloats(0, new long[] {5, 6}, Map.of("labels", new float[] {3.5f})),
                withFloats(1, new long[] {7}, Map.of("labels", new float[] {-0.25f}))), PADDING, 0);

        assertThat(batch.tensors().keySet()).containsExactly("input_ids", "attention_mask", "labels");
        assertThat(batch.get("input_ids").dtype()).isEqualTo(DType.INT64);
        assertThat(batch.get("labels").dtype()).isEqualTo(DType.FLOAT32);
        assertThat(batch.get("labels").shape()).containsExactly(2);
        assertThat(batch.get("labels").toFloatArray()).containsExactly(3.5f, -0.25f);
    }

    @Test
    void stacksMultiHotFloatVectorsAsAMatrix() {
        Batch batch = Collator.collate(List.of(
                withFloats(0, new long[] {5}, Map.of("labels", new float[] {1, 0, 1})),
                withFloats(1, new long[] {6}, Map.of("labels", new float[] {0, 1, 0}))), PADDING, 0);

        assertThat(batch.get("labels").dtype()).isEqualTo(DType.FLOAT32);
        assertThat(batch.get("labels").shape()).containsExactly(2, 3);
        assertThat(batch.get("labels").toFloatArray()).containsExactly(1, 0, 1, 0, 1, 0);
    }

    @Test
    void padsAFloatSequenceFieldWithItsPaddingValueToTheSharedLength() {
        Map<String, Long> padding = Map.of("input_ids", 0L, "attention_mask", 0L, "weights", -1L);
        Batch batch = Collator.collate(List.of(
                withFloats(0, new long[] {5, 6, 7}, Map.of("weights", new float[] {0.5f})),
                withFloats(1, new long[] {8}, Map.of("weights", new float[] {1.5f, 2.5f}))), padding, 0);

        assertThat(batch.get("weights").dtype()).isEqualTo(DType.FLOAT32);
        assertThat(batch.get("weights").shape()).containsExactly(2, 3);
        assertThat(batch.get("weights").toFloatArray()).containsExactly(0.5f, -1f, -1f, 1.5f, 2.5f, -1f);
        assertThat(batch.get("input_ids").shape()).containsExactly(2, 3);
    }

    @Test
    void rejectsFeaturesThatDisagreeOnTheirFloatFieldsOrTheirWidth() {
        assertThatThrownBy(() -> Collator.collate(List.of(
                        withFloats(0, new long[] {5}, Map.of("labels", new float[] {1})),
                        withFloats(1, new long[] {6}, Map.of())), PADDING, 0))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("same fields")
                .hasMessageContaining("float fields [labels]");
        assertThatThrownBy(() -> Collator.collate(List.of(
                        withFloats(0, new long[] {5}, Map.of("labels", new float[] {1, 0})),
                        withFloats(1, new long[] {6}, Map.of("labels", new float[] {1}))), PADDING, 0))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("'labels'")
                .hasMessageContaining("example 1");
    }

    @Test
    void aNameIsEitherAnIntegerOrAFloatField() {
        assertThatThrownBy(() -> new Features(0, Map.of("labels", new long[] {1}), Map.of("labels", new float[] {1}),
                        null))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("[labels]");
        assertThat(new Features(0, Map.of("input_ids", new long[] {1}), null).floatFields()).isEmpty();
    }
}
