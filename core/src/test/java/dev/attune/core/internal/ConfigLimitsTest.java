package dev.attune.core.internal;

import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.attune.error.InvalidCheckpointException;
import dev.attune.model.ModelConfig;
import dev.attune.ops.Parameter;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Config values a hostile or mistyped config.json holds are refused before anything is built, each
 * with a message naming the key; the real configs of the fixtures pass.
 */
class ConfigLimitsTest {
    static final long GB = 1L << 30;

    /** A BERT-mini config, as bert-mini-uncased-mlm has it. */
    static Map<String, Object> bertMini() {
        Map<String, Object> c = new LinkedHashMap<>();
        c.put("model_type", "bert");
        c.put("vocab_size", 30522);
        c.put("hidden_size", 256);
        c.put("num_hidden_layers", 4);
        c.put("num_attention_heads", 4);
        c.put("intermediate_size", 1024);
        c.put("max_position_embeddings", 512);
        c.put("type_vocab_size", 2);
        c.put("hidden_dropout_prob", 0.1);
        c.put("attention_probs_dropout_prob", 0.1);
        c.put("classifier_dropout", null);
        return c;
    }

    static ModelConfig with(String key, String json) {
        Map<String, Object> c = bertMini();
        ModelConfig base = ModelConfig.of(c, "config.json");
        return base.withOverrides(Map.of(key, json));
    }

    @ParameterizedTest(name = "{0} = {1}")
    @CsvSource(delimiter = '|', textBlock = """
        num_hidden_layers          | 1000000    | holds 200 tensors in all, fewer than one per layer
        num_hidden_layers          | -1         | must be a whole number of at least 1, found -1
        num_hidden_layers          | 0          | must be a whole number of at least 1
        num_hidden_layers          | 2.5        | must be a whole number
        num_hidden_layers          | "4"        | must be a whole number
        num_attention_heads        | 0          | 'num_attention_heads' must be a whole number of at least 1
        num_attention_heads        | 3          | hidden_size 256 is not a multiple of num_attention_heads 3
        hidden_size                | -256       | 'hidden_size' must be a whole number of at least 1
        vocab_size                 | 0          | 'vocab_size' must be a whole number of at least 1
        max_position_embeddings    | -5         | 'max_position_embeddings' must be a whole number
        vocab_size                 | 2147483000 | makes a 2147483000 x 256 weight
        hidden_dropout_prob        | -0.1       | 'hidden_dropout_prob' is a dropout probability and must be at least 0 and below 1, found -0.1
        attention_probs_dropout_prob | 1.5      | 'attention_probs_dropout_prob' is a dropout probability
        hidden_dropout_prob        | 1          | below 1
        """)
    void hostileValuesAreRefusedNamingTheKey(String key, String value, String message) {
        ModelConfig config = with(key, value);
        assertThatThrownBy(() -> ConfigLimits.check(config, 200, "model.safetensors", 24 * GB))
                .isInstanceOf(InvalidCheckpointException.class).hasMessageContaining("config.json")
                .hasMessageContaining(message);
    }

    @Test
    void numLabelsNear2To31AndHugeLayerCountsWithoutWeightsAreRefusedAgainstMemory() {
        ModelConfig labels = ModelConfig.of(bertMini(), "config.json").with("num_labels", 2147483000);
        assertThatThrownBy(() -> ConfigLimits.check(labels, 200, "w", 24 * GB)).hasMessageContaining("num_labels")
                .hasMessageContaining("fix num_labels");
        // built from the config alone (no weights): the layers are held to memory instead
        ModelConfig layers = with("num_hidden_layers", "1000000");
        assertThatThrownBy(() -> ConfigLimits.check(layers, 0, "", 24 * GB)).hasMessageContaining("num_hidden_layers 1000000")
                .hasMessageContaining("more than this machine's 24.0 GB");
    }

    @Test
    void realConfigsPass() {
        assertThatCode(() -> ConfigLimits.check(ModelConfig.of(bertMini(), "config.json"), 200, "w", 24 * GB))
                .doesNotThrowAnyException();
        Map<String, Object> gpt2 = new LinkedHashMap<>(Map.of("model_type", "gpt2", "vocab_size", 50257, "n_embd", 768,
                "n_layer", 12, "n_head", 12, "n_positions", 1024, "resid_pdrop", 0.1, "embd_pdrop", 0.1, "attn_pdrop", 0.1));
        gpt2.put("n_inner", null);
        assertThatCode(() -> ConfigLimits.check(ModelConfig.of(gpt2, "gpt2"), 148, "w", 24 * GB)).doesNotThrowAnyException();
        Map<String, Object> t5 = Map.of("model_type", "t5", "vocab_size", 32128, "d_model", 512, "d_kv", 64, "d_ff", 2048,
                "num_layers", 6, "num_heads", 8, "dropout_rate", 0.1, "relative_attention_num_buckets", 32);
        assertThatCode(() -> ConfigLimits.check(ModelConfig.of(t5, "t5"), 131, "w", 24 * GB)).doesNotThrowAnyException();
    }

    @Test
    void aDefinitionBeyondATensorOrTheMemoryIsRefusedNamingTheParameterAndItsKeys() {
        ModelConfig config = ModelConfig.of(bertMini(), "config.json").with("num_labels", 100_000_000);
        List<Parameter> huge = List.of(new Parameter("classifier.weight", new long[] {100_000_000, 256}, new Parameter.Init.Normal(0.02), true));
        assertThatThrownBy(() -> ConfigLimits.check(huge, config, 24 * GB)).isInstanceOf(InvalidCheckpointException.class)
                .hasMessageContaining("classifier.weight").hasMessageContaining("num_labels=100000000")
                .hasMessageContaining("hidden_size=256");
        List<Parameter> large = List.of(new Parameter("classifier.weight", new long[] {2_000_000, 256}, new Parameter.Init.Normal(0.02), true));
        assertThatThrownBy(() -> ConfigLimits.check(large, config, GB)).hasMessageContaining("more than this machine's 1.0 GB");
    }
}
