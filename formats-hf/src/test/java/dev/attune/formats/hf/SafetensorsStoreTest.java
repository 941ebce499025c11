package dev.attune.formats.hf;

import static dev.attune.formats.hf.SafetensorsTestFiles.bytes;
import static dev.attune.formats.hf.SafetensorsTestFiles.shorts;
import static dev.attune.formats.hf.SafetensorsTestFiles.write;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.attune.error.InvalidCheckpointException;
import dev.attune.model.WeightStore.TensorInfo;
import dev.attune.ops.DType;
import dev.attune.ops.TensorData;
import dev.attune.testing.SharedFiles;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Iterator;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SafetensorsStoreTest {
    @TempDir Path dir;

    @Test
    void shardedCheckpointOpensThroughARelativePathWithDotDot() {
        // the README's commands name ../shared/...; the shard containment check must normalise both sides
        Path model = SharedFiles.path("models/bert-mini-uncased-mlm");
        Path cwd = Path.of("").toAbsolutePath();
        Path viaDotDot = cwd.relativize(model.getParent().resolve("..").resolve(model.getParent().getFileName())
                .resolve(model.getFileName()));
        assertThat(viaDotDot.toString()).contains("..");
        try (SafetensorsStore store = SafetensorsStore.open(viaDotDot)) {
            assertThat(store.names()).contains("bert.embeddings.word_embeddings.weight");
        }
    }

    @Test
    void shardedCheckpointLoadsEveryIndexedTensorWithItsShape() throws IOException {
        Path model = SharedFiles.path("models/bert-mini-uncased-mlm");
        JsonNode index = new ObjectMapper().readTree(model.resolve(SafetensorsStore.INDEX_FILE).toFile());
        Set<String> expected = new HashSet<>();
        for (Iterator<String> it = index.get("weight_map").fieldNames(); it.hasNext(); ) {
            expected.add(it.next());
        }
        try (SafetensorsStore store = SafetensorsStore.open(model)) {
            assertThat(store.names()).containsExactlyInAnyOrderElementsOf(expected);
            assertThat(store.origin()).endsWith(SafetensorsStore.INDEX_FILE);

            TensorInfo words = store.info("bert.embeddings.word_embeddings.weight");
            assertThat(words.dtype()).isEqualTo(DType.FLOAT32);
            assertThat(words.shape()).containsExactly(30522, 256);
            assertThat(store.info("bert.encoder.layer.3.intermediate.dense.weight").shape()).containsExactly(1024, 256);
            assertThat(store.info("bert.encoder.layer.0.attention.self.query.bias").shape()).containsExactly(256);
            assertThat(store.info("bert.embeddings.position_embeddings.weight").shape()).containsExactly(512, 256);

            long total = 0;
            for (String name : store.names()) {
                TensorData t = store.read(name);
                assertThat(t.shape()).isEqualTo(store.info(name).shape());
                total += t.size();
            }
            assertThat(total).isEqualTo(index.get("metadata").get("total_parameters").asLong());

            float[] gamma = store.read("bert.embeddings.LayerNorm.weight").toFloatArray();
            assertThat(gamma).hasSize(256);
            for (float g : gamma) {
                assertThat(g).isFinite();
            }
        }
    }

    @Test
    void singleFileFixtureLoads() {
        try (SafetensorsStore store = SafetensorsStore.open(SharedFiles.path("fixtures/hf/bert-seqcls"))) {
            assertThat(store.names()).contains("classifier.weight", "bert.embeddings.word_embeddings.weight");
            assertThat(store.info("classifier.weight").shape()).containsExactly(2, 32);
            assertThat(store.read("classifier.weight").toFloatArray()).hasSize(64);
        }
    }

    @Test
    void float16FromHandBuiltBytesWidensExactly() throws IOException {
        byte[] data = shorts(0x3C00, 0xC000, 0x2E66, 0xB555, 0x0001, 0x83FF, 0x7BFF, 0xFC00);
        String header = "{\"__metadata__\":{\"format\":\"pt\"},\"h\":{\"dtype\":\"F16\",\"shape\":[2,4],\"data_offsets\":[0,16]}}";
        Path f = write(dir.resolve("f16.safetensors"), bytes(header, data));
        try (SafetensorsStore store = SafetensorsStore.openFile(f)) {
            TensorData t = store.read("h");
            assertThat(t.dtype()).isEqualTo(DType.FLOAT16);
            assertThat(t.toFloat32().toFloatArray()).containsExactly(
                    1.0f, -2.0f, 0.0999755859375f, -0.333251953125f,
                    5.9604644775390625e-8f, -6.097555160522461e-5f, 65504f, Float.NEGATIVE_INFINITY);
        }
    }

    @Test
    void bfloat16FromHandBuiltBytesWidensExactly() throws IOException {
        byte[] data = shorts(0x3F80, 0xBDCD, 0x4049, 0x0001, 0x8001, 0x7F7F);
        String header = "{\"b\":{\"dtype\":\"BF16\",\"shape\":[6],\"data_offsets\":[0,12]}}";
        Path f = write(dir.resolve("bf16.safetensors"), bytes(header, data));
        try (SafetensorsStore store = SafetensorsStore.openFile(f)) {
            TensorData t = store.read("b");
            assertThat(t.dtype()).isEqualTo(DType.BFLOAT16);
            TensorData wide = t.toFloat32();
            assertThat(wide.dtype()).isEqualTo(DType.FLOAT32);
            assertThat(wide.toFloatArray()).containsExactly(
                    1.0f, -0.10009765625f, 3.140625f, 9.183549615799121e-41f, -9.183549615799121e-41f,
                    3.3895313892515355e38f);
        }
    }

    @Test
    void halfPrecisionWrittenByTheWriterReadsBackRounded() {
        float[] values = {0.1f, -1f / 3f, 1e-7f, -6.1e-5f, 1f};
        ByteBuffer half = ByteBuffer.allocate(values.length * 2).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        ByteBuffer bf = ByteBuffer.allocate(values.length * 2).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        for (float v : values) {
            half.putShort(TensorData.floatToHalf(v));
            bf.putShort(roundToBfloat16(v));
        }
        java.util.Map<String, TensorData> tensors = new java.util.LinkedHashMap<>();
        tensors.put("half", new TensorData(DType.FLOAT16, new long[] {values.length}, half.flip()));
        tensors.put("bf", new TensorData(DType.BFLOAT16, new long[] {values.length}, bf.flip()));
        Path f = dir.resolve("written.safetensors");
        SafetensorsWriter.write(f, tensors);
        try (SafetensorsStore store = SafetensorsStore.openFile(f)) {
            assertThat(store.read("half").toFloatArray()).containsExactly(
                    0.0999755859375f, -0.333251953125f, 1.1920928955078125e-7f, -6.097555160522461e-5f, 1f);
            assertThat(store.read("bf").toFloatArray()).containsExactly(
                    0.10009765625f, -0.333984375f, 1.0011717677116394e-7f, -6.103515625e-5f, 1f);
        }
    }

    /** Round to nearest even, as torch does when casting to bfloat16 (no NaN inputs here). */
    private static short roundToBfloat16(float v) {
        int bits = Float.floatToRawIntBits(v);
        int rounded = bits + 0x7FFF + ((bits >>> 16) & 1);
        return (short) (rounded >>> 16);
    }

    @Test
    void unknownNameIsATypedError() {
        try (SafetensorsStore store = SafetensorsStore.open(SharedFiles.path("fixtures/hf/bert-seqcls"))) {
            assertThatThrownBy(() -> store.info("no.such.weight"))
                    .isInstanceOf(InvalidCheckpointException.class)
                    .hasMessageContaining("no.such.weight")
                    .hasMessageContaining("model.safetensors");
        }
    }

    @Test
    void folderWithoutWeightsNamesTheFolder() {
        assertThatThrownBy(() -> SafetensorsStore.open(dir))
                .isInstanceOf(InvalidCheckpointException.class)
                .hasMessageContaining(dir.toString())
                .hasMessageContaining("model.safetensors");
    }

    @Test
    void shardNameThatIsNoFileNameIsATypedError() throws IOException {
        // found by HfFilesFuzzTest: a NUL in a shard name made Path.resolve throw InvalidPathException
        Path index = Files.writeString(dir.resolve(SafetensorsStore.INDEX_FILE),
                "{\"weight_map\":{\"w\":\"shard\\u0000.safetensors\"}}");
        assertThatThrownBy(() -> SafetensorsStore.openIndex(index))
                .isInstanceOf(InvalidCheckpointException.class)
                .hasMessageContaining(index.toString())
                .hasMessageContaining("not a valid file name");
    }
}
