package dev.attune.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.attune.testing.SharedFiles;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Crash safety end to end: a child JVM runs a tiny {@code attune fine-tune --resume} and is killed
 * with SIGKILL (Process.destroyForcibly) at random steps, several times, possibly while it writes a
 * checkpoint; each restart resumes from the newest complete checkpoint, and the final weights equal,
 * byte for byte, those of an uninterrupted run. SIGTERM (what Ctrl-C and {@code kill} send) instead
 * stops the run after its current step with a checkpoint there, and no crash.
 */
class KillResumeTest {
    static final Path FIXTURE = SharedFiles.path("fixtures/hf/bert-seqcls");
    static final int TOTAL_STEPS = 60;

    @TempDir
    Path tmp;
    @TempDir
    static Path shared;
    static Path referenceWeights;

    List<String> command(Path train, Path out, int saveSteps) {
        return ChildAttune.command(tmp, List.of("fine-tune", "--model", FIXTURE.toString(), "--train", train.toString(),
                "--output", out.toString(), "--epochs", "10", "--batch-size", "4", "--learning-rate", "2e-3",
                "--warmup-ratio", "0.1", "--weight-decay", "0.01", "--max-length", "16", "--logging-steps", "1",
                "--eval-strategy", "no", "--save-steps", String.valueOf(saveSteps), "--save-total-limit", "2",
                "--seed", "7", "--group-by-length", "--no-progress", "--device", "cpu", "--threads", "1", "--resume"));
    }

    Process start(Path train, Path out, Path logFile) throws IOException {
        return start(train, out, logFile, 1);
    }

    Process start(Path train, Path out, Path logFile, int saveSteps) throws IOException {
        return new ProcessBuilder(command(train, out, saveSteps)).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(logFile.toFile())).start();
    }

    static Path trainingData(Path dir) throws IOException {
        StringBuilder data = new StringBuilder("text\tlabel\n");
        String[] pos = {"the movie was wonderful", "a wonderful movie", "good plot and good acting today"};
        String[] neg = {"terrible plot and boring", "boring", "the acting was terrible and the plot was boring"};
        for (int i = 0; i < 24; i++) {
            data.append(i % 2 == 0 ? pos[i % 3] : neg[i % 3]).append('\t').append(i % 2 == 0 ? "pos" : "neg").append('\n');
        }
        return Files.writeString(dir.resolve("train.tsv"), data.toString());
    }

    /**
     * The weights of the uninterrupted run, trained once for the class. It writes no checkpoint
     * (save steps beyond the run), so the runs compared with it also show that writing checkpoints
     * and resuming from them leave training exactly as it was.
     */
    synchronized Path reference(Path train) throws Exception {
        if (referenceWeights == null) {
            Path out = shared.resolve("reference");
            Path console = shared.resolve("reference-console.txt");
            Process ref = start(train, out, console, 1000);
            assertThat(ref.waitFor(300, TimeUnit.SECONDS)).isTrue();
            assertThat(ref.exitValue()).as(Files.readString(console)).isZero();
            referenceWeights = out.resolve("model.safetensors");
        }
        return referenceWeights;
    }

    /** Waits until the child's log reaches the step; fails with the child's output if it ended first. */
    static void awaitStep(Process p, Path out, long target, Path console, String why) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(300);
        while (loggedStep(out) < target && p.isAlive() && System.nanoTime() < deadline) {
            Thread.sleep(2);
        }
        if (!p.isAlive() || loggedStep(out) < target) {
            String log = Files.readString(console);
            throw new AssertionError(why + ": the child did not reach step " + target + "; its output ends with:\n"
                    + log.substring(Math.max(0, log.length() - 3000)));
        }
    }

    /** Highest step in the run's JSONL log (lines may be torn by a kill). */
    static long loggedStep(Path out) {
        Path log = out.resolve("trainer_log.jsonl");
        long max = 0;
        try {
            for (String line : Files.readAllLines(log, StandardCharsets.UTF_8)) {
                try {
                    max = Math.max(max, new ObjectMapper().readTree(line).path("step").asLong());
                } catch (IOException torn) {
                    // being written
                }
            }
        } catch (IOException e) {
            return 0;
        }
        return max;
    }

    @Test
    void killedHardAtRandomStepsAndResumedEndsWithTheUninterruptedWeights() throws Exception {
        Path train = trainingData(tmp);
        Path console = tmp.resolve("console.txt");
        Path referenceWeights = reference(train);

        Path out = tmp.resolve("killed");
        long seed = System.nanoTime();
        Random random = new Random(seed);
        String why = "kill schedule seed " + seed;
        List<Long> killedAt = new ArrayList<>();
        long resumedFrom = 0;
        for (int kill = 0; kill < 3; kill++) {
            long target = Math.min(TOTAL_STEPS - 10, resumedFrom + 2 + random.nextInt(10));
            Process p = start(train, out, console);
            awaitStep(p, out, target, console, why);
            // land anywhere inside the following step, checkpoint writing included
            Thread.sleep(random.nextInt(15));
            p.destroyForcibly(); // SIGKILL: no shutdown hooks, no flushing
            assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
            assertThat(p.exitValue()).isEqualTo(137);
            killedAt.add(loggedStep(out));
            // whatever the kill interrupted, every visible checkpoint is complete
            List<Path> checkpoints;
            try (Stream<Path> s = Files.list(out)) {
                checkpoints = s.filter(x -> x.getFileName().toString().startsWith("checkpoint-")).toList();
            }
            assertThat(checkpoints).as(why).isNotEmpty();
            long newest = 0;
            for (Path c : checkpoints) {
                for (String f : List.of("config.json", "model.safetensors", "optimizer.safetensors",
                        "trainer_state.json", "tokenizer.json")) {
                    assertThat(c.resolve(f)).as(why + ": " + c + " is complete").isRegularFile();
                }
                JsonNode state = new ObjectMapper().readTree(c.resolve("trainer_state.json").toFile());
                newest = Math.max(newest, state.get("global_step").asLong());
            }
            assertThat(newest).as(why).isGreaterThan(resumedFrom);
            resumedFrom = newest;
        }
        Process last = start(train, out, console);
        assertThat(last.waitFor(300, TimeUnit.SECONDS)).isTrue();
        assertThat(last.exitValue()).as(Files.readString(console)).isZero();
        assertThat(Files.readString(console)).contains("resuming from");

        JsonNode metrics = new ObjectMapper().readTree(out.resolve("metrics.json").toFile());
        assertThat(metrics.get("global_steps").asInt()).isEqualTo(TOTAL_STEPS);
        assertThat(Files.readAllBytes(out.resolve("model.safetensors")))
                .as(why + ", killed after steps " + killedAt)
                .isEqualTo(Files.readAllBytes(referenceWeights));
        // the log of the resumed run has every step exactly once
        List<Long> steps = new ArrayList<>();
        for (String line : Files.readAllLines(out.resolve("trainer_log.jsonl"))) {
            JsonNode n = new ObjectMapper().readTree(line);
            if (n.has("loss")) {
                steps.add(n.get("step").asLong());
            }
        }
        assertThat(steps).hasSize(TOTAL_STEPS).doesNotHaveDuplicates();
    }

    @Test
    void sigtermStopsAfterTheCurrentStepWithACheckpointThereAndNoCrash() throws Exception {
        Path train = trainingData(tmp);
        Path console = tmp.resolve("console.txt");
        Path out = tmp.resolve("terminated");
        // no periodic checkpoints: whatever survives the SIGTERM was written because of it
        Process p = start(train, out, console, 1000);
        awaitStep(p, out, 5, console, "sigterm");
        p.destroy(); // SIGTERM, as kill and a service manager send (Ctrl-C sends SIGINT, handled alike)
        assertThat(p.waitFor(120, TimeUnit.SECONDS)).isTrue();
        String log = Files.readString(console);
        assertThat(p.exitValue()).as(log).isEqualTo(143);
        assertThat(log).contains("stopping after the current step")
                .contains("interrupted (Ctrl-C or SIGTERM): training stopped after step")
                .contains("--resume")
                .doesNotContain("A fatal error has been detected");
        ChildAttune.assertNoCrashFile(tmp);
        long stoppedAt = loggedStep(out);
        assertThat(stoppedAt).isBetween(5L, (long) TOTAL_STEPS - 1);
        assertThat(out.resolve("checkpoint-" + stoppedAt).resolve("trainer_state.json")).isRegularFile();
        assertThat(out.resolve("model.safetensors")).as("no final model from a stopped run").doesNotExist();

        Process rest = start(train, out, console, 1000);
        assertThat(rest.waitFor(300, TimeUnit.SECONDS)).isTrue();
        assertThat(rest.exitValue()).as(Files.readString(console)).isZero();
        assertThat(Files.readString(console)).contains("resuming at step " + stoppedAt);
        assertThat(Files.readAllBytes(out.resolve("model.safetensors")))
                .isEqualTo(Files.readAllBytes(reference(train)));
    }
}
