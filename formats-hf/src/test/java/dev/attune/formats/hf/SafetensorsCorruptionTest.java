package dev.attune.formats.hf;

import static dev.attune.formats.hf.SafetensorsTestFiles.bytes;
import static dev.attune.formats.hf.SafetensorsTestFiles.write;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.attune.error.InvalidCheckpointException;
import dev.attune.ops.TensorData;
import dev.attune.testing.SharedFiles;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import org.assertj.core.api.AbstractThrowableAssert;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Every malformed input is an {@link InvalidCheckpointException} naming the file and the key. */
class SafetensorsCorruptionTest {
    private static final String ONE = "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";

    @TempDir Path dir;

    private AbstractThrowableAssert<?, ? extends Throwable> opening(Path file) {
        return assertThatThrownBy(() -> SafetensorsStore.openFile(file).close())
                .isInstanceOf(InvalidCheckpointException.class)
                .hasMessageContaining(file.toString());
    }

    private Path file(byte[] content) throws IOException {
        return write(dir.resolve("model.safetensors"), content);
    }

    @Test
    void fileShorterThanTheLengthField() throws IOException {
        opening(file(new byte[] {1, 2, 3})).hasMessageContaining("re-download");
    }

    @Test
    void truncatedData() throws IOException {
        byte[] good = bytes(ONE, new byte[8]);
        opening(file(Arrays.copyOf(good, good.length - 3)))
                .hasMessageContaining("'w'")
                .hasMessageContaining("past the end")
                .hasMessageContaining("re-download");
    }

    @Test
    void truncatedWrittenFile() throws IOException {
        Path f = dir.resolve("model.safetensors");
        SafetensorsWriter.write(f, Map.of("w", TensorData.ofFloats(new long[] {4}, new float[] {1, 2, 3, 4})));
        byte[] all = Files.readAllBytes(f);
        Files.write(f, Arrays.copyOf(all, all.length - 1));
        opening(f).hasMessageContaining("'w'");
    }

    @Test
    void headerLengthLargerThanTheFile() throws IOException {
        opening(file(bytes(1_000_000, ONE, new byte[8])))
                .hasMessageContaining("header length 1000000")
                .hasMessageContaining("larger than the file");
    }

    @Test
    void headerLengthWithTheTopBitSet() throws IOException {
        opening(file(bytes(-2, ONE, new byte[8]))).hasMessageContaining("larger than the file");
    }

    @Test
    void offsetsPastTheEndOfTheFile() throws IOException {
        String header = "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[800,808]}}";
        opening(file(bytes(header, new byte[8]))).hasMessageContaining("'w'").hasMessageContaining("past the end");
    }

    @Test
    void offsetsThatDoNotMatchShapeAndDType() throws IOException {
        String header = "{\"w\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}";
        opening(file(bytes(header, new byte[8])))
                .hasMessageContaining("'w'")
                .hasMessageContaining("needs 12");
    }

    @Test
    void offsetsEndingBeforeTheyBegin() throws IOException {
        String header = "{\"w\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,0]}}";
        opening(file(bytes(header, new byte[8]))).hasMessageContaining("'w'");
    }

    @Test
    void negativeOffsetsAndDimensions() throws IOException {
        opening(file(bytes("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[-8,0]}}", new byte[8])))
                .hasMessageContaining("'w'");
        opening(file(bytes("{\"w\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", new byte[8])))
                .hasMessageContaining("'w'");
    }

    @Test
    void shapeWhoseElementCountOverflows() throws IOException {
        String header = "{\"w\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,8]}}";
        opening(file(bytes(header, new byte[8]))).hasMessageContaining("'w'");
    }

    @Test
    void corruptHeaderJson() throws IOException {
        opening(file(bytes("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],", new byte[8])))
                .hasMessageContaining("JSON header is invalid");
    }

    @Test
    void duplicateTensorNames() throws IOException {
        String header = "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                + "\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}";
        opening(file(bytes(header, new byte[8]))).hasMessageContaining("w");
    }

    @Test
    void headerThatIsNotAnObject() throws IOException {
        opening(file(bytes("[1, 2]  ", new byte[0]))).hasMessageContaining("not a JSON object");
    }

    @Test
    void unknownDType() throws IOException {
        String header = "{\"w\":{\"dtype\":\"Q7\",\"shape\":[2],\"data_offsets\":[0,8]}}";
        opening(file(bytes(header, new byte[8]))).hasMessageContaining("'w'").hasMessageContaining("unknown dtype 'Q7'");
    }

    @Test
    void unsupportedDType() throws IOException {
        String header = "{\"w\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[0,8]}}";
        opening(file(bytes(header, new byte[8]))).hasMessageContaining("'w'").hasMessageContaining("F64");
    }

    @Test
    void missingFields() throws IOException {
        opening(file(bytes("{\"w\":{\"shape\":[2],\"data_offsets\":[0,8]}}", new byte[8]))).hasMessageContaining("dtype");
        opening(file(bytes("{\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,8]}}", new byte[8]))).hasMessageContaining("shape");
        opening(file(bytes("{\"w\":{\"dtype\":\"F32\",\"shape\":[2]}}", new byte[8]))).hasMessageContaining("data_offsets");
    }

    // ---- sharded checkpoints ----

    /** A two-shard checkpoint: a and b in shard 1, c in shard 2. */
    private Path sharded() throws IOException {
        TensorData t = TensorData.ofFloats(new long[] {2}, new float[] {1, 2});
        SafetensorsWriter.write(dir.resolve("model-00001-of-00002.safetensors"), Map.of("a", t, "b", t));
        SafetensorsWriter.write(dir.resolve("model-00002-of-00002.safetensors"), Map.of("c", t));
        Files.writeString(dir.resolve(SafetensorsStore.INDEX_FILE), "{\"metadata\":{\"total_size\":24},\"weight_map\":{"
                + "\"a\":\"model-00001-of-00002.safetensors\",\"b\":\"model-00001-of-00002.safetensors\","
                + "\"c\":\"model-00002-of-00002.safetensors\"}}");
        try (SafetensorsStore store = SafetensorsStore.open(dir)) {
            assertThat(store.names()).containsExactly("a", "b", "c");
        }
        return dir;
    }

    @Test
    void shardListedInTheIndexButAbsent() throws IOException {
        Path folder = sharded();
        Files.delete(folder.resolve("model-00002-of-00002.safetensors"));
        assertThatThrownBy(() -> SafetensorsStore.open(folder).close())
                .isInstanceOf(InvalidCheckpointException.class)
                .hasMessageContaining(SafetensorsStore.INDEX_FILE)
                .hasMessageContaining("model-00002-of-00002.safetensors")
                .hasMessageContaining("'c'")
                .hasMessageContaining("missing");
    }

    @Test
    void tensorNamedInTheIndexMissingFromItsShard() throws IOException {
        Path folder = sharded();
        Path index = folder.resolve(SafetensorsStore.INDEX_FILE);
        Files.writeString(index, Files.readString(index).replace("\"weight_map\":{",
                "\"weight_map\":{\"bert.extra.weight\":\"model-00002-of-00002.safetensors\","));
        assertThatThrownBy(() -> SafetensorsStore.open(folder).close())
                .isInstanceOf(InvalidCheckpointException.class)
                .hasMessageContaining(index.toString())
                .hasMessageContaining("'bert.extra.weight'")
                .hasMessageContaining("model-00002-of-00002.safetensors");
    }

    @Test
    void indexWithoutWeightMap() throws IOException {
        Path index = Files.writeString(dir.resolve(SafetensorsStore.INDEX_FILE), "{\"metadata\":{}}");
        assertThatThrownBy(() -> SafetensorsStore.open(dir))
                .isInstanceOf(InvalidCheckpointException.class)
                .hasMessageContaining(index.toString())
                .hasMessageContaining("weight_map");
    }

    @Test
    void indexPointingOutsideTheFolder() throws IOException {
        Path index = Files.writeString(dir.resolve(SafetensorsStore.INDEX_FILE),
                "{\"weight_map\":{\"w\":\"../elsewhere.safetensors\"}}");
        assertThatThrownBy(() -> SafetensorsStore.open(dir))
                .isInstanceOf(InvalidCheckpointException.class)
                .hasMessageContaining(index.toString())
                .hasMessageContaining("outside");
    }
}
