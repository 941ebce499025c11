package dev.attune.formats.hf;

import dev.attune.formats.hf.HfSources;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.attune.error.ConfigurationException;
import dev.attune.error.InvalidCheckpointException;
import dev.attune.model.ModelSource;
import dev.attune.model.PretrainedModel;
import dev.attune.testing.SharedFiles;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class HuggingFaceFolderSourceTest {
    @TempDir Path dir;

    /** Copies the small bert-seqcls fixture's files (all but the ones named) into the temp folder. */
    private Path copyOfSeqcls(String... without) throws IOException {
        Path fixture = SharedFiles.path("fixtures/hf/bert-seqcls");
        for (String f : List.of("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json")) {
            if (!List.of(without).contains(f)) {
                Files.copy(fixture.resolve(f), dir.resolve(f));
            }
        }
        return dir;
    }

    @Test
    void opensAFixtureWithOverrides() {
        ModelSource source = HfSources.folder(SharedFiles.path("fixtures/hf/bert-seqcls"));
        try (PretrainedModel model = source.open(Map.of("hidden_dropout_prob", "0", "classifier_dropout", "0.2"))) {
            assertThat(model.config().modelType()).isEqualTo("bert");
            assertThat(model.config().getDouble("hidden_dropout_prob", -1)).isZero();
            assertThat(model.config().getDouble("classifier_dropout", -1)).isEqualTo(0.2);
            assertThat(model.config().origin()).endsWith("config.json");
            assertThat(model.weights().names()).contains("classifier.weight");
            assertThat(model.tokenizer().encode("The cat sat on the mat.", null, 64).ids()[0]).isEqualTo(2);
            assertThat(model.origin()).isEqualTo(source.describe());
        }
    }

    @Test
    void opensTheShardedPretrainedModel() {
        try (PretrainedModel model = HfSources.folder(SharedFiles.path("models/bert-mini-uncased-mlm")).open(Map.of())) {
            int vocab = model.config().requireInt("vocab_size");
            int hidden = model.config().requireInt("hidden_size");
            assertThat(model.weights().info("bert.embeddings.word_embeddings.weight").shape()).containsExactly(vocab, hidden);
            assertThat(model.tokenizer().vocabularySize()).isEqualTo(vocab);
        }
    }

    @Test
    void unknownOverrideKeyIsRejected() {
        ModelSource source = HfSources.folder(SharedFiles.path("fixtures/hf/bert-seqcls"));
        assertThatThrownBy(() -> source.open(Map.of("hiden_dropout_prob", "0")))
                .isInstanceOf(ConfigurationException.class)
                .hasMessageContaining("hiden_dropout_prob");
    }

    @Test
    void missingFolder() {
        Path absent = dir.resolve("nope");
        assertThatThrownBy(() -> HfSources.folder(absent).open(Map.of()))
                .isInstanceOf(InvalidCheckpointException.class)
                .hasMessageContaining(absent.toString())
                .hasMessageContaining("no such folder");
    }

    @Test
    void missingConfigJson() throws IOException {
        copyOfSeqcls("config.json");
        assertThatThrownBy(() -> HfSources.folder(dir).open(Map.of()))
                .isInstanceOf(InvalidCheckpointException.class)
                .hasMessageContaining(dir.resolve("config.json").toString())
                .hasMessageContaining("missing");
    }

    @Test
    void configJsonWithoutARequiredKeyNamesKeyAndFile() throws IOException {
        copyOfSeqcls("config.json");
        Files.writeString(dir.resolve("config.json"), "{\"model_type\": \"bert\", \"hidden_size\": 32}");
        try (PretrainedModel model = HfSources.folder(dir).open(Map.of())) {
            assertThatThrownBy(() -> model.config().requireInt("num_hidden_layers"))
                    .isInstanceOf(InvalidCheckpointException.class)
                    .hasMessageContaining("'num_hidden_layers'")
                    .hasMessageContaining(dir.resolve("config.json").toString());
        }
    }

    @Test
    void corruptConfigJson() throws IOException {
        copyOfSeqcls("config.json");
        Files.writeString(dir.resolve("config.json"), "{\"model_type\": ");
        assertThatThrownBy(() -> HfSources.folder(dir).open(Map.of()))
                .isInstanceOf(InvalidCheckpointException.class)
                .hasMessageContaining(dir.resolve("config.json").toString());
    }

    @Test
    void missingWeights() throws IOException {
        copyOfSeqcls("model.safetensors");
        assertThatThrownBy(() -> HfSources.folder(dir).open(Map.of()))
                .isInstanceOf(InvalidCheckpointException.class)
                .hasMessageContaining(dir.toString())
                .hasMessageContaining("model.safetensors");
    }

    @Test
    void onlyPytorchWeightsAreReadWithoutConversion() throws IOException {
        copyOfSeqcls("model.safetensors");
        Files.copy(SharedFiles.path("fixtures/hf/bert-seqcls/pytorch_model.bin"), dir.resolve("pytorch_model.bin"));
        try (PretrainedModel model = HfSources.folder(dir).open(Map.of())) {
            assertThat(model.weights().origin()).endsWith("pytorch_model.bin");
            assertThat(model.weights().info("classifier.weight").shape()).containsExactly(2, 32);
        }
    }

    @Test
    void safetensorsArePreferredOverPytorchWeights() throws IOException {
        copyOfSeqcls();
        Files.copy(SharedFiles.path("fixtures/hf/bert-seqcls/pytorch_model.bin"), dir.resolve("pytorch_model.bin"));
        try (PretrainedModel model = HfSources.folder(dir).open(Map.of())) {
            assertThat(model.weights().origin()).endsWith("model.safetensors");
        }
    }

    @Test
    void hostilePickleFolderIsRejectedWithoutRunningIt() throws IOException {
        Path marker = Path.of("/tmp/attune-pwned");
        Files.deleteIfExists(marker);
        Path hostile = SharedFiles.path("fixtures/hostile/pickle-os-system");
        assertThatThrownBy(() -> HfSources.folder(hostile).open(Map.of()))
                .isInstanceOf(InvalidCheckpointException.class)
                .hasMessageContaining(hostile.resolve("pytorch_model.bin").toString())
                .hasMessageContaining("posix.system")
                .hasMessageContaining("nothing in it was executed");
        assertThat(marker).doesNotExist();
    }

    @Test
    void noTokenizerFiles() throws IOException {
        copyOfSeqcls("tokenizer.json", "tokenizer_config.json");
        assertThatThrownBy(() -> HfSources.folder(dir).open(Map.of()))
                .isInstanceOf(InvalidCheckpointException.class)
                .hasMessageContaining(dir.toString())
                .hasMessageContaining("tokenizer.json")
                .hasMessageContaining("vocab.txt");
    }
}
