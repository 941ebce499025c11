package dev.attune.formats.hf;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.attune.error.InvalidCheckpointException;
import dev.attune.ops.DType;
import dev.attune.ops.TensorData;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.FileChannel;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * One safetensors file: an 8-byte little-endian header length, a JSON header naming each tensor's
 * dtype, shape and byte range, then the raw data. The header is read and validated when the file
 * is opened; tensor data is memory-mapped region by region when read, so no file is ever copied
 * into the Java heap whole and files over 2 GiB work.
 */
final class SafetensorsFile implements AutoCloseable {
    /** Header size limit, the same as the reference implementation's. */
    static final long MAX_HEADER_BYTES = 100_000_000L;

    private static final String REDOWNLOAD = "the file is truncated or corrupt; re-download it";
    private static final ObjectMapper JSON = new ObjectMapper()
            .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

    /** A tensor's header entry; offsets are relative to the start of the data section. */
    record Entry(String name, DType dtype, long[] shape, long begin, long end) {}

    private final Path file;
    private final FileChannel channel;
    private final long dataStart;
    private final Map<String, Entry> entries;

    private SafetensorsFile(Path file, FileChannel channel, long dataStart, Map<String, Entry> entries) {
        this.file = file;
        this.channel = channel;
        this.dataStart = dataStart;
        this.entries = entries;
    }

    /**
     * Opens a file and validates its header.
     *
     * @param file a .safetensors file
     * @return the open file
     * @throws InvalidCheckpointException when it is missing, truncated or its header is invalid
     */
    static SafetensorsFile open(Path file) {
        FileChannel ch;
        try {
            ch = FileChannel.open(file, StandardOpenOption.READ);
        } catch (NoSuchFileException e) {
            throw new InvalidCheckpointException(file + ": file not found; re-download the checkpoint", e);
        } catch (IOException e) {
            throw new InvalidCheckpointException(file + ": cannot be opened (" + e + "); check its permissions", e);
        }
        try {
            long size = ch.size();
            if (size < 8) {
                throw new InvalidCheckpointException(file + ": only " + size + " bytes, too short for the "
                        + "8-byte header length that starts a safetensors file; " + REDOWNLOAD);
            }
            ByteBuffer lenBuf = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            readFully(ch, lenBuf, 0);
            long headerLen = lenBuf.getLong(0);
            if (headerLen < 0 || headerLen > size - 8) {
                throw new InvalidCheckpointException(file + ": header length "
                        + Long.toUnsignedString(headerLen) + " is larger than the file (" + size
                        + " bytes); " + REDOWNLOAD + " (or it is not a safetensors file)");
            }
            if (headerLen > MAX_HEADER_BYTES) {
                throw new InvalidCheckpointException(file + ": header length " + headerLen
                        + " exceeds the safetensors limit of " + MAX_HEADER_BYTES + " bytes; " + REDOWNLOAD);
            }
            ByteBuffer header = ByteBuffer.allocate((int) headerLen);
            readFully(ch, header, 8);
            long dataSize = size - 8 - headerLen;
            Map<String, Entry> entries = parseHeader(file, header.array(), dataSize);
            return new SafetensorsFile(file, ch, 8 + headerLen, entries);
        } catch (IOException e) {
            closeQuietly(ch);
            throw new InvalidCheckpointException(file + ": read failed (" + e + ")", e);
        } catch (RuntimeException e) {
            closeQuietly(ch);
            throw e;
        }
    }

    private static Map<String, Entry> parseHeader(Path file, byte[] header, long dataSize) {
        JsonNode root;
        try {
            root = JSON.readTree(header);
        } catch (JsonProcessingException e) {
            throw new InvalidCheckpointException(file + ": the JSON header is invalid ("
                    + e.getOriginalMessage() + "); " + REDOWNLOAD, e);
        } catch (IOException e) {
            throw new InvalidCheckpointException(file + ": the JSON header cannot be read (" + e + "); " + REDOWNLOAD, e);
        }
        if (root == null || !root.isObject()) {
            throw new InvalidCheckpointException(file + ": the header is not a JSON object; " + REDOWNLOAD);
        }
        Map<String, Entry> entries = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = root.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> field = it.next();
            String name = field.getKey();
            if ("__metadata__".equals(name)) {
                continue; // free-form string map (e.g. {"format":"pt"}); nothing we need
            }
            entries.put(name, parseEntry(file, name, field.getValue(), dataSize));
        }
        // the format forbids overlapping tensors: one byte would be two weights, and a write to one the other
        List<Entry> byBegin = new ArrayList<>(entries.values());
        byBegin.sort(Comparator.comparingLong(Entry::begin).thenComparingLong(Entry::end));
        Entry previous = null;
        for (Entry e : byBegin) {
            if (e.begin() == e.end()) {
                continue; // an empty tensor occupies no bytes
            }
            if (previous != null && e.begin() < previous.end()) {
                throw new InvalidCheckpointException(file + ": tensors '" + previous.name() + "' (bytes " + previous.begin()
                        + ".." + previous.end() + ") and '" + e.name() + "' (bytes " + e.begin() + ".." + e.end()
                        + ") overlap, which safetensors forbids; " + REDOWNLOAD);
            }
            previous = e;
        }
        return Collections.unmodifiableMap(entries);
    }

    private static Entry parseEntry(Path file, String name, JsonNode node, long dataSize) {
        String where = file + ": tensor '" + name + "'";
        if (!node.isObject()) {
            throw new InvalidCheckpointException(where + ": header entry is not an object; " + REDOWNLOAD);
        }
        JsonNode dtypeNode = node.get("dtype");
        if (dtypeNode == null || !dtypeNode.isTextual()) {
            throw new InvalidCheckpointException(where + ": header entry has no 'dtype' string; " + REDOWNLOAD);
        }
        DType dtype = parseDType(where, dtypeNode.textValue());

        JsonNode shapeNode = node.get("shape");
        if (shapeNode == null || !shapeNode.isArray()) {
            throw new InvalidCheckpointException(where + ": header entry has no 'shape' array; " + REDOWNLOAD);
        }
        long[] shape = new long[shapeNode.size()];
        for (int i = 0; i < shape.length; i++) {
            JsonNode d = shapeNode.get(i);
            if (!d.isIntegralNumber() || !d.canConvertToLong() || d.longValue() < 0) {
                throw new InvalidCheckpointException(where + ": shape " + shapeNode
                        + " must hold non-negative integers; " + REDOWNLOAD);
            }
            shape[i] = d.longValue();
        }

        JsonNode offsets = node.get("data_offsets");
        if (offsets == null || !offsets.isArray() || offsets.size() != 2) {
            throw new InvalidCheckpointException(where + ": header entry needs 'data_offsets' [begin, end]; " + REDOWNLOAD);
        }
        for (JsonNode o : offsets) {
            if (!o.isIntegralNumber() || !o.canConvertToLong() || o.longValue() < 0) {
                throw new InvalidCheckpointException(where + ": data_offsets " + offsets
                        + " must be non-negative integers; " + REDOWNLOAD);
            }
        }
        long begin = offsets.get(0).longValue();
        long end = offsets.get(1).longValue();
        if (end < begin) {
            throw new InvalidCheckpointException(where + ": data_offsets " + offsets + " end before they begin; " + REDOWNLOAD);
        }
        if (end > dataSize) {
            throw new InvalidCheckpointException(where + ": data_offsets " + offsets
                    + " reach past the end of the file (its data section holds " + dataSize + " bytes); " + REDOWNLOAD);
        }
        long expected;
        try {
            expected = Math.multiplyExact(TensorData.elementCount(shape), (long) dtype.byteSize());
        } catch (ArithmeticException e) {
            throw new InvalidCheckpointException(where + ": shape " + Arrays.toString(shape)
                    + " has more elements than can be addressed; " + REDOWNLOAD, e);
        }
        if (end - begin != expected) {
            throw new InvalidCheckpointException(where + ": data_offsets " + offsets + " span " + (end - begin)
                    + " bytes but shape " + Arrays.toString(shape) + " of " + dtypeNode.textValue() + " needs " + expected
                    + "; " + REDOWNLOAD);
        }
        return new Entry(name, dtype, shape, begin, end);
    }

    /**
     * @param where file and tensor, for messages
     * @param code a safetensors dtype code
     * @return the matching type
     */
    static DType parseDType(String where, String code) {
        switch (code) {
            case "F32":
                return DType.FLOAT32;
            case "F16":
                return DType.FLOAT16;
            case "BF16":
                return DType.BFLOAT16;
            case "I64":
                return DType.INT64;
            case "I32":
                return DType.INT32;
            case "BOOL":
                return DType.BOOL;
            case "F64": case "I8": case "U8": case "I16": case "U16": case "U32": case "U64":
            case "F8_E4M3": case "F8_E5M2": case "F8_E8M0": case "F4": case "F6_E2M3": case "F6_E3M2":
            case "C64":
                throw new InvalidCheckpointException(where + ": dtype " + code + " is not supported (Attune "
                        + "reads F32, F16, BF16, I64, I32 and BOOL); convert the checkpoint to float32 or "
                        + "float16 (in Python: model.to(torch.float32).save_pretrained(folder))");
            default:
                throw new InvalidCheckpointException(where + ": unknown dtype '" + code + "' (Attune reads F32, "
                        + "F16, BF16, I64, I32 and BOOL); the file is corrupt or from an unsupported writer; "
                        + "re-download or re-save it with the Python safetensors library");
        }
    }

    /** @return the file */
    Path path() {
        return file;
    }

    /** @return tensor names in header order */
    Set<String> names() {
        return entries.keySet();
    }

    /**
     * @param name a tensor name
     * @return its entry, or null
     */
    Entry entry(String name) {
        return entries.get(name);
    }

    /**
     * Maps the tensor's bytes; the buffer stays valid after {@link #close()} until it is collected.
     *
     * @param e an entry of this file
     * @return its data, as stored
     */
    TensorData read(Entry e) {
        long length = e.end() - e.begin();
        if (length > Integer.MAX_VALUE) {
            throw new InvalidCheckpointException(file + ": tensor '" + e.name() + "' holds " + length
                    + " bytes; a single tensor over 2 GiB cannot be held in one Java buffer; split it or "
                    + "use a smaller checkpoint");
        }
        ByteBuffer data;
        if (length == 0) {
            data = ByteBuffer.allocate(0);
        } else {
            try {
                data = channel.map(FileChannel.MapMode.READ_ONLY, dataStart + e.begin(), length);
            } catch (ClosedChannelException ex) {
                throw new IllegalStateException(file + " was closed; tensors can no longer be read", ex);
            } catch (IOException ex) {
                throw new InvalidCheckpointException(file + ": tensor '" + e.name() + "' cannot be mapped ("
                        + ex + "); check that the file is readable and was not changed while open", ex);
            }
        }
        return new TensorData(e.dtype(), e.shape(), data.order(ByteOrder.LITTLE_ENDIAN));
    }

    @Override
    public void close() {
        closeQuietly(channel);
    }

    private static void readFully(FileChannel ch, ByteBuffer buf, long position) throws IOException {
        long pos = position;
        while (buf.hasRemaining()) {
            int n = ch.read(buf, pos);
            if (n < 0) {
                throw new IOException("unexpected end of file at byte " + pos);
            }
            pos += n;
        }
    }

    private static void closeQuietly(FileChannel ch) {
        try {
            ch.close();
        } catch (IOException ignored) {
            // nothing useful to do: the channel was only read
        }
    }
}
