package dev.attune;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.attune.core.internal.ModelLocations;
import dev.attune.error.ConfigurationException;
import dev.attune.error.InvalidCheckpointException;
import dev.attune.model.ModelSource;
import dev.attune.model.PretrainedModel;
import dev.attune.model.SourceProvider;
import dev.attune.testing.SharedFiles;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * How a typed location becomes a checkpoint source: providers are asked by rank and the first
 * answer wins; a location that looks like a local path but does not exist is an error naming it,
 * never a Hub request; Hub ids still reach the Hub provider.
 */
class SourceResolutionTest {
    @TempDir
    Path tmp;

    /** A provider that takes every location it is asked about, and records the question. */
    record Greedy(String name, int rank, List<String> asked) implements SourceProvider {
        @Override
        public Optional<ModelSource> recognize(String location, Context context) {
            asked.add(name + ":" + location);
            return Optional.of(new ModelSource() {
                @Override
                public PretrainedModel open(Map<String, String> configOverrides) {
                    throw new UnsupportedOperationException();
                }

                @Override
                public String describe() {
                    return name + " reads " + location;
                }
            });
        }
    }

    private static PluginRegistry registry(SourceProvider... providers) {
        Map<String, SourceProvider> sources = new LinkedHashMap<>();
        for (SourceProvider p : providers) {
            sources.put(p.name(), p);
        }
        return new PluginRegistry(Map.of(), Map.of(), Map.of(), sources, Map.of());
    }

    @Test
    void theLowestRankedProviderThatRecognisesALocationReadsIt() throws IOException {
        List<String> asked = new ArrayList<>();
        Path folder = Files.createDirectories(tmp.resolve("m"));
        PluginRegistry r = registry(new Greedy("late", 10, asked), new Greedy("early", 1, asked));
        assertThat(r.source(folder.toString()).describe()).isEqualTo("early reads " + folder);
        assertThat(asked).containsExactly("early:" + folder);
        assertThat(r.sourcesByRank()).extracting(SourceProvider::name).containsExactly("early", "late");
    }

    @Test
    void aLeadingTildeIsTheHomeFolder() throws IOException {
        String home = System.getProperty("user.home");
        Files.createDirectories(tmp.resolve("models/bert"));
        System.setProperty("user.home", tmp.toString());
        try {
            List<String> asked = new ArrayList<>();
            assertThat(registry(new Greedy("any", 1, asked)).source("~/models/bert").describe())
                    .isEqualTo("any reads " + tmp.resolve("models/bert"));
            assertThatThrownBy(() -> registry(new Greedy("any", 1, asked)).source("~/models/bret"))
                    .isInstanceOf(InvalidCheckpointException.class).hasMessageStartingWith("~/models/bret: no such");
        } finally {
            System.setProperty("user.home", home);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"/no/such/model", "./no-such-model", "../no-such-model", "~/no-such-model-here", "models\\bert",
            "no-such-model.onnx", "org/model.safetensors", "src/no-such-model", ".", ".."})
    void aLocalLookingPathThatDoesNotExistIsAnErrorNamingIt(String location) {
        assertThat(ModelLocations.looksLocal(ModelLocations.expandHome(location))).isTrue();
        if (ModelLocations.exists(ModelLocations.expandHome(location))) {
            return; // "." and ".." exist: they are local and go to the providers
        }
        List<String> asked = new ArrayList<>();
        // even a provider that would take anything (a Hub) is not asked
        assertThatThrownBy(() -> registry(new Greedy("hub", 1, asked)).source(location))
                .isInstanceOf(InvalidCheckpointException.class)
                .hasMessageStartingWith(location + ": no such file or folder")
                .hasMessageContaining("not looked up on the HuggingFace Hub");
        assertThat(asked).isEmpty();
    }

    @ParameterizedTest
    @ValueSource(strings = {"org/name", "bert-base-uncased", "Qwen/Qwen2.5-0.5B", "EleutherAI/pythia-1.4b",
            "microsoft/Phi-3.5-mini-instruct", "org/name@v1.0", "hf://org/name@main"})
    void hubIdsAreNotTakenForLocalPaths(String location) {
        assertThat(ModelLocations.looksLocal(location)).isFalse();
    }

    @Test
    void hubIdsReachTheHubProviderAndFoldersTheFolderProvider() {
        PluginRegistry r = PluginRegistry.discover();
        assertThat(r.sources()).containsKeys("hf-folder", "hf-hub");
        assertThat(r.source("org/name").describe()).isEqualTo("hf://org/name@main");
        assertThat(r.source("hf://org/name@v2").describe()).isEqualTo("hf://org/name@v2");
        Path fixture = SharedFiles.path("fixtures/hf/bert-seqcls");
        assertThat(r.source(fixture.toString()).describe()).isEqualTo(fixture.toString());
        assertThat(r.source(fixture).describe()).isEqualTo(fixture.toString());
    }

    @Test
    void somethingThatExistsButNoProviderReadsIsNamed() throws IOException {
        Path file = Files.writeString(tmp.resolve("weights.txt"), "not a model");
        assertThatThrownBy(() -> PluginRegistry.discover().source(file))
                .isInstanceOf(InvalidCheckpointException.class).hasMessageStartingWith(file + ": no source provider reads it")
                .hasMessageContaining("hf-folder");
        assertThatThrownBy(() -> PluginRegistry.discover().source(tmp.resolve("absent")))
                .isInstanceOf(InvalidCheckpointException.class).hasMessageContaining("absent: no such file or folder");
        assertThatThrownBy(() -> registry().source("org/name")).isInstanceOf(ConfigurationException.class)
                .hasMessageContaining("'org/name'");
        assertThatThrownBy(() -> registry().source(" ")).isInstanceOf(ConfigurationException.class)
                .hasMessageContaining("no model given");
    }
}
