package dev.attune.formats.torch;

import dev.attune.error.AttuneException;
import dev.attune.ops.TensorData;
import dev.attune.testing.Fuzzer;
import dev.attune.testing.Mutator;
import dev.attune.testing.SharedFiles;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Enumeration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Fuzzes {@link TorchPickleStore} on the bert-seqcls {@code pytorch_model.bin}: the whole archive
 * mutated byte-wise, and its {@code data.pkl} mutated and repacked into a well-formed archive so
 * that the unpickler itself sees the damage. Every input must open and read fully or fail with an
 * {@link AttuneException}.
 */
class TorchCheckpointFuzzTest {
    @TempDir Path dir;

    private static void readAll(Path file) {
        try (TorchPickleStore store = TorchPickleStore.open(file)) {
            for (String name : store.names()) {
                store.info(name);
                TensorData t = store.read(name);
                t.toFloatArray();
            }
        }
    }

    @Test
    void wholeArchive() throws IOException {
        byte[] seed = Files.readAllBytes(SharedFiles.path("fixtures/hf/bert-seqcls/pytorch_model.bin"));
        Path file = dir.resolve("pytorch_model.bin");
        Fuzzer.run("pytorch_model.bin", seed, new Mutator(false), 600, input -> {
            Files.write(file, input);
            readAll(file);
        });
    }

    @Test
    void picklePart() throws IOException {
        Path fixture = SharedFiles.path("fixtures/hf/bert-seqcls/pytorch_model.bin");
        byte[] pickle = null;
        Map<String, byte[]> storages = new LinkedHashMap<>();
        try (ZipFile zip = new ZipFile(fixture.toFile())) {
            for (Enumeration<? extends ZipEntry> en = zip.entries(); en.hasMoreElements(); ) {
                ZipEntry e = en.nextElement();
                try (InputStream in = zip.getInputStream(e)) {
                    if (e.getName().endsWith("/data.pkl")) {
                        pickle = in.readAllBytes();
                    } else if (e.getName().contains("/data/")) {
                        storages.put(e.getName().substring(e.getName().lastIndexOf('/') + 1), in.readAllBytes());
                    }
                }
            }
        }
        Path file = dir.resolve("pytorch_model.bin");
        Fuzzer.run("pytorch_model.bin/data.pkl", pickle, new Mutator(false), 600, input -> {
            Files.write(file, TorchTestFiles.archiveBytes("pytorch_model", input, storages));
            readAll(file);
        });
    }
}
