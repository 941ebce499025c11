package dev.attune.formats.hf;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.attune.error.InvalidCheckpointException;
import java.io.IOException;
import java.nio.file.Path;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The safetensors format forbids tensors sharing bytes; such a header is refused, naming both tensors. */
class SafetensorsOverlapTest {
    @TempDir Path dir;

    @ParameterizedTest(name = "a [{0}, {1}), b [{2}, {3}) -> refused: {4}")
    @CsvSource({
        "0, 16, 8, 24, true",   // b starts inside a
        "0, 16, 0, 16, true",   // the same bytes twice
        "8, 24, 0, 16, true",   // listed in the other order
        "0, 16, 16, 32, false", // adjacent: fine
        "0, 16, 4, 4, false",   // an empty tensor occupies no bytes
    })
    void overlappingTensorsAreRefused(long aBegin, long aEnd, long bBegin, long bEnd, boolean refused) throws IOException {
        String header = "{\"a\":{\"dtype\":\"F32\",\"shape\":[" + (aEnd - aBegin) / 4 + "],\"data_offsets\":[" + aBegin + ","
                + aEnd + "]},\"b\":{\"dtype\":\"F32\",\"shape\":[" + (bEnd - bBegin) / 4 + "],\"data_offsets\":[" + bBegin
                + "," + bEnd + "]}}";
        Path file = SafetensorsTestFiles.write(dir.resolve("model.safetensors"),
                SafetensorsTestFiles.bytes(header, new byte[32]));
        if (refused) {
            assertThatThrownBy(() -> SafetensorsStore.openFile(file).close())
                    .isInstanceOf(InvalidCheckpointException.class).hasMessageContaining("overlap")
                    .hasMessageContaining("'a'").hasMessageContaining("'b'");
        } else {
            try (SafetensorsStore store = SafetensorsStore.openFile(file)) {
                assertThat(store.names()).containsExactlyInAnyOrder("a", "b");
            }
        }
    }
}
