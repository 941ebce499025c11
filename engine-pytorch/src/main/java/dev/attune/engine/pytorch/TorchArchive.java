package dev.attune.engine.pytorch;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.zip.CRC32;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;

/**
 * Writes PyTorch's zip container (the one {@code torch.save} and {@code torch.jit.save} produce):
 * every record under one folder, stored uncompressed with size and CRC up front (no data
 * descriptors), and the format {@code version} record last.
 */
final class TorchArchive {
    private TorchArchive() {}

    /**
     * @param prefix the archive's folder name ({@code archive} for {@code torch.save})
     * @param records record names below the folder (such as {@code data.pkl}) and their bytes, written
     *     in iteration order
     * @return the archive's bytes, ending with the record {@code version} = 3
     */
    static byte[] write(String prefix, Map<String, byte[]> records) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (ZipOutputStream zip = new ZipOutputStream(bytes)) {
            for (Map.Entry<String, byte[]> r : records.entrySet()) {
                stored(zip, prefix + "/" + r.getKey(), r.getValue());
            }
            stored(zip, prefix + "/version", "3\n".getBytes(StandardCharsets.US_ASCII));
        } catch (IOException e) {
            throw new UncheckedIOException(e); // a ByteArrayOutputStream does not fail
        }
        return bytes.toByteArray();
    }

    private static void stored(ZipOutputStream zip, String name, byte[] content) throws IOException {
        ZipEntry e = new ZipEntry(name);
        e.setMethod(ZipEntry.STORED);
        e.setSize(content.length);
        CRC32 crc = new CRC32();
        crc.update(content);
        e.setCrc(crc.getValue());
        zip.putNextEntry(e);
        zip.write(content);
        zip.closeEntry();
    }
}
