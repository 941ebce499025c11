package dev.attune.formats.hf;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/** Builds safetensors files byte by byte, so tests do not depend on the writer under test. */
final class SafetensorsTestFiles {
    private SafetensorsTestFiles() {}

    /**
     * @param headerLength the length field to write (may lie)
     * @param header header JSON
     * @param data the data section
     * @return the file's bytes
     */
    static byte[] bytes(long headerLength, String header, byte[] data) {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + h.length + data.length).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(headerLength).put(h).put(data);
        return b.array();
    }

    /** A well-formed file. */
    static byte[] bytes(String header, byte[] data) {
        return bytes(header.getBytes(StandardCharsets.UTF_8).length, header, data);
    }

    static Path write(Path file, byte[] content) throws IOException {
        Files.write(file, content);
        return file;
    }

    /** Little-endian 16-bit values. */
    static byte[] shorts(int... values) {
        ByteBuffer b = ByteBuffer.allocate(values.length * 2).order(ByteOrder.LITTLE_ENDIAN);
        for (int v : values) {
            b.putShort((short) v);
        }
        return b.array();
    }
}
