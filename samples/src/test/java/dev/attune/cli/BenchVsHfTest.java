package dev.attune.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code attune bench --vs-hf}: Attune's real measurements alternate with runs of a reference program,
 * here a shell script with fixed figures standing in for Python (CI has no torch), so each ratio can
 * be checked against the numbers Attune printed; and the ways a wrong Python is refused.
 */
class BenchVsHfTest {
    @TempDir
    Path tmp;

    /** An executable standing in for python: records its arguments, prints noise and then {@code lastLine}. */
    Path fakePython(String body) throws Exception {
        Path exe = tmp.resolve("fake-python");
        Files.writeString(exe, "#!/bin/sh\n" + body);
        Files.setPosixFilePermissions(exe, PosixFilePermissions.fromString("rwx------"));
        return exe;
    }

    String[] bench(Path python, Path script, String... more) {
        List<String> args = new java.util.ArrayList<>(List.of("bench", "--model", CliTest.FIXTURE.toString(),
                "--batch", "2", "--seq", "8", "--steps", "2", "--warmup", "1",
                "--vs-hf", python.toString(), "--hf-script", script.toString()));
        args.addAll(List.of(more));
        return args.toArray(String[]::new);
    }

    @Test
    void alternatesRoundsAndPrintsEachRatioAndTheMedians() throws Exception {
        Path script = Files.writeString(tmp.resolve("hf_reference.py"), "# not read by the fake\n");
        Path seen = tmp.resolve("args.txt");
        Path python = fakePython("echo \"$@\" >> " + seen + "\n"
                + "echo 'Loading weights: 100%' >&2\n"
                + "echo '{\"impl\": \"transformers-x/torch-y\", \"step_ms\": 40.0, "
                + "\"train_samples_per_s\": 50.0, \"infer_samples_per_s\": 200.0}'\n");
        String out = CliTest.run(bench(python, script, "--rounds", "3"));

        ObjectMapper json = new ObjectMapper();
        List<JsonNode> lines = out.lines().filter(l -> l.startsWith("{")).map(l -> {
            try {
                return json.readTree(l);
            } catch (Exception e) {
                throw new AssertionError(l, e);
            }
        }).toList();
        assertThat(lines).hasSize(7);
        // round 1: the reference first; round 2: Attune first; round 3: the reference first
        assertThat(lines.get(0).get("impl").asText()).isEqualTo("transformers-x/torch-y");
        assertThat(lines.get(1).get("impl").asText()).startsWith("attune/");
        assertThat(lines.get(2).get("impl").asText()).startsWith("attune/");
        assertThat(lines.get(3).get("impl").asText()).isEqualTo("transformers-x/torch-y");
        assertThat(lines.get(4).get("impl").asText()).isEqualTo("transformers-x/torch-y");
        assertThat(lines.get(5).get("impl").asText()).startsWith("attune/");
        assertThat(List.of(0, 1, 2, 3, 4, 5).stream().map(i -> lines.get(i).get("round").asInt()).toList())
                .containsExactly(1, 1, 2, 2, 3, 3);

        JsonNode summary = lines.get(6);
        assertThat(summary.get("vs").asText()).isEqualTo("transformers-x/torch-y");
        assertThat(summary.get("rounds").asInt()).isEqualTo(3);
        double[] train = new double[3];
        double[] infer = new double[3];
        int[] attuneLine = {1, 2, 5};
        for (int r = 0; r < 3; r++) {
            JsonNode ours = lines.get(attuneLine[r]);
            // training: the reference's step time over Attune's (unrounded, unlike samples/s)
            train[r] = Math.round(40.0 / ours.get("step_ms").asDouble() * 1000) / 1000.0;
            infer[r] = Math.round(ours.get("infer_samples_per_s").asDouble() / 200.0 * 1000) / 1000.0;
            assertThat(summary.get("train_ratios").get(r).asDouble()).isEqualTo(train[r]);
            assertThat(summary.get("infer_ratios").get(r).asDouble()).isEqualTo(infer[r]);
        }
        java.util.Arrays.sort(train);
        java.util.Arrays.sort(infer);
        assertThat(summary.get("train_ratio_median").asDouble()).isEqualTo(train[1]);
        assertThat(summary.get("infer_ratio_median").asDouble()).isEqualTo(infer[1]);

        // the reference was asked for the same shape, steps and threads, three times
        assertThat(Files.readAllLines(seen)).hasSize(3).allSatisfy(l -> assertThat(l).isEqualTo(script
                + " --model " + CliTest.FIXTURE + " --batch 2 --seq 8 --steps 2 --warmup 1 --threads 2 --labels 2"));
    }

    /**
     * {@code --task causal-lm} trains a language model on its own input ids (the Llama fixture with a
     * LoRA adapter, as the Qwen benchmark does) and asks the reference for the same task.
     */
    @Test
    void aCausalLanguageModelIsBenchedAgainstTheSameTask() throws Exception {
        Path script = Files.writeString(tmp.resolve("hf_reference.py"), "# not read by the fake\n");
        Path seen = tmp.resolve("args.txt");
        Path python = fakePython("echo \"$@\" >> " + seen + "\n"
                + "echo '{\"impl\": \"transformers-x/torch-y\", \"step_ms\": 40.0, "
                + "\"train_samples_per_s\": 50.0, \"infer_samples_per_s\": 200.0}'\n");
        Path llama = dev.attune.testing.SharedFiles.path("fixtures/hf/llama-lm");
        String out = CliTest.run("bench", "--model", llama.toString(), "--task", "causal-lm", "--use-peft", "--lora-r",
                "4", "--batch", "2", "--seq", "8", "--steps", "2", "--warmup", "1", "--vs-hf", python.toString(),
                "--hf-script", script.toString(), "--rounds", "1");
        ObjectMapper json = new ObjectMapper();
        JsonNode ours = json.readTree(out.lines().filter(l -> l.contains("\"impl\":\"attune/")).findFirst().orElseThrow());
        assertThat(ours.get("task").asText()).isEqualTo("causal-lm");
        assertThat(ours.get("lora_r").asInt()).isEqualTo(4);
        assertThat(ours.get("train_samples_per_s").asDouble()).isPositive();
        assertThat(Files.readString(seen)).contains("--task causal-lm").contains("--lora-r 4");
        assertThat(CliTest.runRefused("bench", "--model", llama.toString(), "--task", "ner")).contains("--task ner")
                .contains("causal-lm");
    }

    @Test
    void aPythonWithoutTorchIsNamedWithTheEndOfItsError() throws Exception {
        Path script = Files.writeString(tmp.resolve("hf_reference.py"), "");
        Path python = fakePython("echo 'Traceback (most recent call last):' >&2\n"
                + "echo \"ModuleNotFoundError: No module named 'torch'\" >&2\nexit 1\n");
        CliTest.Outcome o = CliTest.execute(bench(python, script, "--rounds", "1"));
        assertThat(o.code()).isEqualTo(2);
        assertThat(o.err()).contains(python.toString()).contains("status 1").contains("No module named 'torch'");
        assertThat(o.out()).as("nothing of Attune's was measured before the reference failed").isEmpty();
    }

    @Test
    void aReferenceThatPrintsNoResultIsRefused() throws Exception {
        Path script = Files.writeString(tmp.resolve("hf_reference.py"), "");
        Path python = fakePython("echo 'hello'\n");
        String err = CliTest.runRefused(bench(python, script, "--rounds", "1"));
        assertThat(err).contains("printed no JSON line").contains("hello");
    }

    @Test
    void missingProgramScriptOrVsHfAreRefusedBeforeAnythingRuns() throws Exception {
        Path script = Files.writeString(tmp.resolve("hf_reference.py"), "");
        Path nowhere = tmp.resolve("no-such-python");
        assertThat(CliTest.runRefused(bench(nowhere, script, "--rounds", "1")))
                .contains("cannot run '" + nowhere + "'").contains("pip install torch transformers");
        Path noScript = tmp.resolve("missing.py");
        assertThat(CliTest.runRefused(bench(fakePython("exit 0\n"), noScript)))
                .contains("--hf-script " + noScript + " is not a file");
        assertThat(CliTest.runRefused("bench", "--model", CliTest.FIXTURE.toString(), "--rounds", "3"))
                .contains("--rounds").contains("--vs-hf");
        assertThat(CliTest.runRefused(bench(fakePython("exit 0\n"), script, "--rounds", "0")))
                .contains("--rounds must be at least 1");
        assertThat(CliTest.runRefused(bench(fakePython("exit 0\n"), script, "--engines", "pytorch,tensorflow")))
                .contains("use --engine, not --engines");
    }
    @Test
    void sigtermEndsTheReferenceRunAndTheCommandAtOnce() throws Exception {
        Path script = Files.writeString(tmp.resolve("hf_reference.py"), "");
        Path pid = tmp.resolve("pid");
        Path python = fakePython("echo $$ > " + pid + ".part && mv " + pid + ".part " + pid + "\nsleep 120\n");
        Path console = tmp.resolve("console.txt");
        Process p = new ProcessBuilder(ChildAttune.command(tmp, List.of(bench(python, script, "--rounds", "1"))))
                .redirectErrorStream(true).redirectOutput(console.toFile()).start();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        while (p.isAlive() && System.nanoTime() < deadline && !Files.exists(pid)) {
            Thread.sleep(10);
        }
        assertThat(p.isAlive()).as("waiting on the reference when signalled:\n" + Files.readString(console)).isTrue();
        long reference = Long.parseLong(Files.readString(pid).strip());
        long signalled = System.nanoTime();
        p.destroy(); // SIGTERM
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        String log = Files.readString(console);
        assertThat(p.exitValue()).as(log).isEqualTo(143);
        assertThat(TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - signalled)).as("did not wait out the reference")
                .isLessThan(30);
        assertThat(log).contains("interrupted (Ctrl-C or SIGTERM): stopped before the end");
        // killed: gone, or a zombie waiting for whoever adopted it to reap it (state Z in /proc)
        long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (running(reference) && System.nanoTime() < until) {
            Thread.sleep(20);
        }
        assertThat(running(reference)).as("the reference program was killed, not left running").isFalse();
    }

    /** Whether a process exists and is not a zombie. */
    static boolean running(long pid) throws Exception {
        Path stat = Path.of("/proc/" + pid + "/stat");
        if (!Files.exists(stat)) {
            return ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false);
        }
        try {
            String s = Files.readString(stat);
            return s.charAt(s.lastIndexOf(')') + 2) != 'Z';
        } catch (java.io.IOException gone) {
            return false;
        }
    }
}
