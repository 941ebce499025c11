package dev.attune.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A run leaves nothing in the temporary folder: ONNX Runtime's extracted natives (an {@code
 * onnxruntime-java*} folder every run left behind, empty) go at exit. Run in a child JVM whose
 * temporary folder is the test's own, as a user's process runs.
 */
class TempFilesTest {
    @TempDir Path tmp;

    @Test
    void anOnnxRunLeavesNothingInTheTemporaryFolder() throws IOException, InterruptedException {
        Path temp = Files.createDirectories(tmp.resolve("java-tmp"));
        Path crash = Files.createDirectories(tmp.resolve("crash"));
        Path input = Files.writeString(tmp.resolve("in.jsonl"), "{\"text\": \"hello there\"}\n");
        List<String> command = new ArrayList<>(ChildAttune.command(crash, List.of("logits", "--engine", "onnx",
                "--model", CliTest.FIXTURE.resolve("torch_export.onnx").toString(), "--input", input.toString())));
        command.add(1, "-Djava.io.tmpdir=" + temp);
        Process p = new ProcessBuilder(command).redirectErrorStream(true)
                .redirectOutput(tmp.resolve("child.log").toFile()).start();
        assertThat(p.waitFor(120, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).as(Files.readString(tmp.resolve("child.log"))).isZero();
        assertThat(Files.readString(tmp.resolve("child.log"))).contains("\"logits\"");
        try (Stream<Path> left = Files.list(temp)) {
            assertThat(left.map(x -> x.getFileName().toString()).toList()).isEmpty();
        }
        ChildAttune.assertNoCrashFile(crash);
    }
}
