package dev.attune.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.attune.Attune;
import dev.attune.core.generate.Generator;
import dev.attune.engine.LoweredModel;
import dev.attune.generate.GenerationConfig;
import dev.attune.model.HeadSpec.HeadKind;
import dev.attune.model.HeadSpec;
import dev.attune.model.PretrainedModel;
import dev.attune.model.TextTokenizer.ChatMessage;
import dev.attune.testing.SharedFiles;
import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * {@code attune chat} on the Llama fixture, greedy: the streamed reply is the one the generator
 * gives for the conversation rendered with the template and its generation prompt; {@code /system}
 * and {@code /reset} forget the history ({@code /reset} keeps the system message).
 */
class ChatCommandTest {
    private static final Path LLAMA = SharedFiles.path("fixtures/hf/llama-lm");

    private static String reply(List<ChatMessage> messages) {
        try (Attune attune = Attune.create(); PretrainedModel base = attune.load(LLAMA);
                LoweredModel lm = attune.lower(base, new HeadSpec(HeadKind.CAUSAL_LM, 0))) {
            long[] prompt = base.tokenizer().applyChatTemplate(messages, true).ids();
            GenerationConfig greedy = GenerationConfig.fromFolder(LLAMA).maxNewTokens(6).doSample(false).build();
            long[] all = new Generator(lm).generate(prompt, greedy);
            return base.tokenizer().decode(Arrays.copyOfRange(all, prompt.length, all.length), true);
        }
    }

    @Test
    void streamsTheTemplatedReplyAndStartsOverOnResetAndSystem() {
        String input = "Hello there\n/system You answer briefly.\nWhat time is it?\n/reset\nHello there\n";
        InputStream old = System.in;
        CliTest.Outcome o;
        try {
            System.setIn(new ByteArrayInputStream(input.getBytes(StandardCharsets.UTF_8)));
            o = CliTest.execute("chat", "--model", LLAMA.toString(), "--greedy", "--max-new-tokens", "6");
        } finally {
            System.setIn(old);
        }
        assertThat(o.code()).as(o.err()).isZero();
        String hello = reply(List.of(new ChatMessage("user", "Hello there")));
        String brief = reply(List.of(new ChatMessage("system", "You answer briefly."),
                new ChatMessage("user", "What time is it?")));
        String[] lines = o.out().split("\n");
        List<String> replies = Arrays.stream(lines).filter(l -> l.contains("assistant> "))
                .map(l -> l.substring(l.indexOf("assistant> ") + "assistant> ".length())).toList();
        // /reset keeps the system message
        String briefHello = reply(List.of(new ChatMessage("system", "You answer briefly."),
                new ChatMessage("user", "Hello there")));
        assertThat(replies).containsExactly(hello, brief, briefHello);
        assertThat(o.out()).contains("(system message set; history cleared)").contains("(history cleared)");
    }
}
