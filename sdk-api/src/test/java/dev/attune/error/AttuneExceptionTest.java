package dev.attune.error;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class AttuneExceptionTest {
    @Test
    void controlCharactersFromFileContentsAreEscaped() {
        String hostile = "shard-\u001b[2J\u001b]0;pwned\u0007\r\u202eevil\u009b.safetensors";
        AttuneException e = new InvalidCheckpointException("model.safetensors.index.json: shard '" + hostile
                + "' is missing\n  download it again", new RuntimeException());
        assertThat(e.getMessage())
                .isEqualTo("model.safetensors.index.json: shard 'shard-\\u001B[2J\\u001B]0;pwned\\u0007\\u000D"
                        + "\\u202Eevil\\u009B.safetensors' is missing\n  download it again")
                .doesNotContainPattern("[\\x00-\\x08\\x0b-\\x1f\\x7f-\\x9f\\u202a-\\u202e]");
        assertThat(new ConfigurationException("tab\tand newline\nstay").getMessage()).isEqualTo("tab\tand newline\nstay");
        assertThat(new AttuneException(null).getMessage()).isNull();
    }
}
