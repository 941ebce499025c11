package dev.attune.core.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.attune.core.train.Checkpoints;
import dev.attune.core.train.DefaultTrainer;
import dev.attune.error.ConfigurationException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Saving never destroys what Attune did not write, and a kill at any step of a folder swap leaves a
 * folder that the next save, the next run and {@code --resume} bring back complete. The kill is
 * simulated by an {@link Error} thrown at a named step ({@link FileFaults}): like {@code kill -9},
 * it runs none of the writer's cleanup.
 */
class OutputFolderSafetyTest {
    @TempDir Path dir;

    /** What kill -9 does to the writing thread: stops it where it is, no cleanup. */
    static final class Killed extends Error {
        Killed(String point) {
            super("killed at " + point);
        }
    }

    static Map<String, String> contents(Path folder) throws IOException {
        Map<String, String> out = new TreeMap<>();
        try (Stream<Path> walk = Files.walk(folder)) {
            for (Path p : walk.filter(Files::isRegularFile).toList()) {
                out.put(folder.relativize(p).toString(), Files.readString(p, StandardCharsets.ISO_8859_1));
            }
        }
        return out;
    }

    static List<String> names(Path folder) throws IOException {
        try (Stream<Path> s = Files.list(folder)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    /** A training run's output folder: a saved model (version 1), its log, events and a checkpoint. */
    static void runFolder(Path out) throws IOException {
        Files.createDirectories(out.resolve("checkpoint-4"));
        Files.writeString(out.resolve("config.json"), "{\"v\":1}");
        Files.writeString(out.resolve("model.safetensors"), "weights-1");
        Files.writeString(out.resolve("model-00002-of-00002.safetensors"), "stale shard of version 1");
        Files.writeString(out.resolve(DefaultTrainer.LOG_FILE), "{\"step\":4}\n");
        Files.writeString(out.resolve("checkpoint-4/" + Checkpoints.STATE_FILE), "{}");
        Files.createDirectories(out.resolve(DefaultTrainer.TENSORBOARD_DIR));
        Files.writeString(out.resolve(DefaultTrainer.TENSORBOARD_DIR + "/events.out.tfevents.1"), "e");
    }

    static void saveVersion2(Path out) throws IOException {
        AtomicDirectory.write(out, tmp -> {
            Files.writeString(tmp.resolve("config.json"), "{\"v\":2}");
            Files.writeString(tmp.resolve("model.safetensors"), "weights-2");
        }, DefaultTrainer::isRunFile);
    }

    @ParameterizedTest(name = "killed at {0}")
    @ValueSource(strings = {"swap:written", "swap:ready", "swap:old", "swap:committed", "swap:carried"})
    void aKillDuringTheFinalSaveLeavesAFolderThatResumeFindsComplete(String point) throws IOException {
        Path out = dir.resolve("out");
        runFolder(out);
        Map<String, String> before = contents(out);
        try (FileFaults.Injection i = FileFaults.inject(p -> {
            if (p.equals(point)) {
                throw new Killed(p);
            }
        })) {
            assertThatThrownBy(() -> saveVersion2(out)).isInstanceOf(Killed.class);
        }
        // what --resume does first: it finds the newest checkpoint, and with it the whole folder
        assertThat(DefaultTrainer.latestCheckpoint(out)).contains(out.resolve("checkpoint-4"));
        assertThat(names(dir)).containsExactly("out");
        Map<String, String> after = contents(out);
        if (after.get("config.json").equals("{\"v\":1}")) {
            assertThat(after).isEqualTo(before); // not yet complete at the kill: the previous folder, whole
        } else {
            // complete at the kill: the new model with the run's files, the old model's files gone
            Map<String, String> expected = new TreeMap<>(before);
            expected.remove("model-00002-of-00002.safetensors");
            expected.put("config.json", "{\"v\":2}");
            expected.put("model.safetensors", "weights-2");
            assertThat(after).isEqualTo(expected);
        }
        // and the next save works as if nothing happened
        saveVersion2(out);
        assertThat(contents(out)).containsEntry("config.json", "{\"v\":2}").containsKey("checkpoint-4/trainer_state.json")
                .containsKey(DefaultTrainer.LOG_FILE).containsKey("runs/events.out.tfevents.1");
        assertThat(names(dir)).containsExactly("out");
    }

    @Test
    void aKillBeforeTheCompleteFolderIsRenamedRollsForwardTheCompleteSave() throws IOException {
        Path out = dir.resolve("out");
        runFolder(out);
        try (FileFaults.Injection i = FileFaults.inject(p -> {
            if (p.equals("swap:old")) {
                throw new Killed(p);
            }
        })) {
            assertThatThrownBy(() -> saveVersion2(out)).isInstanceOf(Killed.class);
        }
        // the kill came after the old folder was set aside: out/ is missing until recovery
        assertThat(out).doesNotExist();
        Checkpoints.cleanPartial(out); // what a new training run into out/ does first
        assertThat(contents(out)).containsEntry("config.json", "{\"v\":2}").containsKey("checkpoint-4/trainer_state.json");
        assertThat(names(dir)).containsExactly("out");
    }

    @ParameterizedTest(name = "killed at {0}")
    @ValueSource(strings = {"inplace:ready", "inplace:aside", "inplace:moved"})
    void aKillWhileWritingIntoAUsersFolderIsFinishedByTheNextSave(String point) throws IOException {
        Path out = dir.resolve("project");
        Files.createDirectories(out.resolve("src"));
        Files.writeString(out.resolve("src/Main.java"), "class Main {}");
        Files.writeString(out.resolve("config.json"), "{\"mine\":true}");
        try (FileFaults.Injection i = FileFaults.inject(p -> {
            if (p.equals(point)) {
                throw new Killed(p);
            }
        })) {
            assertThatThrownBy(() -> AtomicDirectory.write(out, tmp -> {
                Files.writeString(tmp.resolve("config.json"), "{\"v\":2}");
                Files.writeString(tmp.resolve("model.safetensors"), "weights-2");
            }, name -> false, true)).isInstanceOf(Killed.class);
        }
        AtomicDirectory.recover(out, name -> false);
        assertThat(contents(out)).isEqualTo(Map.of("src/Main.java", "class Main {}", "config.json", "{\"v\":2}",
                "model.safetensors", "weights-2"));
        assertThat(names(dir)).containsExactly("project");
    }

    @Test
    void aFolderOfTheUsersIsRefusedAndWithOverwriteKeepsEverythingButWhatTheSaveReplaces() throws IOException {
        Path project = dir.resolve("project");
        Files.createDirectories(project.resolve("src"));
        Files.createDirectories(project.resolve(".git"));
        Files.writeString(project.resolve("src/Main.java"), "class Main {}");
        Files.writeString(project.resolve(".git/HEAD"), "ref: refs/heads/main");
        Files.writeString(project.resolve("notes"), "my notes");
        Files.writeString(project.resolve("README.md"), "# my project\n");
        Map<String, String> before = contents(project);

        assertThatThrownBy(() -> saveVersion2(project)).isInstanceOf(ConfigurationException.class)
                .hasMessageContaining("--overwrite-output-dir").hasMessageContaining(".git, README.md, notes, src");
        assertThat(contents(project)).isEqualTo(before);
        assertThat(names(dir)).containsExactly("project");

        AtomicDirectory.write(project, tmp -> {
            Files.writeString(tmp.resolve("config.json"), "{\"v\":2}");
            Files.writeString(tmp.resolve("model.safetensors"), "weights-2");
        }, DefaultTrainer::isRunFile, true);
        Map<String, String> expected = new TreeMap<>(before);
        expected.put("config.json", "{\"v\":2}");
        expected.put("model.safetensors", "weights-2");
        assertThat(contents(project)).isEqualTo(expected);
        assertThat(names(dir)).containsExactly("project");
    }

    @Test
    void aPluginFormatsOwnFilesAreItsToReplaceAndAnythingElseStaysTheUsers() throws IOException {
        Path out = dir.resolve("npz");
        AtomicDirectory.Writer npz = tmp -> Files.writeString(tmp.resolve("weights.npz"), "v2");
        Files.createDirectories(out);
        Files.writeString(out.resolve("weights.npz"), "v1");
        AtomicDirectory.write(out, npz); // the format's own name: replaced without being asked
        assertThat(contents(out)).isEqualTo(Map.of("weights.npz", "v2"));
        Files.writeString(out.resolve("notes"), "mine");
        assertThatThrownBy(() -> AtomicDirectory.write(out, npz)).isInstanceOf(ConfigurationException.class)
                .hasMessageContaining("(notes)");
        assertThat(contents(out)).isEqualTo(Map.of("weights.npz", "v2", "notes", "mine"));
        assertThat(names(dir)).containsExactly("npz");
    }

    @Test
    void aFileInTheFoldersPlaceIsNeverReplaced() throws IOException {
        Path file = dir.resolve("out");
        Files.writeString(file, "the user's file");
        assertThatThrownBy(() -> AtomicDirectory.write(file, tmp -> Files.writeString(tmp.resolve("config.json"), "{}"),
                name -> false, true)).isInstanceOf(ConfigurationException.class).hasMessageContaining("is a file");
        assertThat(Files.readString(file)).isEqualTo("the user's file");
    }

    @Test
    void theWorkingFolderIsWrittenIntoNeverRenamedOrDeleted() throws IOException {
        Path cwd = dir.resolve("work");
        Files.createDirectories(cwd);
        Path saved = OutputFolder.workingDirectory;
        OutputFolder.workingDirectory = cwd;
        try {
            Object key = Files.readAttributes(cwd, java.nio.file.attribute.BasicFileAttributes.class).fileKey();
            saveVersion2(cwd); // --output . in an empty folder
            saveVersion2(cwd.resolve(".")); // and again, over its own save
            assertThat(Files.readAttributes(cwd, java.nio.file.attribute.BasicFileAttributes.class).fileKey())
                    .as("the same folder (inode), not a replacement").isEqualTo(key);
            assertThat(contents(cwd)).isEqualTo(Map.of("config.json", "{\"v\":2}", "model.safetensors", "weights-2"));
            assertThat(names(dir)).containsExactly("work");
        } finally {
            OutputFolder.workingDirectory = saved;
        }
    }

    @Test
    void aModelCardIsAttunesAndTheRootIsRefused() throws IOException {
        Path out = dir.resolve("out");
        Files.createDirectories(out);
        Files.writeString(out.resolve("README.md"), "---\nlibrary_name: attune\ntags:\n- x\n---\n\n# Fine-tuned\n");
        OutputFolder.check(out, false, "x");
        assertThatThrownBy(() -> OutputFolder.check(Path.of("/"), true, "x")).isInstanceOf(ConfigurationException.class)
                .hasMessageContaining("root");
    }

    @Test
    void aFailedSaveAfterTheSwapUndoesItAll() throws IOException {
        Path out = dir.resolve("out");
        runFolder(out);
        Map<String, String> before = contents(out);
        for (String point : List.of("swap:ready", "swap:old", "swap:committed", "swap:carried")) {
            try (FileFaults.Injection i = FileFaults.inject(p -> {
                if (p.equals(point)) {
                    throw new IOException("No space left on device");
                }
            })) {
                assertThatThrownBy(() -> saveVersion2(out)).as(point).hasMessage("No space left on device");
            }
            assertThat(contents(out)).as(point).isEqualTo(before);
            assertThat(names(dir)).as(point).containsExactly("out");
        }
    }
}
