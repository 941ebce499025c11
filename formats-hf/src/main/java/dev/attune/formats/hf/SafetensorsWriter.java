package dev.attune.formats.hf;

import org.apiguardian.api.API;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.attune.error.AttuneException;
import dev.attune.ops.DType;
import dev.attune.ops.TensorData;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.Objects;

/**
 * Writes tensors as a safetensors file that Python {@code safetensors} and {@code transformers}
 * read: the header carries {@code "__metadata__":{"format":"pt"}} and is padded with spaces to a
 * multiple of 8 bytes (as the reference writer does, so the data starts aligned), and the tensors'
 * bytes follow contiguously in the map's iteration order. The file appears atomically: readers see
 * the old file or the complete new one.
 */
@API(status = API.Status.INTERNAL, since = "0.1")
public final class SafetensorsWriter {
    private static final ObjectMapper JSON = new ObjectMapper();

    private SafetensorsWriter() {}

    /**
     * @param file the file to create or replace; its folder must exist
     * @param tensors tensors by name, written in iteration order
     * @throws AttuneException when the file cannot be written (the previous file, if any, is kept)
     * @throws IllegalArgumentException on an empty or reserved tensor name
     */
    public static void write(Path file, Map<String, TensorData> tensors) {
        byte[] header = header(tensors);
        try {
            AtomicFiles.write(file, ch -> {
                ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(0, header.length);
                AtomicFiles.writeFully(ch, len);
                AtomicFiles.writeFully(ch, ByteBuffer.wrap(header));
                for (TensorData t : tensors.values()) {
                    AtomicFiles.writeFully(ch, t.buffer());
                }
            });
        } catch (IOException e) {
            throw new AttuneException("could not write " + file + " (" + e + "); check that the folder exists, "
                    + "is writable and has free space", e);
        }
    }

    /**
     * @param tensors tensors by name
     * @return the padded JSON header for them
     */
    static byte[] header(Map<String, TensorData> tensors) {
        ObjectNode root = JSON.createObjectNode();
        root.putObject("__metadata__").put("format", "pt");
        long offset = 0;
        for (Map.Entry<String, TensorData> e : tensors.entrySet()) {
            String name = Objects.requireNonNull(e.getKey(), "tensor name");
            TensorData t = Objects.requireNonNull(e.getValue(), () -> "tensor '" + name + "'");
            if (name.isEmpty() || "__metadata__".equals(name)) {
                throw new IllegalArgumentException("invalid tensor name '" + name + "'");
            }
            long bytes = t.size() * t.dtype().byteSize();
            ObjectNode entry = root.putObject(name);
            entry.put("dtype", code(t.dtype()));
            ArrayNode shape = entry.putArray("shape");
            Arrays.stream(t.shape()).forEach(shape::add);
            entry.putArray("data_offsets").add(offset).add(offset + bytes);
            offset += bytes;
        }
        byte[] json;
        try {
            json = JSON.writeValueAsString(root).getBytes(StandardCharsets.UTF_8);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
        int padded = (json.length + 7) / 8 * 8;
        byte[] out = Arrays.copyOf(json, padded);
        Arrays.fill(out, json.length, padded, (byte) ' ');
        return out;
    }

    /**
     * @param dtype an element type
     * @return its safetensors dtype code
     */
    static String code(DType dtype) {
        return switch (dtype) {
            case FLOAT32 -> "F32";
            case FLOAT16 -> "F16";
            case BFLOAT16 -> "BF16";
            case INT64 -> "I64";
            case INT32 -> "I32";
            case BOOL -> "BOOL";
        };
    }
}
