package dev.attune.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.attune.testing.SharedFiles;
import java.io.BufferedWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * SIGTERM while {@code fine-tune} is still tokenizing its data (a long phase for a large file)
 * ends the process within seconds, with the signal's status and a message saying training had not
 * begun, instead of promising a checkpoint and tokenizing on.
 */
class InterruptWhileLoadingTest {
    @TempDir
    Path tmp;

    @Test
    void sigtermWhileTokenizingEndsAtOnce() throws Exception {
        Path train = tmp.resolve("train.tsv");
        Random r = new Random(1);
        String[] words = {"a", "gripping", "film", "with", "wonderful", "acting", "but", "the", "plot", "was", "dull"};
        try (BufferedWriter w = Files.newBufferedWriter(train, StandardCharsets.UTF_8)) {
            w.write("sentence\tlabel\n");
            for (int i = 0; i < 300_000; i++) { // tokenizing all of it takes far longer than the bound below
                for (int k = 0; k < 40; k++) {
                    w.write(words[r.nextInt(words.length)]);
                    w.write(' ');
                }
                w.write("\t" + (i % 2) + "\n");
            }
        }
        Path out = tmp.resolve("out");
        Path console = tmp.resolve("console.txt");
        Process p = new ProcessBuilder(ChildAttune.command(tmp, List.of("fine-tune", "--model",
                SharedFiles.path("fixtures/hf/bert-seqcls").toString(), "--train", train.toString(),
                "--text-column", "sentence", "--label-column", "label", "--max-steps", "2", "--max-length", "128",
                "--output", out.toString(), "--device", "cpu", "--threads", "1", "--no-progress")))
                .redirectErrorStream(true).redirectOutput(console.toFile()).start();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(240);
        while (p.isAlive() && System.nanoTime() < deadline && !Files.readString(console).contains("tokenizing 300000")) {
            Thread.sleep(20);
        }
        assertThat(p.isAlive()).as("still tokenizing when signalled; output:\n" + Files.readString(console)).isTrue();
        long signalled = System.nanoTime();
        p.destroy(); // SIGTERM
        assertThat(p.waitFor(120, TimeUnit.SECONDS)).isTrue();
        double seconds = (System.nanoTime() - signalled) / 1e9;
        String log = Files.readString(console);
        assertThat(p.exitValue()).as(log).isEqualTo(143);
        assertThat(seconds).as(log).isLessThan(10);
        assertThat(log).contains("training stopped while tokenizing the data, before its first step")
                .doesNotContain("A fatal error has been detected");
        assertThat(out.resolve("model.safetensors")).doesNotExist();
        ChildAttune.assertNoCrashFile(tmp);
    }
}
