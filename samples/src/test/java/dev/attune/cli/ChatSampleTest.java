package dev.attune.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.attune.samples.Chat;
import dev.attune.testing.SharedFiles;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The interactive chat sample, driven through its standard input as a person would type: each
 * message gets one {@code System:} line, and the chat ends cleanly on an empty line or at the end of
 * the input.
 */
class ChatSampleTest {
    static final Path GPT2 = SharedFiles.path("fixtures/hf/gpt2-lm");

    @TempDir
    Path tmp;

    String chat(String typed) throws Exception {
        // the transcript is what the chat prints; the log (the engine it runs on) goes to stderr
        Path console = tmp.resolve("console.txt");
        Path log = tmp.resolve("log.txt");
        Process p = new ProcessBuilder(ChildAttune.command(tmp, Chat.class, List.of(GPT2.toString())))
                .redirectOutput(console.toFile()).redirectError(log.toFile()).start();
        p.getOutputStream().write(typed.getBytes(StandardCharsets.UTF_8));
        p.getOutputStream().close();
        assertThat(p.waitFor(180, TimeUnit.SECONDS)).as("chat still running").isTrue();
        String out = Files.readString(console);
        assertThat(p.exitValue()).as(out + Files.readString(log)).isZero();
        ChildAttune.assertNoCrashFile(tmp);
        return out;
    }

    @Test
    void twoMessagesGetTwoRepliesAndAnEmptyLineQuitsWithoutATrailingBlankLine() throws Exception {
        String out = chat("Hello there\nCan you book a table?\n\n");
        assertThat(out).startsWith("Chat with " + GPT2);
        List<String> replies = out.lines().filter(l -> l.contains("System: ")).toList();
        assertThat(replies).hasSize(2);
        // three prompts (two messages, then the empty line), and nothing printed after the last one
        assertThat(out.split("User: ", -1)).hasSize(4);
        assertThat(out).endsWith("User: ");
    }

    @Test
    void endOfInputQuitsOnAFreshLine() throws Exception {
        String out = chat("Hello there\n");
        assertThat(out.lines().filter(l -> l.contains("System: "))).hasSize(1);
        assertThat(out).endsWith("User: " + System.lineSeparator());
    }
}
