package dev.attune.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.attune.formats.hf.SafetensorsStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A LoRA run ({@code fine-tune --use-peft}) killed with SIGKILL and resumed ({@code --resume}) ends
 * with the adapter of the uninterrupted run, byte for byte; its checkpoints hold only what trains
 * (the adapter, the classifier, their optimizer state), never the frozen model; and the output folder
 * is a PEFT adapter folder.
 */
class LoraKillResumeTest {
    static final int TOTAL_STEPS = 24;

    @TempDir
    Path tmp;

    List<String> command(Path train, Path out, int saveSteps) {
        return ChildAttune.command(tmp, List.of("fine-tune", "--model", KillResumeTest.FIXTURE.toString(), "--train",
                train.toString(), "--output", out.toString(), "--epochs", "4", "--batch-size", "4", "--learning-rate",
                "5e-3", "--warmup-ratio", "0.1", "--weight-decay", "0.01", "--max-length", "16", "--logging-steps", "1",
                "--eval-strategy", "no", "--save-steps", String.valueOf(saveSteps), "--seed", "7", "--no-progress",
                "--device", "cpu", "--threads", "1", "--resume", "--use-peft", "--lora-r", "4", "--lora-alpha", "8",
                "--lora-dropout", "0.1", "--lora-target-modules", "all-linear"));
    }

    Process start(Path train, Path out, Path log, int saveSteps) throws Exception {
        return new ProcessBuilder(command(train, out, saveSteps)).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile())).start();
    }

    @Test
    void aKilledAdapterRunResumesToTheUninterruptedAdapterWithCheckpointsOfWhatTrainsOnly() throws Exception {
        Path train = KillResumeTest.trainingData(tmp);
        Path console = tmp.resolve("console.txt");
        Path reference = tmp.resolve("reference");
        Process ref = start(train, reference, console, 1000);
        assertThat(ref.waitFor(300, TimeUnit.SECONDS)).isTrue();
        assertThat(ref.exitValue()).as(Files.readString(console)).isZero();
        assertThat(Files.readString(console)).contains("trainable params:");
        for (String f : List.of("adapter_config.json", "adapter_model.safetensors", "tokenizer.json", "README.md",
                "trainer_log.jsonl")) {
            assertThat(reference.resolve(f)).isRegularFile();
        }
        assertThat(reference.resolve("model.safetensors")).doesNotExist();

        Path out = tmp.resolve("killed");
        long seed = System.nanoTime();
        int target = 4 + new Random(seed).nextInt(TOTAL_STEPS - 10);
        Process p = start(train, out, console, 1);
        KillResumeTest.awaitStep(p, out, target, console, "kill seed " + seed);
        p.destroyForcibly();
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        List<Path> checkpoints;
        try (Stream<Path> s = Files.list(out)) {
            checkpoints = s.filter(x -> x.getFileName().toString().startsWith("checkpoint-")).toList();
        }
        assertThat(checkpoints).isNotEmpty();
        Path one = checkpoints.get(0);
        assertThat(one.resolve("model.safetensors")).as("the frozen model is not in a checkpoint").doesNotExist();
        assertThat(one.resolve("adapter_model.safetensors")).isRegularFile();
        Set<String> optimizerKeys = new TreeSet<>();
        try (SafetensorsStore s = SafetensorsStore.openFile(one.resolve("optimizer.safetensors"))) {
            optimizerKeys.addAll(s.names());
        }
        assertThat(optimizerKeys).isNotEmpty()
                .allMatch(k -> k.contains(".lora_A.") || k.contains(".lora_B.") || k.contains("/classifier."));

        Process last = start(train, out, console, 1);
        assertThat(last.waitFor(300, TimeUnit.SECONDS)).isTrue();
        assertThat(last.exitValue()).as(Files.readString(console)).isZero();
        assertThat(Files.readString(console)).contains("resuming at step");
        JsonNode metrics = new ObjectMapper().readTree(out.resolve("metrics.json").toFile());
        assertThat(metrics.get("global_steps").asInt()).isEqualTo(TOTAL_STEPS);
        assertThat(Files.readAllBytes(out.resolve("adapter_model.safetensors")))
                .as("killed near step %d (seed %d)", target, seed)
                .isEqualTo(Files.readAllBytes(reference.resolve("adapter_model.safetensors")));
    }
}
