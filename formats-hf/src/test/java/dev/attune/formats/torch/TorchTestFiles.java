package dev.attune.formats.torch;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/** Builds pickles opcode by opcode and torch.save-layout archives around them, for tests. */
final class TorchTestFiles {
    private TorchTestFiles() {}

    /** A pickle under construction. */
    static final class Pickle {
        private final ByteArrayOutputStream out = new ByteArrayOutputStream();

        Pickle op(int... bytes) {
            for (int b : bytes) {
                out.write(b);
            }
            return this;
        }

        Pickle str(String s) {
            byte[] b = s.getBytes(StandardCharsets.UTF_8);
            op('X');
            int n = b.length;
            op(n & 0xff, n >>> 8 & 0xff, n >>> 16 & 0xff, n >>> 24);
            out.writeBytes(b);
            return this;
        }

        Pickle global(String module, String name) {
            op('c');
            out.writeBytes((module + "\n" + name + "\n").getBytes(StandardCharsets.US_ASCII));
            return this;
        }

        Pickle integer(int v) {
            op('J', v & 0xff, v >>> 8 & 0xff, v >>> 16 & 0xff, v >>> 24);
            return this;
        }

        /** Pushes a tuple of ints. */
        Pickle ints(int... values) {
            op('(');
            for (int v : values) {
                integer(v);
            }
            return op('t');
        }

        /** Pushes {@code _rebuild_tensor_v2(storage(key, numel), offset, size, stride, False, OrderedDict())}. */
        Pickle tensor(String storageClass, String key, int numel, int offset, int[] size, int[] stride) {
            global("torch._utils", "_rebuild_tensor_v2");
            op('(');
            op('(').str("storage").global("torch", storageClass).str(key).str("cpu").integer(numel).op('t', 'Q');
            integer(offset);
            ints(size);
            ints(stride);
            op(0x89);
            global("collections", "OrderedDict").op(')', 'R');
            return op('t', 'R');
        }

        byte[] bytes() {
            return out.toByteArray();
        }
    }

    static Pickle pickle() {
        return new Pickle().op(0x80, 2);
    }

    /**
     * @param file where to write
     * @param pickle the data.pkl
     * @param storages entry key -> bytes
     */
    static Path archive(Path file, byte[] pickle, Map<String, byte[]> storages) throws IOException {
        Files.write(file, archiveBytes("archive", pickle, storages));
        return file;
    }

    static byte[] archiveBytes(String prefix, byte[] pickle, Map<String, byte[]> storages) {
        Map<String, byte[]> records = new LinkedHashMap<>();
        records.put("data.pkl", pickle);
        storages.forEach((key, content) -> records.put("data/" + key, content));
        // torch.save's container: every record stored (uncompressed) under one folder, the version last
        java.io.ByteArrayOutputStream bytes = new java.io.ByteArrayOutputStream();
        try (java.util.zip.ZipOutputStream zip = new java.util.zip.ZipOutputStream(bytes)) {
            records.put("version", "3\n".getBytes(java.nio.charset.StandardCharsets.US_ASCII));
            for (Map.Entry<String, byte[]> r : records.entrySet()) {
                java.util.zip.ZipEntry e = new java.util.zip.ZipEntry(prefix + "/" + r.getKey());
                e.setMethod(java.util.zip.ZipEntry.STORED);
                e.setSize(r.getValue().length);
                java.util.zip.CRC32 crc = new java.util.zip.CRC32();
                crc.update(r.getValue());
                e.setCrc(crc.getValue());
                zip.putNextEntry(e);
                zip.write(r.getValue());
                zip.closeEntry();
            }
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        return bytes.toByteArray();
    }
}
