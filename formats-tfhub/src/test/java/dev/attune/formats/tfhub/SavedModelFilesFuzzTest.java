package dev.attune.formats.tfhub;

import static org.assertj.core.api.Assertions.assertThat;

import dev.attune.model.PretrainedModel;
import dev.attune.testing.Fuzzer;
import dev.attune.testing.Mutator;
import dev.attune.testing.SharedFiles;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tensorflow.proto.BundleEntryProto;
import org.tensorflow.proto.DataType;

/**
 * Fuzzes what a SavedModel's {@code variables/} folder hands the importer: the {@code
 * variables.index} table (footer, block handles, prefix-compressed keys, {@code BundleEntryProto}
 * values with shapes, shards, offsets and sizes) and the whole import through {@link TfHubSource}.
 * Every mutated file must be read or rejected with an {@code AttuneException}; nothing may crash,
 * hang or allocate what a size field claims. See {@link Fuzzer} for scaling and replaying.
 */
class SavedModelFilesFuzzTest {
    static final Path LAYOUT = SharedFiles.path("fixtures/tfhub/bert-encoder-tfhub-layout");

    @TempDir Path dir;

    /** A private copy of the fixture whose index the targets overwrite. */
    @BeforeEach
    void copyFixture() throws IOException {
        try (Stream<Path> walk = Files.walk(LAYOUT)) {
            for (Path p : walk.toList()) {
                Path target = dir.resolve(LAYOUT.relativize(p).toString());
                if (Files.isDirectory(p)) {
                    Files.createDirectories(target);
                } else {
                    Files.copy(p, target);
                }
            }
        }
    }

    private Path index() {
        return dir.resolve("variables").resolve("variables.index");
    }

    @Test
    void variablesIndex() throws IOException {
        byte[] seed = Files.readAllBytes(index());
        Path prefix = dir.resolve("variables").resolve("variables");
        Fuzzer.run("variables.index", seed, new Mutator(false), 1500, input -> {
            Files.write(index(), input);
            TensorBundle bundle = TensorBundle.open(prefix);
            for (Map.Entry<String, BundleEntryProto> e : bundle.entries().entrySet()) {
                if (e.getValue().getDtype() == DataType.DT_STRING) {
                    if (TensorBundle.shape(e.getValue()).length == 0) {
                        bundle.readString(e.getKey());
                    }
                } else if (!e.getKey().startsWith("_")) {
                    bundle.read(e.getKey());
                }
            }
        });
    }

    @Test
    void importThroughTfHubSource() throws IOException {
        byte[] seed = Files.readAllBytes(index());
        // the unmutated folder imports; this also takes the one-off start-up (natives, protobuf
        // classes, tokenizer library: seconds) out of the per-input time limit
        try (PretrainedModel m = new TfHubSource(dir).open(Map.of())) {
            assertThat(m.weights().names()).hasSize(39);
        }
        Fuzzer.run("SavedModel import", seed, new Mutator(false), 300, input -> {
            Files.write(index(), input);
            try (PretrainedModel m = new TfHubSource(dir).open(Map.of())) {
                for (String name : m.weights().names()) {
                    m.weights().read(name);
                }
            }
        });
    }
}
