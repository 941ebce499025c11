package dev.attune.model;

import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.attune.error.InvalidCheckpointException;
import org.junit.jupiter.api.Test;

class ModelConfigTest {
    @Test
    void jsonBeyondTheParsersLimitsIsATypedError() {
        // found by HfFilesFuzzTest: Jackson's limit errors carry no location, which used to end in a
        // NullPointerException while building the message
        String deep = "{\"a\":" + "[".repeat(5000) + "]".repeat(5000) + "}";
        assertThatThrownBy(() -> ModelConfig.parse(deep, "cfg/config.json"))
                .isInstanceOf(InvalidCheckpointException.class)
                .hasMessageContaining("cfg/config.json")
                .hasMessageContaining("not valid JSON");
    }
}
