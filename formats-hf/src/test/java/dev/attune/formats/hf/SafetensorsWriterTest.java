package dev.attune.formats.hf;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.attune.error.AttuneException;
import dev.attune.ops.DType;
import dev.attune.ops.TensorData;
import dev.attune.testing.SharedFiles;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SafetensorsWriterTest {
    @TempDir Path dir;

    private static TensorData random(DType dtype, long[] shape, Random rnd) {
        int bytes = Math.toIntExact(TensorData.elementCount(shape) * dtype.byteSize());
        byte[] b = new byte[bytes];
        rnd.nextBytes(b);
        if (dtype == DType.BOOL) {
            for (int i = 0; i < b.length; i++) {
                b[i] = (byte) (b[i] & 1);
            }
        }
        return new TensorData(dtype, shape, ByteBuffer.wrap(b));
    }

    private static byte[] bytesOf(TensorData t) {
        ByteBuffer b = t.buffer();
        byte[] out = new byte[b.remaining()];
        b.get(out);
        return out;
    }

    private static Map<String, TensorData> everyDType() {
        Random rnd = new Random(7);
        Map<String, TensorData> m = new LinkedHashMap<>();
        m.put("z.f32", random(DType.FLOAT32, new long[] {3, 5}, rnd));
        m.put("a.f16", random(DType.FLOAT16, new long[] {7}, rnd));
        m.put("m.bf16", random(DType.BFLOAT16, new long[] {2, 1, 3}, rnd));
        m.put("ids", random(DType.INT64, new long[] {4}, rnd));
        m.put("i32", random(DType.INT32, new long[] {1}, rnd));
        m.put("mask", random(DType.BOOL, new long[] {5}, rnd));
        m.put("scalar", TensorData.ofFloats(new long[0], new float[] {2.5f}));
        m.put("empty", TensorData.ofFloats(new long[] {0, 4}, new float[0]));
        return m;
    }

    @Test
    void roundTripIsByteExactInInsertionOrder() throws IOException {
        Map<String, TensorData> tensors = everyDType();
        Path file = dir.resolve("model.safetensors");
        SafetensorsWriter.write(file, tensors);

        byte[] raw = Files.readAllBytes(file);
        ByteBuffer b = ByteBuffer.wrap(raw).order(ByteOrder.LITTLE_ENDIAN);
        long headerLen = b.getLong(0);
        assertThat(headerLen % 8).as("header padded to 8 bytes").isZero();
        String header = new String(raw, 8, (int) headerLen, java.nio.charset.StandardCharsets.UTF_8);
        assertThat(header).startsWith("{").endsWith(" ".repeat((int) (headerLen - header.stripTrailing().length())));
        JsonNode json = new ObjectMapper().readTree(header);
        assertThat(json.get("__metadata__").get("format").asText()).isEqualTo("pt");
        Iterator<String> names = json.fieldNames();
        assertThat(names.next()).isEqualTo("__metadata__");
        for (String expected : tensors.keySet()) {
            assertThat(names.next()).isEqualTo(expected);
        }
        // data contiguous, in order, ending exactly at the end of the file
        long offset = 0;
        for (String name : tensors.keySet()) {
            JsonNode off = json.get(name).get("data_offsets");
            assertThat(off.get(0).asLong()).isEqualTo(offset);
            offset = off.get(1).asLong();
        }
        assertThat(8 + headerLen + offset).isEqualTo(raw.length);

        try (SafetensorsStore store = SafetensorsStore.openFile(file)) {
            assertThat(List.copyOf(store.names())).containsExactlyElementsOf(tensors.keySet());
            for (Map.Entry<String, TensorData> e : tensors.entrySet()) {
                TensorData back = store.read(e.getKey());
                assertThat(back.dtype()).isEqualTo(e.getValue().dtype());
                assertThat(back.shape()).isEqualTo(e.getValue().shape());
                assertThat(bytesOf(back)).as(e.getKey()).isEqualTo(bytesOf(e.getValue()));
            }
            // writing what was read gives the identical file
            Map<String, TensorData> again = new LinkedHashMap<>();
            for (String name : store.names()) {
                again.put(name, store.read(name));
            }
            Path copy = dir.resolve("copy.safetensors");
            SafetensorsWriter.write(copy, again);
            assertThat(Files.readAllBytes(copy)).isEqualTo(raw);
        }
    }

    @Test
    void rewritingAHuggingFaceFileInItsOrderReproducesItByteForByte() throws IOException {
        // the fixture was written by Python safetensors; same tensors in the same order -> same bytes
        Path source = SharedFiles.path("fixtures/hf/bert-seqcls/model.safetensors");
        Path out = dir.resolve("model.safetensors");
        try (SafetensorsStore store = SafetensorsStore.openFile(source)) {
            Map<String, TensorData> all = new LinkedHashMap<>();
            store.names().forEach(n -> all.put(n, store.read(n)));
            SafetensorsWriter.write(out, all);
        }
        assertThat(out).hasSameBinaryContentAs(source);
    }

    @Test
    void writtenFilesGetOrdinaryPermissions() throws IOException {
        Path file = dir.resolve("model.safetensors");
        SafetensorsWriter.write(file, Map.of("a", TensorData.ofFloats(new long[] {1}, new float[] {1})));
        if (Files.getFileStore(file).supportsFileAttributeView("posix")) {
            assertThat(Files.getPosixFilePermissions(file)).contains(java.nio.file.attribute.PosixFilePermission.OTHERS_READ);
        }
    }

    @Test
    void rewritingAHuggingFaceFilePreservesEveryTensor() {
        Path source = SharedFiles.path("fixtures/hf/bert-seqcls/model.safetensors");
        Path out = dir.resolve("model.safetensors");
        try (SafetensorsStore store = SafetensorsStore.openFile(source)) {
            Map<String, TensorData> all = new LinkedHashMap<>();
            store.names().forEach(n -> all.put(n, store.read(n)));
            SafetensorsWriter.write(out, all);
            try (SafetensorsStore back = SafetensorsStore.openFile(out)) {
                assertThat(back.names()).containsExactlyElementsOf(store.names());
                for (String n : store.names()) {
                    assertThat(bytesOf(back.read(n))).as(n).isEqualTo(bytesOf(store.read(n)));
                }
            }
        }
    }

    @Test
    void replacesAtomicallyAndLeavesNoTemporaryFiles() throws IOException {
        Path file = dir.resolve("model.safetensors");
        SafetensorsWriter.write(file, Map.of("a", TensorData.ofFloats(new long[] {1}, new float[] {1})));
        SafetensorsWriter.write(file, Map.of("b", TensorData.ofFloats(new long[] {2}, new float[] {2, 3})));
        try (SafetensorsStore store = SafetensorsStore.openFile(file)) {
            assertThat(store.names()).containsExactly("b");
        }
        try (Stream<Path> files = Files.list(dir)) {
            assertThat(files).containsExactly(file);
        }
    }

    @Test
    void missingFolderIsATypedErrorAndWritesNothing() {
        Path file = dir.resolve("absent/model.safetensors");
        assertThatThrownBy(() -> SafetensorsWriter.write(file, everyDType()))
                .isInstanceOf(AttuneException.class)
                .hasMessageContaining(file.toString());
        assertThat(Files.exists(dir.resolve("absent"))).isFalse();
    }

    @Test
    void reservedNameIsRejected() {
        assertThatThrownBy(() -> SafetensorsWriter.write(dir.resolve("x.safetensors"),
                        Map.of("__metadata__", TensorData.ofFloats(new long[] {1}, new float[] {1}))))
                .isInstanceOf(IllegalArgumentException.class);
    }
}
