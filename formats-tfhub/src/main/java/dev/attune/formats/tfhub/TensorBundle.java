package dev.attune.formats.tfhub;

import dev.attune.error.InvalidCheckpointException;
import dev.attune.ops.DType;
import dev.attune.ops.TensorData;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import org.tensorflow.proto.BundleEntryProto;
import org.tensorflow.proto.BundleHeaderProto;
import org.tensorflow.proto.DataType;

/**
 * Reads a TensorFlow checkpoint ("tensor bundle", the {@code variables/} folder of a SavedModel)
 * without running TensorFlow: {@code variables.index} is a LevelDB-format table (uncompressed
 * blocks of prefix-compressed keys) mapping each checkpoint key to a {@code BundleEntryProto} (type,
 * shape, shard, offset, size); the values are raw little-endian bytes in {@code
 * variables.data-NNNNN-of-MMMMM}. TensorFlow Java ships the protos but no reader for the table, so the
 * ~60 lines of table parsing are written here.
 */
final class TensorBundle {
    private static final long TABLE_MAGIC = 0xdb4775248b80fb57L;
    private static final int FOOTER_LENGTH = 48;
    private static final int BLOCK_TRAILER = 5;

    private final Path prefix;
    private final Path index;
    private final int shards;
    private final Map<String, BundleEntryProto> entries;

    private TensorBundle(Path prefix, Path index, int shards, Map<String, BundleEntryProto> entries) {
        this.prefix = prefix;
        this.index = index;
        this.shards = shards;
        this.entries = entries;
    }

    /**
     * @param prefix the checkpoint prefix, e.g. {@code <saved model>/variables/variables}
     * @return the bundle's index, read
     * @throws InvalidCheckpointException when the index is missing or malformed
     */
    static TensorBundle open(Path prefix) {
        Path index = Path.of(prefix + ".index");
        if (!Files.isRegularFile(index)) {
            throw new InvalidCheckpointException(index + " is missing: a TensorFlow SavedModel keeps its weights in "
                    + "variables/variables.index and variables.data-*; download the complete model folder");
        }
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(index);
        } catch (IOException e) {
            throw new InvalidCheckpointException(index + ": cannot be read (" + e + ")", e);
        }
        try {
            Map<String, byte[]> raw = readTable(bytes);
            BundleHeaderProto header = BundleHeaderProto.parseFrom(raw.getOrDefault("", new byte[0]));
            if (header.getEndianness() != BundleHeaderProto.Endianness.LITTLE) {
                throw new InvalidCheckpointException(index + ": big-endian checkpoints are not supported; re-save the "
                        + "model on a little-endian machine");
            }
            Map<String, BundleEntryProto> entries = new LinkedHashMap<>();
            for (Map.Entry<String, byte[]> e : raw.entrySet()) {
                if (!e.getKey().isEmpty()) {
                    entries.put(e.getKey(), BundleEntryProto.parseFrom(e.getValue()));
                }
            }
            return new TensorBundle(prefix, index, Math.max(1, header.getNumShards()), Collections.unmodifiableMap(entries));
        } catch (com.google.protobuf.InvalidProtocolBufferException | RuntimeException e) {
            if (e instanceof InvalidCheckpointException ice) {
                throw ice;
            }
            throw new InvalidCheckpointException(index + ": not a valid TensorFlow checkpoint index (" + e.getMessage()
                    + "); re-download the SavedModel's variables folder", e);
        }
    }

    /** @return checkpoint keys to their entries, in key order */
    Map<String, BundleEntryProto> entries() {
        return entries;
    }

    /** @return where the index came from */
    Path index() {
        return index;
    }

    /**
     * @param key a checkpoint key
     * @return a numeric tensor's value (FLOAT32, FLOAT16, INT64, INT32 or BOOL)
     */
    TensorData read(String key) {
        BundleEntryProto e = entry(key);
        DType type = switch (e.getDtype()) {
            case DT_FLOAT -> DType.FLOAT32;
            case DT_HALF -> DType.FLOAT16;
            case DT_INT64 -> DType.INT64;
            case DT_INT32 -> DType.INT32;
            case DT_BOOL -> DType.BOOL;
            default -> throw new InvalidCheckpointException(index + ": tensor '" + key + "' has type " + e.getDtype()
                    + ", which Attune does not read");
        };
        long[] shape = shape(e);
        long expected = TensorData.elementCount(shape) * type.byteSize();
        if (e.getSize() != expected) {
            throw new InvalidCheckpointException(index + ": tensor '" + key + "' claims " + e.getSize() + " bytes but its "
                    + "shape needs " + expected + "; the checkpoint is corrupt, re-download it");
        }
        ByteBuffer data = bytes(e, key);
        return new TensorData(type, shape, data.order(ByteOrder.LITTLE_ENDIAN));
    }

    /**
     * @param key a checkpoint key of a scalar string tensor
     * @return its bytes
     */
    byte[] readString(String key) {
        BundleEntryProto e = entry(key);
        if (e.getDtype() != DataType.DT_STRING || TensorData.elementCount(shape(e)) != 1) {
            throw new InvalidCheckpointException(index + ": tensor '" + key + "' is not a scalar string");
        }
        ByteBuffer b = bytes(e, key);
        // a string tensor is stored as varint64 lengths, a 4-byte checksum of them, then the bytes
        long length;
        try {
            length = readVarint(b);
        } catch (java.nio.BufferUnderflowException | IllegalArgumentException bad) {
            length = -1;
        }
        if (length < 0 || b.remaining() < 4 || length > b.remaining() - 4) {
            throw new InvalidCheckpointException(index + ": string tensor '" + key + "' is truncated or malformed; "
                    + "re-download the SavedModel's variables folder");
        }
        b.position(b.position() + 4);
        byte[] out = new byte[(int) length];
        b.get(out);
        return out;
    }

    private BundleEntryProto entry(String key) {
        BundleEntryProto e = entries.get(key);
        if (e == null) {
            throw new InvalidCheckpointException(index + ": no tensor '" + key + "' in the checkpoint");
        }
        if (e.getSlicesCount() > 0) {
            throw new InvalidCheckpointException(index + ": tensor '" + key + "' is saved in slices (partitioned "
                    + "variables), which Attune does not read; export the model unpartitioned");
        }
        return e;
    }

    static long[] shape(BundleEntryProto e) {
        long[] shape = new long[e.getShape().getDimCount()];
        for (int i = 0; i < shape.length; i++) {
            shape[i] = e.getShape().getDim(i).getSize();
        }
        return shape;
    }

    private ByteBuffer bytes(BundleEntryProto e, String key) {
        if (e.getShardId() < 0 || e.getShardId() >= shards) {
            throw new InvalidCheckpointException(index + ": tensor '" + key + "' names shard " + e.getShardId() + " of "
                    + shards);
        }
        Path data = Path.of(String.format("%s.data-%05d-of-%05d", prefix, e.getShardId(), shards));
        try (FileChannel ch = FileChannel.open(data, StandardOpenOption.READ)) {
            if (e.getOffset() < 0 || e.getOffset() + e.getSize() > ch.size()) {
                throw new InvalidCheckpointException(data + ": tensor '" + key + "' lies beyond the end of the file ("
                        + ch.size() + " bytes); the download is incomplete");
            }
            ByteBuffer buf = ByteBuffer.allocate(Math.toIntExact(e.getSize()));
            long pos = e.getOffset();
            while (buf.hasRemaining()) {
                int n = ch.read(buf, pos);
                if (n < 0) {
                    break;
                }
                pos += n;
            }
            buf.flip();
            return buf;
        } catch (IOException ex) {
            throw new InvalidCheckpointException(data + ": cannot be read (" + ex + "); the SavedModel's variables "
                    + "folder is incomplete, re-download it", ex);
        }
    }

    // ---------------------------------------------------------------- LevelDB-format table

    /** Reads every key/value of an uncompressed table (index block -> data blocks). */
    static Map<String, byte[]> readTable(byte[] file) {
        if (file.length < FOOTER_LENGTH) {
            throw new IllegalArgumentException("file of " + file.length + " bytes is too short for a table footer");
        }
        ByteBuffer footer = ByteBuffer.wrap(file, file.length - FOOTER_LENGTH, FOOTER_LENGTH).order(ByteOrder.LITTLE_ENDIAN);
        long magic = footer.getLong(file.length - 8);
        if (magic != TABLE_MAGIC) {
            throw new IllegalArgumentException("bad table magic number");
        }
        readVarint(footer); // metaindex offset
        readVarint(footer); // metaindex size
        long indexOffset = readVarint(footer);
        long indexSize = readVarint(footer);
        Map<String, byte[]> out = new LinkedHashMap<>();
        for (byte[] handle : readBlock(file, indexOffset, indexSize).values()) {
            ByteBuffer h = ByteBuffer.wrap(handle);
            long offset = readVarint(h);
            long size = readVarint(h);
            for (Map.Entry<String, byte[]> e : readBlock(file, offset, size).entrySet()) {
                out.put(e.getKey(), e.getValue());
            }
        }
        return out;
    }

    private static Map<String, byte[]> readBlock(byte[] file, long offset, long size) {
        if (offset < 0 || size < 4 || offset + size + BLOCK_TRAILER > file.length) {
            throw new IllegalArgumentException("block at " + offset + " (" + size + " bytes) lies outside the file");
        }
        int start = (int) offset;
        int end = (int) (offset + size);
        if (file[end] != 0) {
            throw new IllegalArgumentException("compressed table block (type " + file[end] + ") is not supported");
        }
        ByteBuffer b = ByteBuffer.wrap(file, start, (int) size).order(ByteOrder.LITTLE_ENDIAN);
        int restarts = b.getInt(end - 4);
        int dataEnd = end - 4 - 4 * restarts;
        if (restarts < 0 || dataEnd < start) {
            throw new IllegalArgumentException("bad restart count " + restarts);
        }
        Map<String, byte[]> out = new LinkedHashMap<>();
        byte[] last = new byte[0];
        b.position(start);
        while (b.position() < dataEnd) {
            int shared = (int) readVarint(b);
            int unshared = (int) readVarint(b);
            int valueLength = (int) readVarint(b);
            if (shared > last.length || unshared < 0 || valueLength < 0 || b.position() + unshared + valueLength > dataEnd) {
                throw new IllegalArgumentException("bad block entry at " + b.position());
            }
            byte[] key = new byte[shared + unshared];
            System.arraycopy(last, 0, key, 0, shared);
            b.get(key, shared, unshared);
            byte[] value = new byte[valueLength];
            b.get(value);
            out.put(new String(key, java.nio.charset.StandardCharsets.UTF_8), value);
            last = key;
        }
        return out;
    }

    static long readVarint(ByteBuffer b) {
        long result = 0;
        for (int shift = 0; shift < 64; shift += 7) {
            byte v = b.get();
            result |= (long) (v & 0x7f) << shift;
            if ((v & 0x80) == 0) {
                return result;
            }
        }
        throw new IllegalArgumentException("varint longer than 10 bytes");
    }
}
