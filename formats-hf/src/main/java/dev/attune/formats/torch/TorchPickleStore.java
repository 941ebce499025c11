package dev.attune.formats.torch;

import org.apiguardian.api.API;

import dev.attune.error.InvalidCheckpointException;
import dev.attune.formats.torch.TorchUnpickler.TensorRef;
import dev.attune.model.WeightStore.TensorInfo;
import dev.attune.model.WeightStore;
import dev.attune.ops.TensorData;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Collections;
import java.util.Enumeration;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The tensors of a {@code torch.save} checkpoint such as a HuggingFace {@code pytorch_model.bin}:
 * a zip archive whose {@code <name>/data.pkl} pickle describes a state dict and whose {@code
 * <name>/data/<key>} entries hold the raw little-endian storages.
 *
 * <p>The pickle is read by a restricted unpickler that executes nothing: any Python global other
 * than those a state dict of tensors needs is rejected with an {@link InvalidCheckpointException}
 * naming it. Every tensor's storage, offset, sizes and strides are checked against the archive
 * when the store opens; data is read from the archive per tensor on {@link #read}. Non-contiguous
 * tensors are copied into row-major order; views that reuse elements (expanded tensors) are
 * rejected. Safe for concurrent reads.
 */
@API(status = API.Status.INTERNAL, since = "0.1")
public final class TorchPickleStore implements WeightStore {
    /** File name of a single-file PyTorch checkpoint in a HuggingFace folder. */
    public static final String SINGLE_FILE = "pytorch_model.bin";

    private static final Logger LOG = LoggerFactory.getLogger(TorchPickleStore.class);
    private static final int MAX_ENTRIES = 1_000_000;
    private static final String REDOWNLOAD =
            "the file is truncated, corrupt or not a torch.save checkpoint; re-download it or use the model's safetensors weights";

    /** A validated tensor: where its bytes are and how to lay them out. */
    private record Tensor(String name, TensorRef ref, ZipEntry entry, boolean contiguous, long count, long lastElement) {}

    private final Path file;
    private final ZipFile zip;
    private final Map<String, Tensor> tensors;

    private TorchPickleStore(Path file, ZipFile zip, Map<String, Tensor> tensors) {
        this.file = file;
        this.zip = zip;
        this.tensors = tensors;
    }

    /**
     * Opens a checkpoint and validates the pickle and every tensor's place in the archive.
     *
     * @param file a {@code pytorch_model.bin} (zip format, PyTorch 1.6 and later)
     * @return the store
     * @throws InvalidCheckpointException when the file is missing, not a zip checkpoint, refers to a
     *     Python global outside the allowed set, or describes tensors its archive does not hold
     */
    public static TorchPickleStore open(Path file) {
        if (!Files.isRegularFile(file)) {
            throw new InvalidCheckpointException(file + ": file not found; re-download the checkpoint");
        }
        checkMagic(file);
        ZipFile zip;
        try {
            zip = new ZipFile(file.toFile());
        } catch (IOException | IllegalArgumentException e) {
            throw new InvalidCheckpointException(file + ": not a readable zip archive (" + e.getMessage() + "); "
                    + REDOWNLOAD, e);
        }
        try {
            Map<String, Tensor> tensors = readTensors(file, zip);
            LOG.debug("opened {} ({} tensors)", file, tensors.size());
            return new TorchPickleStore(file, zip, tensors);
        } catch (RuntimeException e) {
            closeQuietly(zip);
            throw e;
        }
    }

    private static void checkMagic(Path file) {
        byte[] head = new byte[4];
        int n;
        try (InputStream in = Files.newInputStream(file)) {
            n = in.readNBytes(head, 0, 4);
        } catch (IOException e) {
            throw new InvalidCheckpointException(file + ": cannot be read (" + e + "); check its permissions", e);
        }
        if (n == 4 && head[0] == 'P' && head[1] == 'K' && head[2] == 3 && head[3] == 4) {
            return;
        }
        if (n >= 1 && (head[0] & 0xff) == 0x80) {
            throw new InvalidCheckpointException(file + ": this is the legacy torch.save format (PyTorch before 1.6, "
                    + "not a zip archive), which Attune does not read; re-save it with a recent PyTorch or convert it "
                    + "to safetensors (model.save_pretrained(folder, safe_serialization=True))");
        }
        throw new InvalidCheckpointException(file + ": does not start like a zip archive; " + REDOWNLOAD);
    }

    private static Map<String, Tensor> readTensors(Path file, ZipFile zip) {
        Map<String, ZipEntry> entries = new HashMap<>();
        String prefix = null;
        try {
            Enumeration<? extends ZipEntry> en = zip.entries();
            while (en.hasMoreElements()) {
                ZipEntry e = en.nextElement();
                if (entries.size() >= MAX_ENTRIES) {
                    throw new InvalidCheckpointException(file + ": more than " + MAX_ENTRIES + " archive entries; " + REDOWNLOAD);
                }
                entries.put(e.getName(), e);
                String name = e.getName();
                int slash = name.indexOf('/');
                if (slash > 0 && name.substring(slash).equals("/data.pkl")) {
                    if (prefix != null) {
                        throw new InvalidCheckpointException(file + ": holds two pickles (" + prefix + "/data.pkl and "
                                + name + "); a torch.save checkpoint has one; " + REDOWNLOAD);
                    }
                    prefix = name.substring(0, slash);
                }
            }
        } catch (IllegalArgumentException e) { // the JDK's answer to malformed entry names
            throw new InvalidCheckpointException(file + ": the zip directory is corrupt (" + e.getMessage() + "); " + REDOWNLOAD, e);
        }
        if (prefix == null) {
            throw new InvalidCheckpointException(file + ": the archive has no <name>/data.pkl, so it was not written by "
                    + "torch.save; " + REDOWNLOAD);
        }
        String where = file + " (" + prefix + "/data.pkl)";
        ZipEntry byteorder = entries.get(prefix + "/byteorder");
        if (byteorder != null) {
            String order = new String(readEntry(file, zip, byteorder, 0, 16, false), StandardCharsets.US_ASCII).strip();
            if (!order.equals("little")) {
                throw new InvalidCheckpointException(file + ": storages are stored in '" + order + "' byte order; "
                        + "Attune reads little-endian checkpoints only. Re-save it on a little-endian machine or as safetensors");
            }
        }
        ZipEntry pklEntry = entries.get(prefix + "/data.pkl");
        if (pklEntry.getSize() > TorchUnpickler.MAX_PICKLE_BYTES) {
            throw new InvalidCheckpointException(where + ": the pickle is " + pklEntry.getSize() + " bytes, more than the "
                    + TorchUnpickler.MAX_PICKLE_BYTES + " a state dict of tensors needs; " + REDOWNLOAD);
        }
        byte[] pickle = readEntry(file, zip, pklEntry, 0, TorchUnpickler.MAX_PICKLE_BYTES + 1L, false);
        Map<String, TensorRef> refs = TorchUnpickler.readStateDict(where, pickle);
        Map<String, Tensor> out = new LinkedHashMap<>();
        long fileSize = fileSize(file);
        for (Map.Entry<String, TensorRef> e : refs.entrySet()) {
            out.put(e.getKey(), validate(file, prefix, entries, fileSize, e.getKey(), e.getValue()));
        }
        return Collections.unmodifiableMap(out);
    }

    private static Tensor validate(Path file, String prefix, Map<String, ZipEntry> entries, long fileSize,
                                   String name, TensorRef t) {
        String where = file + ": tensor '" + name + "'";
        String entryName = prefix + "/data/" + t.storage().key();
        ZipEntry entry = entries.get(entryName);
        if (entry == null) {
            throw new InvalidCheckpointException(where + ": its storage " + entryName + " is missing from the archive; " + REDOWNLOAD);
        }
        if (entry.getMethod() != ZipEntry.STORED) {
            throw new InvalidCheckpointException(where + ": storage " + entryName + " is compressed; torch.save writes "
                    + "storages uncompressed, so the archive was repacked. Re-save it with torch.save or as safetensors");
        }
        int item = t.storage().dtype().byteSize();
        long storageBytes;
        long count;
        long last = -1;
        try {
            storageBytes = Math.multiplyExact(t.storage().numel(), (long) item);
            count = TensorData.elementCount(t.shape());
            if (count > 0) {
                last = t.offset();
                for (int i = 0; i < t.shape().length; i++) {
                    last = Math.addExact(last, Math.multiplyExact(t.shape()[i] - 1, t.stride()[i]));
                }
            }
        } catch (ArithmeticException ex) {
            throw new InvalidCheckpointException(where + ": size " + Arrays.toString(t.shape()) + ", stride "
                    + Arrays.toString(t.stride()) + " and offset " + t.offset() + " overflow 64 bits; " + REDOWNLOAD, ex);
        }
        if (entry.getSize() != storageBytes || storageBytes > fileSize) {
            throw new InvalidCheckpointException(where + ": storage " + entryName + " should hold " + t.storage().numel()
                    + " elements of " + t.storage().dtype() + " (" + storageBytes + " bytes) but the archive entry holds "
                    + entry.getSize() + " bytes (file size " + fileSize + "); " + REDOWNLOAD);
        }
        if (last >= t.storage().numel() || (count == 0 && t.offset() > t.storage().numel())) {
            throw new InvalidCheckpointException(where + ": size " + Arrays.toString(t.shape()) + ", stride "
                    + Arrays.toString(t.stride()) + " and offset " + t.offset() + " reach element " + last
                    + ", past the end of its storage of " + t.storage().numel() + " elements; " + REDOWNLOAD);
        }
        boolean contiguous = isContiguous(t.shape(), t.stride());
        if (!contiguous && count > t.storage().numel()) {
            throw new InvalidCheckpointException(where + ": a view of " + count + " elements over a storage of "
                    + t.storage().numel() + " reuses elements (an expanded tensor), which Attune does not read; save "
                    + "tensor.contiguous() (or clone()) instead");
        }
        return new Tensor(name, t, entry, contiguous, count, last);
    }

    /** Row-major: each stride is the product of the later sizes, ignoring dimensions of size 1. */
    static boolean isContiguous(long[] shape, long[] stride) {
        long expected = 1;
        for (int i = shape.length - 1; i >= 0; i--) {
            if (shape[i] == 0) {
                return true;
            }
            if (shape[i] != 1 && stride[i] != expected) {
                return false;
            }
            expected *= shape[i];
        }
        return true;
    }

    @Override
    public Set<String> names() {
        return tensors.keySet();
    }

    @Override
    public TensorInfo info(String name) {
        Tensor t = tensor(name);
        return new TensorInfo(name, t.ref().storage().dtype(), t.ref().shape().clone());
    }

    @Override
    public TensorData read(String name) {
        Tensor t = tensor(name);
        TensorRef ref = t.ref();
        int item = ref.storage().dtype().byteSize();
        long bytes = t.count() * item;
        if (bytes > Integer.MAX_VALUE) {
            throw new InvalidCheckpointException(file + ": tensor '" + name + "' holds " + bytes + " bytes; a single "
                    + "tensor over 2 GiB cannot be held in one Java buffer; split it or use a smaller checkpoint");
        }
        if (t.count() == 0) {
            return new TensorData(ref.storage().dtype(), ref.shape(), ByteBuffer.allocate(0));
        }
        byte[] data;
        if (t.contiguous()) {
            data = readEntry(file, zip, t.entry(), ref.offset() * item, bytes, true);
        } else {
            long span = (t.lastElement() - ref.offset() + 1) * item;
            byte[] raw = readEntry(file, zip, t.entry(), ref.offset() * item, span, true);
            data = gather(raw, ref.shape(), ref.stride(), item, (int) t.count());
        }
        return new TensorData(ref.storage().dtype(), ref.shape(), ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN));
    }

    /** Copies a strided view (first element at 0 of raw) into row-major order. */
    private static byte[] gather(byte[] raw, long[] shape, long[] stride, int item, int count) {
        byte[] out = new byte[count * item];
        int dims = shape.length;
        long[] index = new long[dims];
        long src = 0;
        for (int n = 0; n < count; n++) {
            System.arraycopy(raw, (int) (src * item), out, n * item, item);
            for (int d = dims - 1; d >= 0; d--) {
                index[d]++;
                src += stride[d];
                if (index[d] < shape[d]) {
                    break;
                }
                src -= stride[d] * index[d];
                index[d] = 0;
            }
        }
        return out;
    }

    private Tensor tensor(String name) {
        Tensor t = tensors.get(name);
        if (t == null) {
            throw new InvalidCheckpointException(file + ": no tensor named '" + name + "' (" + tensors.size()
                    + " tensors present); check that the checkpoint matches the model type and its naming");
        }
        return t;
    }

    /**
     * Reads bytes of an entry from {@code start}: exactly {@code length} when {@code exact} (fewer
     * fail), else at most {@code length}.
     */
    private static byte[] readEntry(Path file, ZipFile zip, ZipEntry entry, long start, long length, boolean exact) {
        if (length > Integer.MAX_VALUE - 8) {
            throw new InvalidCheckpointException(file + ": entry " + entry.getName() + " is too large to read; " + REDOWNLOAD);
        }
        try (InputStream in = zip.getInputStream(entry)) {
            in.skipNBytes(start);
            byte[] b = in.readNBytes((int) length);
            if (exact && b.length < length) {
                throw new InvalidCheckpointException(file + ": entry " + entry.getName() + " ends after " + (start + b.length)
                        + " bytes, before the " + (start + length) + " its tensor needs; " + REDOWNLOAD);
            }
            return b;
        } catch (java.io.EOFException e) {
            throw new InvalidCheckpointException(file + ": entry " + entry.getName() + " is shorter than it claims; " + REDOWNLOAD, e);
        } catch (IOException e) {
            throw new InvalidCheckpointException(file + ": entry " + entry.getName() + " cannot be read (" + e.getMessage()
                    + "); " + REDOWNLOAD, e);
        }
    }

    private static long fileSize(Path file) {
        try {
            return Files.size(file);
        } catch (IOException e) {
            throw new InvalidCheckpointException(file + ": cannot be read (" + e + ")", e);
        }
    }

    @Override
    public String origin() {
        return file.toString();
    }

    @Override
    public void close() {
        closeQuietly(zip);
    }

    private static void closeQuietly(ZipFile zip) {
        try {
            zip.close();
        } catch (IOException ignored) {
            // only read
        }
    }

    @Override
    public String toString() {
        return "TorchPickleStore(" + file + ", " + tensors.size() + " tensors)";
    }
}
