package dev.attune.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.attune.testing.SharedFiles;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * SIGTERM (Ctrl-C alike) during a command that does not train: {@code attune logits} stops after the
 * row in progress instead of letting the JVM exit under libtorch (a native crash), and the lines it
 * wrote are whole and in input order.
 */
class InterruptTest {
    static final Path FIXTURE = SharedFiles.path("fixtures/hf/bert-seqcls");
    static final int ROWS = 20_000;

    @TempDir
    Path tmp;

    @Test
    void sigtermStopsLogitsBetweenRowsWithWholeLinesAndNoCrash() throws Exception {
        StringBuilder rows = new StringBuilder();
        for (int i = 0; i < ROWS; i++) {
            rows.append("{\"text\": \"row ").append(i).append(" of a long file to score\"}\n");
        }
        Path input = Files.writeString(tmp.resolve("in.jsonl"), rows.toString());
        Path output = tmp.resolve("out.jsonl");
        Path console = tmp.resolve("console.txt");
        Process p = new ProcessBuilder(ChildAttune.command(tmp, List.of("logits", "--model", FIXTURE.toString(),
                "--input", input.toString(), "--output", output.toString(), "--max-length", "16", "--device", "cpu", "--threads", "1")))
                .redirectErrorStream(true).redirectOutput(console.toFile()).start();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(300);
        while (p.isAlive() && System.nanoTime() < deadline && (!Files.exists(output) || Files.size(output) == 0)) {
            Thread.sleep(5);
        }
        assertThat(p.isAlive()).as("still scoring when signalled; output:\n" + Files.readString(console)).isTrue();
        p.destroy(); // SIGTERM
        assertThat(p.waitFor(120, TimeUnit.SECONDS)).isTrue();
        String log = Files.readString(console);
        assertThat(p.exitValue()).as(log).isEqualTo(143);
        assertThat(log).contains("stopping after the current batch")
                .contains("interrupted (Ctrl-C or SIGTERM): stopped before the end")
                .doesNotContain("A fatal error has been detected");
        ChildAttune.assertNoCrashFile(tmp);
        List<String> lines = Files.readAllLines(output, StandardCharsets.UTF_8);
        assertThat(lines).isNotEmpty().hasSizeLessThan(ROWS);
        ObjectMapper json = new ObjectMapper();
        for (int i = 0; i < lines.size(); i++) {
            JsonNode line = json.readTree(lines.get(i)); // a torn line would not parse
            assertThat(line.path("text").asText()).isEqualTo("row " + i + " of a long file to score");
            assertThat(line.path("logits").size()).isPositive();
        }
    }
}
