package dev.attune.formats.hf;

import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.attune.error.InvalidCheckpointException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A shard name with terminal escapes, from a hostile index, reaches the message escaped. */
class ControlCharactersInMessagesTest {
    @TempDir Path dir;

    @Test
    void shardNamesWithEscapesArePrintedEscaped() throws IOException {
        Files.writeString(dir.resolve(SafetensorsStore.INDEX_FILE),
                "{\"weight_map\": {\"w\": \"shard\\u001b[2J\\u001b]0;owned\\u0007\\r.safetensors\"}}");
        assertThatThrownBy(() -> SafetensorsStore.open(dir).close()).isInstanceOf(InvalidCheckpointException.class)
                .hasMessageContaining("shard\\u001B[2J\\u001B]0;owned\\u0007\\u000D.safetensors")
                .satisfies(e -> org.assertj.core.api.Assertions.assertThat(e.getMessage())
                        .doesNotContainPattern("[\\x00-\\x08\\x0b-\\x1f\\x7f]"));
    }
}
