package dev.attune.core.train;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.attune.testing.TensorBoardEvents;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The event file reads back through an independent TFRecord + protobuf decoder, checksums verified. */
class TensorBoardWriterTest {
    @TempDir
    Path tmp;

    @Test
    void scalarsRoundTripWithValidChecksums() throws Exception {
        Path file;
        try (TensorBoardWriter w = TensorBoardWriter.create(tmp.resolve("runs"))) {
            w.scalar("train/loss", 0.6931, 1);
            w.scalar("train/learning_rate", 5e-5, 2);
            w.scalar("eval/accuracy", 0.875, 300);
            file = w.file();
        }
        assertThat(file.getFileName().toString()).startsWith("events.out.tfevents.");
        List<TensorBoardEvents.Event> events = TensorBoardEvents.read(file);
        assertThat(events).hasSize(4);
        assertThat(events.get(0).fileVersion()).isEqualTo("brain.Event:2");
        assertThat(events.get(0).wallTime()).isGreaterThan(1.6e9);
        assertThat(events.get(1).tag()).isEqualTo("train/loss");
        assertThat(events.get(1).value()).isEqualTo(0.6931f);
        assertThat(events.get(1).step()).isEqualTo(1);
        assertThat(events.get(2).value()).isEqualTo(5e-5f);
        assertThat(events.get(3).tag()).isEqualTo("eval/accuracy");
        assertThat(events.get(3).step()).isEqualTo(300);
    }

    @Test
    void maskedCrcMatchesTheTfRecordReference() {
        // CRC32C("123456789") = 0xE3069283 (RFC 3720 check value); masked as TensorFlow's crc32c::Mask
        int crc = 0xE3069283;
        int expected = ((crc >>> 15) | (crc << 17)) + 0xa282ead8;
        byte[] data = "123456789".getBytes(StandardCharsets.US_ASCII);
        assertThat(TensorBoardWriter.maskedCrc(data, 0, data.length)).isEqualTo(expected);
    }

    @Test
    void aFlippedByteIsDetected() throws Exception {
        Path file;
        try (TensorBoardWriter w = TensorBoardWriter.create(tmp)) {
            w.scalar("x", 1, 1);
            file = w.file();
        }
        byte[] bytes = Files.readAllBytes(file);
        bytes[bytes.length - 6] ^= 1;
        Files.write(file, bytes);
        assertThatThrownBy(() -> TensorBoardEvents.read(file)).hasMessageContaining("CRC32C");
    }
}
