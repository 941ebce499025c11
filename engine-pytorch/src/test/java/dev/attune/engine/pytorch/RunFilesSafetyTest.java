package dev.attune.engine.pytorch;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.attune.Attune;
import dev.attune.core.internal.FileFaults;
import dev.attune.core.train.DefaultTrainer;
import dev.attune.engine.EngineOptions.DeviceSpec;
import dev.attune.error.AttuneException;
import dev.attune.error.ConfigurationException;
import dev.attune.model.FineTunedModel;
import dev.attune.model.PretrainedModel;
import dev.attune.task.Dataset;
import dev.attune.task.Task;
import dev.attune.train.TrainingConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A training run's files in its output folder, on the tiny fixture BERT: a folder of the user's is
 * refused before anything is written (and with overwriteOutputDir left as it was besides the model);
 * a run that fails on a full disk leaves the previous run's log and events as they were; links
 * planted at the run files' names are never written through.
 */
class RunFilesSafetyTest {
    static Attune attune;
    static PretrainedModel base;

    @TempDir Path tmp;
    Task task;
    Dataset train;

    @BeforeAll
    static void start() {
        attune = Attune.builder().device(DeviceSpec.CPU).build();
        base = attune.load(FineTuneTest.FIXTURE);
    }

    @AfterAll
    static void stop() {
        base.close();
        attune.close();
    }

    @BeforeEach
    void data() throws IOException {
        Task t = attune.task("text-classification", Map.of("positive_label", "spam"));
        train = t.read(FineTuneTest.spamData(tmp, "train.tsv", 8, 1));
        task = t.withLabels(t.inferLabels(train));
    }

    TrainingConfig.Builder config(Path out) {
        return TrainingConfig.builder().outputDir(out).maxSteps(2).perDeviceTrainBatchSize(4).loggingSteps(1)
                .maxLength(16).disableTqdm(true).evalStrategy(TrainingConfig.EvalStrategy.NO);
    }

    void fit(TrainingConfig config, Path saveTo, boolean overwrite) {
        try (FineTunedModel m = attune.prepare(base, task, 16, 1)) {
            new DefaultTrainer(config).train(m, train, null);
            if (saveTo != null) {
                m.save(saveTo, overwrite);
            }
        }
    }

    static Map<String, String> contents(Path folder) throws IOException {
        Map<String, String> out = new TreeMap<>();
        try (Stream<Path> walk = Files.walk(folder)) {
            for (Path p : walk.filter(p -> Files.isRegularFile(p, java.nio.file.LinkOption.NOFOLLOW_LINKS)).toList()) {
                out.put(folder.relativize(p).toString(), Files.readString(p, java.nio.charset.StandardCharsets.ISO_8859_1));
            }
        }
        return out;
    }

    @Test
    void aFolderOfTheUsersIsRefusedBeforeTrainingAndWithOverwriteOnlyGainsTheRunsFiles() throws IOException {
        Path project = tmp.resolve("project");
        Files.createDirectories(project.resolve("src"));
        Files.createDirectories(project.resolve(".git"));
        Files.writeString(project.resolve("src/Main.java"), "class Main {}");
        Files.writeString(project.resolve(".git/HEAD"), "ref: refs/heads/main");
        Files.writeString(project.resolve("notes"), "my notes");
        Map<String, String> before = contents(project);

        assertThatThrownBy(() -> fit(config(project).build(), null, false)).isInstanceOf(ConfigurationException.class)
                .hasMessageContaining("--overwrite-output-dir").hasMessageContaining("overwriteOutputDir");
        assertThat(contents(project)).isEqualTo(before);

        fit(config(project).overwriteOutputDir(true).build(), project, true);
        Map<String, String> after = contents(project);
        assertThat(after).containsAllEntriesOf(before).containsKeys("config.json", "model.safetensors",
                DefaultTrainer.LOG_FILE);
        // and a later save without the setting is refused again: the folder is still the user's
        try (FineTunedModel m = attune.prepare(base, task, 16, 1)) {
            assertThatThrownBy(() -> m.save(project)).isInstanceOf(ConfigurationException.class);
            assertThatThrownBy(() -> m.export("hf", project)).isInstanceOf(ConfigurationException.class);
        }
        assertThat(contents(project)).isEqualTo(after);
    }

    /** An output folder after an earlier run: a model, the run's log and its event file. */
    Path previousRun() throws IOException {
        Path out = tmp.resolve("out");
        fit(config(out).build(), out, false);
        assertThat(out.resolve(DefaultTrainer.LOG_FILE)).isNotEmptyFile();
        return out;
    }

    @Test
    void aRunFailingOnAFullDiskLeavesThePreviousRunsFilesAsTheyWere() throws IOException {
        Path out = previousRun();
        Map<String, String> before = contents(out);
        for (String point : List.of("checkpoint:write", "log:record", "events:open", "log:opened")) {
            try (FileFaults.Injection i = FileFaults.inject(p -> {
                if (p.equals(point)) {
                    throw new IOException("No space left on device");
                }
            })) {
                assertThatThrownBy(() -> fit(config(out).saveSteps(1).build(), out, false)).as(point)
                        .isInstanceOf(RuntimeException.class).hasStackTraceContaining("No space left on device");
            }
            assertThat(contents(out)).as(point).isEqualTo(before);
            try (Stream<Path> s = Files.list(tmp)) {
                assertThat(s.map(p -> p.getFileName().toString()).toList()).as(point)
                        .containsExactlyInAnyOrder("out", "train.tsv");
            }
        }
    }

    @Test
    void linksPlantedAtTheRunFilesNamesAreNeverWrittenThrough() throws IOException {
        Path victim = Files.writeString(tmp.resolve("victim.txt"), "precious");
        Path victimDir = Files.createDirectories(tmp.resolve("victim-dir"));
        Path out = Files.createDirectories(tmp.resolve("out"));
        Files.createSymbolicLink(out.resolve(DefaultTrainer.LOG_FILE), victim);
        assertThatThrownBy(() -> fit(config(out).build(), null, false)).isInstanceOf(AttuneException.class)
                .hasMessageContaining("symbolic link");
        Files.delete(out.resolve(DefaultTrainer.LOG_FILE));
        Files.createSymbolicLink(out.resolve(DefaultTrainer.TENSORBOARD_DIR), victimDir);
        assertThatThrownBy(() -> fit(config(out).build(), null, false)).isInstanceOf(AttuneException.class)
                .hasMessageContaining("symbolic link");
        Files.delete(out.resolve(DefaultTrainer.TENSORBOARD_DIR));
        // the trainer state, model card, plots and metrics are replaced by a rename: a link there is replaced
        Files.createSymbolicLink(out.resolve("trainer_state.json"), victim);
        fit(config(out).build(), out, false);
        // a README.md that is not Attune's model card makes the folder the user's: written into on request only
        Files.delete(out.resolve("README.md"));
        Files.createSymbolicLink(out.resolve("README.md"), victim);
        assertThatThrownBy(() -> fit(config(out).build(), null, false)).isInstanceOf(ConfigurationException.class);
        fit(config(out).overwriteOutputDir(true).build(), out, true);
        assertThat(Files.readString(victim)).isEqualTo("precious");
        try (Stream<Path> s = Files.list(victimDir)) {
            assertThat(s.toList()).isEmpty();
        }
        assertThat(out.resolve("README.md")).isRegularFile();
    }
}
