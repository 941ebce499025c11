package dev.attune.core.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.attune.error.AttuneException;
import dev.attune.formats.hf.HfTokenizer;
import dev.attune.formats.hf.SafetensorsWriter;
import dev.attune.ops.TensorData;
import dev.attune.testing.SharedFiles;
import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A save that fails midway (full disk, read-only or unwritable folder) leaves the previous model
 * folder byte for byte as it was and no half-written file or folder behind. Saves are written as
 * {@code FineTunedModel.save} writes them: {@link AtomicDirectory} around config.json, {@link
 * SafetensorsWriter} and the tokenizer files.
 *
 * <p>The first tests inject the failure (a stream that fails like a full disk after N bytes, a
 * writer that fails like SafetensorsWriter does); the last two fill and write-protect a real file
 * system, a 1 MiB tmpfs, which needs root and {@code mount} (tests run as root ignore permission
 * bits, so a read-only mount is the way to get a real permission-style error).
 */
class AtomicSaveTest {
    @TempDir Path dir;

    /** Saves like FineTunedModel.save, with one tensor of the given size. */
    private static void save(Path folder, int floats, float value) throws IOException {
        float[] data = new float[floats];
        Arrays.fill(data, value);
        HfTokenizer tokenizer = HfTokenizer.load(SharedFiles.path("fixtures/hf/bert-seqcls"));
        try (tokenizer) {
            AtomicDirectory.write(folder, tmp -> {
                Files.writeString(tmp.resolve("config.json"), "{\"model_type\":\"bert\",\"v\":" + value + "}",
                        StandardCharsets.UTF_8);
                SafetensorsWriter.write(tmp.resolve("model.safetensors"),
                        Map.of("w", TensorData.ofFloats(new long[] {floats}, data)));
                tokenizer.saveTo(tmp);
            });
        }
    }

    /** @return every file under a folder (relative name to bytes) */
    private static Map<String, byte[]> contents(Path folder) throws IOException {
        Map<String, byte[]> out = new TreeMap<>();
        try (Stream<Path> walk = Files.walk(folder)) {
            for (Path p : walk.filter(Files::isRegularFile).toList()) {
                out.put(folder.relativize(p).toString(), Files.readAllBytes(p));
            }
        }
        return out;
    }

    private static void assertSame(Map<String, byte[]> expected, Map<String, byte[]> actual) {
        assertThat(actual.keySet()).isEqualTo(expected.keySet());
        expected.forEach((k, v) -> assertThat(actual.get(k)).as(k).isEqualTo(v));
    }

    /** @return the names in a folder: the saved model and nothing half-written beside it */
    private static String[] names(Path parent) throws IOException {
        try (Stream<Path> list = Files.list(parent)) {
            return list.map(p -> p.getFileName().toString()).sorted().toArray(String[]::new);
        }
    }

    /** Fails every write once {@code limit} bytes went through, as a full disk does. */
    private static final class FillingStream extends FilterOutputStream {
        private long left;

        FillingStream(OutputStream out, long limit) {
            super(out);
            this.left = limit;
        }

        @Override
        public void write(int b) throws IOException {
            write(new byte[] {(byte) b}, 0, 1);
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            int n = (int) Math.min(len, left);
            out.write(b, off, n);
            left -= n;
            if (n < len) {
                throw new IOException("No space left on device");
            }
        }
    }

    @Test
    void aDiskFullingUpMidFileLeavesThePreviousFolderIntact() throws IOException {
        Path model = dir.resolve("model");
        save(model, 1000, 1f);
        Map<String, byte[]> before = contents(model);

        assertThatThrownBy(() -> AtomicDirectory.write(model, tmp -> {
            Files.writeString(tmp.resolve("config.json"), "{\"model_type\":\"bert\"}");
            try (OutputStream out = new FillingStream(Files.newOutputStream(tmp.resolve("model.safetensors")), 3000)) {
                out.write(new byte[8000]);
            }
        })).isInstanceOf(IOException.class).hasMessage("No space left on device");

        assertSame(before, contents(model));
        assertThat(names(dir)).containsExactly("model");
    }

    @Test
    void aFailingWeightsWriterLeavesThePreviousFolderIntact() throws IOException {
        Path model = dir.resolve("model");
        save(model, 1000, 1f);
        Map<String, byte[]> before = contents(model);

        // SafetensorsWriter reports a failed write as an AttuneException from inside the folder writer
        assertThatThrownBy(() -> AtomicDirectory.write(model, tmp -> {
            Files.writeString(tmp.resolve("config.json"), "{}");
            Files.write(tmp.resolve("model.safetensors"), new byte[5000]);
            throw new AttuneException("could not write model.safetensors (No space left on device)");
        })).isInstanceOf(AttuneException.class);

        assertSame(before, contents(model));
        assertThat(names(dir)).containsExactly("model");
    }

    /** An output folder after a run: an old model and the run's files. */
    private static void outputFolderAfterARun(Path out) throws IOException {
        save(out, 1000, 1f);
        Files.writeString(out.resolve(dev.attune.core.train.DefaultTrainer.LOG_FILE), "{\"step\":1}\n");
        Files.createDirectories(out.resolve("checkpoint-4"));
        Files.write(out.resolve("checkpoint-4/model.safetensors"), new byte[4096]);
        Files.createDirectories(out.resolve(dev.attune.core.train.DefaultTrainer.TENSORBOARD_DIR));
        Files.writeString(out.resolve(dev.attune.core.train.DefaultTrainer.TENSORBOARD_DIR + "/events.out.tfevents.1"), "e");
    }

    @Test
    void savingIntoARunsOutputFolderKeepsTheRunsFilesAndReplacesTheRest() throws IOException {
        Path out = dir.resolve("run");
        outputFolderAfterARun(out);
        Map<String, byte[]> before = contents(out);

        AtomicDirectory.write(out, tmp -> Files.writeString(tmp.resolve("config.json"), "{\"v\":2}"),
                dev.attune.core.train.DefaultTrainer::isRunFile);

        Map<String, byte[]> after = contents(out);
        assertThat(after.keySet()).containsExactlyInAnyOrder("config.json", "trainer_log.jsonl",
                "checkpoint-4/model.safetensors", "runs/events.out.tfevents.1");
        assertThat(new String(after.get("config.json"), StandardCharsets.UTF_8)).isEqualTo("{\"v\":2}");
        for (String kept : new String[] {"trainer_log.jsonl", "checkpoint-4/model.safetensors", "runs/events.out.tfevents.1"}) {
            assertThat(after.get(kept)).as(kept).isEqualTo(before.get(kept));
        }
        assertThat(names(dir)).containsExactly("run");
    }

    @Test
    void aFailureWhileCarryingTheRunsFilesOverHandsThemBack() throws IOException {
        Path out = dir.resolve("run");
        outputFolderAfterARun(out);
        Map<String, byte[]> before = contents(out);
        int[] calls = {0};

        // the first entry is carried into the new folder, then the second fails
        assertThatThrownBy(() -> AtomicDirectory.write(out, tmp -> Files.writeString(tmp.resolve("x.json"), "{}"),
                name -> {
                    if (calls[0]++ == 1) {
                        throw new IllegalStateException("injected failure at " + name);
                    }
                    return true;
                })).isInstanceOf(IllegalStateException.class);

        assertThat(calls[0]).isEqualTo(2);
        assertSame(before, contents(out));
        assertThat(names(dir)).containsExactly("run");
    }

    @Test
    void aSuccessfulSaveReplacesTheFolderWhole() throws IOException {
        Path model = dir.resolve("model");
        save(model, 1000, 1f);
        save(model, 10, 2f);
        assertThat(Files.readString(model.resolve("config.json"))).contains("\"v\":2.0");
        assertThat(Files.size(model.resolve("model.safetensors"))).isLessThan(1000);
        assertThat(names(dir)).containsExactly("model");
    }

    @Test
    void aSavedFolderGetsTheUmasksPermissionsLikeAnyFolderTheUserMakes() throws IOException {
        Path model = dir.resolve("model");
        save(model, 10, 1f);
        Path plain = Files.createDirectory(dir.resolve("made-by-hand"));
        Path plainFile = Files.writeString(plain.resolve("f"), "x");
        assertThat(Files.getPosixFilePermissions(model)).isEqualTo(Files.getPosixFilePermissions(plain));
        assertThat(Files.getPosixFilePermissions(model.resolve("config.json")))
                .isEqualTo(Files.getPosixFilePermissions(plainFile));
    }

    // ---- a real, small file system ----

    private static boolean run(String... command) {
        try {
            Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
            p.getInputStream().readAllBytes();
            return p.waitFor(30, TimeUnit.SECONDS) && p.exitValue() == 0;
        } catch (IOException e) {
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    /** Mounts a 1 MiB tmpfs, runs the body, unmounts. */
    private void onTinyFileSystem(FsBody body) throws Exception {
        Path mnt = Files.createDirectory(dir.resolve("tiny"));
        Assumptions.assumeTrue(run("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", mnt.toString()),
                "mounting a tmpfs needs root and mount; the injected-failure tests above cover the logic");
        try {
            body.run(mnt);
        } finally {
            run("umount", "-l", mnt.toString());
        }
    }

    @FunctionalInterface
    private interface FsBody {
        void run(Path mnt) throws Exception;
    }

    @Test
    void aReallyFullDiskLeavesThePreviousModelAndFreesTheSpace() throws Exception {
        onTinyFileSystem(mnt -> {
            Path model = mnt.resolve("model");
            save(model, 100_000, 1f); // ~430 KB of 1 MiB
            Map<String, byte[]> before = contents(model);
            long free = Files.getFileStore(mnt).getUsableSpace();

            assertThatThrownBy(() -> save(model, 200_000, 2f)) // ~830 KB more: does not fit
                    .isInstanceOf(AttuneException.class)
                    .hasMessageContaining("model.safetensors")
                    .hasMessageContaining("free space");
            assertSame(before, contents(model));
            assertThat(names(mnt)).containsExactly("model");
            assertThat(Files.getFileStore(mnt).getUsableSpace()).isEqualTo(free);

            // a single file replaced in place keeps its old content too
            Path single = model.resolve("model.safetensors");
            assertThatThrownBy(() -> SafetensorsWriter.write(single,
                    Map.of("w", TensorData.ofFloats(new long[] {200_000}, new float[200_000]))))
                    .isInstanceOf(AttuneException.class);
            assertSame(before, contents(model));

            save(model, 50_000, 3f); // what fits still saves
            assertThat(Files.readString(model.resolve("config.json"))).contains("\"v\":3.0");
            assertThat(names(mnt)).containsExactly("model");
        });
    }

    @Test
    void aReadOnlyFileSystemLeavesThePreviousModel() throws Exception {
        onTinyFileSystem(mnt -> {
            Path model = mnt.resolve("model");
            save(model, 1000, 1f);
            Map<String, byte[]> before = contents(model);
            Assumptions.assumeTrue(run("mount", "-o", "remount,ro", mnt.toString()), "remounting read-only failed");

            assertThatThrownBy(() -> save(model, 1000, 2f)).isInstanceOf(IOException.class);
            assertSame(before, contents(model));
            assertThat(names(mnt)).containsExactly("model");
        });
    }
}
