package dev.attune.core.train;

import org.apiguardian.api.API;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.zip.CRC32C;

/**
 * Writes scalar summaries as a TensorBoard event file ({@code events.out.tfevents.<time>.<host>}).
 *
 * <p>Why by hand: the file is a sequence of TFRecords (length, masked CRC32C of the length, payload,
 * masked CRC32C of the payload) whose payloads are {@code tensorflow.Event} protobuf messages; a
 * scalar needs only five fields of three messages (Event.wall_time, step, file_version, summary;
 * Summary.value; Value.tag, simple_value). Encoding them directly takes a few dozen lines, while
 * protobuf-java would add a runtime dependency and generated classes to the API module for the same
 * bytes. The JDK provides CRC32C.
 *
 * <p>Each record is flushed as it is written, so TensorBoard sees a running job and a crash loses at
 * most the record being written; readers stop at a torn last record.
 */
@API(status = API.Status.INTERNAL, since = "0.1")
public final class TensorBoardWriter implements AutoCloseable {
    private static final int MASK_DELTA = 0xa282ead8;
    private final OutputStream out;
    private final Path file;

    private TensorBoardWriter(Path file, OutputStream out) {
        this.file = file;
        this.out = out;
    }

    /**
     * Creates a new event file in a folder and writes its version record.
     *
     * @param dir the log folder (created if missing)
     * @return the writer
     * @throws IOException when the file cannot be created
     */
    public static TensorBoardWriter create(Path dir) throws IOException {
        Files.createDirectories(dir);
        long now = System.currentTimeMillis();
        String host;
        try {
            host = InetAddress.getLocalHost().getHostName();
        } catch (IOException e) {
            host = "localhost";
        }
        Path file = dir.resolve("events.out.tfevents." + now / 1000 + "." + host + "." + ProcessHandle.current().pid());
        for (int i = 1; Files.exists(file); i++) {
            file = dir.resolve("events.out.tfevents." + now / 1000 + "." + host + "." + ProcessHandle.current().pid() + "." + i);
        }
        TensorBoardWriter w = new TensorBoardWriter(file,
                Files.newOutputStream(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE));
        ByteArrayOutputStream event = new ByteArrayOutputStream();
        writeDouble(event, 1, now / 1000.0);
        writeBytes(event, 3, "brain.Event:2".getBytes(StandardCharsets.UTF_8));
        w.record(event.toByteArray());
        return w;
    }

    /** @return the event file */
    public Path file() {
        return file;
    }

    /**
     * Appends one scalar.
     *
     * @param tag the series name, e.g. {@code train/loss}
     * @param value the value
     * @param step the x coordinate (optimizer step)
     * @throws IOException when writing fails
     */
    public void scalar(String tag, double value, long step) throws IOException {
        ByteArrayOutputStream v = new ByteArrayOutputStream();
        writeBytes(v, 1, tag.getBytes(StandardCharsets.UTF_8)); // Summary.Value.tag
        writeTag(v, 2, 5); // Summary.Value.simple_value (float, fixed32)
        v.writeBytes(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putFloat((float) value).array());
        ByteArrayOutputStream summary = new ByteArrayOutputStream();
        writeBytes(summary, 1, v.toByteArray()); // Summary.value
        ByteArrayOutputStream event = new ByteArrayOutputStream();
        writeDouble(event, 1, System.currentTimeMillis() / 1000.0); // Event.wall_time
        writeTag(event, 2, 0); // Event.step
        writeVarint(event, step);
        writeBytes(event, 5, summary.toByteArray()); // Event.summary
        record(event.toByteArray());
    }

    private void record(byte[] payload) throws IOException {
        ByteBuffer header = ByteBuffer.allocate(12).order(ByteOrder.LITTLE_ENDIAN);
        header.putLong(payload.length);
        header.putInt(maskedCrc(header.array(), 0, 8));
        out.write(header.array());
        out.write(payload);
        out.write(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(maskedCrc(payload, 0, payload.length))
                .array());
        out.flush();
    }

    /**
     * TFRecord's masked CRC32C: rotate right by 15 bits and add a constant, so that a CRC stored in
     * data that is itself checksummed does not weaken the outer checksum.
     *
     * @param data bytes
     * @param off start
     * @param len length
     * @return the masked checksum
     */
    public static int maskedCrc(byte[] data, int off, int len) {
        CRC32C crc = new CRC32C();
        crc.update(data, off, len);
        int c = (int) crc.getValue();
        return ((c >>> 15) | (c << 17)) + MASK_DELTA;
    }

    private static void writeTag(ByteArrayOutputStream out, int field, int wireType) {
        writeVarint(out, ((long) field << 3) | wireType);
    }

    private static void writeVarint(ByteArrayOutputStream out, long v) {
        while ((v & ~0x7FL) != 0) {
            out.write((int) ((v & 0x7F) | 0x80));
            v >>>= 7;
        }
        out.write((int) v);
    }

    private static void writeDouble(ByteArrayOutputStream out, int field, double v) {
        writeTag(out, field, 1);
        out.writeBytes(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putDouble(v).array());
    }

    private static void writeBytes(ByteArrayOutputStream out, int field, byte[] bytes) {
        writeTag(out, field, 2);
        writeVarint(out, bytes.length);
        out.writeBytes(bytes);
    }

    @Override
    public void close() throws IOException {
        out.close();
    }
}
