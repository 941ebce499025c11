package dev.attune.testing;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.CRC32C;

/**
 * An independent reader of TensorBoard event files for tests: checks every TFRecord's masked CRC32C
 * of the length and of the payload, and decodes {@code Event} messages (wall_time, step,
 * file_version, summary values with tag and simple_value) from the protobuf wire format, skipping
 * fields it does not know as a protobuf parser would.
 */
public final class TensorBoardEvents {
    private TensorBoardEvents() {}

    /** One decoded event: a version record ({@code fileVersion} set) or a scalar. */
    public record Event(double wallTime, long step, String fileVersion, String tag, Float value) {}

    /**
     * @param file an event file
     * @return its events in order
     * @throws IOException on read failure
     * @throws IllegalStateException on a bad checksum or malformed message
     */
    public static List<Event> read(Path file) throws IOException {
        ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(file)).order(ByteOrder.LITTLE_ENDIAN);
        List<Event> out = new ArrayList<>();
        while (b.remaining() > 0) {
            byte[] lenBytes = new byte[8];
            b.get(lenBytes);
            long len = ByteBuffer.wrap(lenBytes).order(ByteOrder.LITTLE_ENDIAN).getLong();
            check(b.getInt(), lenBytes, "length");
            byte[] payload = new byte[Math.toIntExact(len)];
            b.get(payload);
            check(b.getInt(), payload, "payload");
            out.addAll(decodeEvent(payload));
        }
        return out;
    }

    private static void check(int stored, byte[] data, String what) {
        CRC32C crc = new CRC32C();
        crc.update(data);
        int c = (int) crc.getValue();
        int masked = ((c >>> 15) | (c << 17)) + 0xa282ead8;
        if (masked != stored) {
            throw new IllegalStateException("bad masked CRC32C of the record " + what);
        }
    }

    private static List<Event> decodeEvent(byte[] msg) {
        Reader r = new Reader(msg);
        double wall = 0;
        long step = 0;
        String version = null;
        List<String[]> values = new ArrayList<>();
        List<Float> floats = new ArrayList<>();
        while (r.more()) {
            long key = r.varint();
            int field = (int) (key >>> 3);
            int wire = (int) (key & 7);
            if (field == 1 && wire == 1) {
                wall = Double.longBitsToDouble(r.fixed64());
            } else if (field == 2 && wire == 0) {
                step = r.varint();
            } else if (field == 3 && wire == 2) {
                version = new String(r.bytes(), StandardCharsets.UTF_8);
            } else if (field == 5 && wire == 2) {
                Reader summary = new Reader(r.bytes());
                while (summary.more()) {
                    long k = summary.varint();
                    if ((k >>> 3) == 1 && (k & 7) == 2) {
                        Reader value = new Reader(summary.bytes());
                        String tag = null;
                        Float v = null;
                        while (value.more()) {
                            long vk = value.varint();
                            if ((vk >>> 3) == 1 && (vk & 7) == 2) {
                                tag = new String(value.bytes(), StandardCharsets.UTF_8);
                            } else if ((vk >>> 3) == 2 && (vk & 7) == 5) {
                                v = Float.intBitsToFloat(value.fixed32());
                            } else {
                                value.skip((int) (vk & 7));
                            }
                        }
                        values.add(new String[] {tag});
                        floats.add(v);
                    } else {
                        summary.skip((int) (k & 7));
                    }
                }
            } else {
                r.skip(wire);
            }
        }
        List<Event> out = new ArrayList<>();
        if (values.isEmpty()) {
            out.add(new Event(wall, step, version, null, null));
        }
        for (int i = 0; i < values.size(); i++) {
            out.add(new Event(wall, step, version, values.get(i)[0], floats.get(i)));
        }
        return out;
    }

    /** Protobuf wire-format cursor. */
    private static final class Reader {
        private final ByteBuffer b;

        Reader(byte[] data) {
            b = ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN);
        }

        boolean more() {
            return b.hasRemaining();
        }

        long varint() {
            long v = 0;
            for (int shift = 0; shift < 64; shift += 7) {
                byte x = b.get();
                v |= (long) (x & 0x7F) << shift;
                if ((x & 0x80) == 0) {
                    return v;
                }
            }
            throw new IllegalStateException("malformed varint");
        }

        long fixed64() {
            return b.getLong();
        }

        int fixed32() {
            return b.getInt();
        }

        byte[] bytes() {
            byte[] out = new byte[Math.toIntExact(varint())];
            b.get(out);
            return out;
        }

        void skip(int wire) {
            switch (wire) {
                case 0 -> varint();
                case 1 -> b.position(b.position() + 8);
                case 2 -> bytes();
                case 5 -> b.position(b.position() + 4);
                default -> throw new IllegalStateException("unsupported wire type " + wire);
            }
        }
    }
}
