package dev.attune.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.attune.Attune;
import dev.attune.core.generate.Generator;
import dev.attune.engine.LoweredModel;
import dev.attune.generate.GenerationConfig;
import dev.attune.model.HeadSpec.HeadKind;
import dev.attune.model.FineTunedModel;
import dev.attune.model.HeadSpec;
import dev.attune.model.TextTokenizer;
import dev.attune.generate.TextGenerator;
import dev.attune.model.PretrainedModel;
import dev.attune.model.TextTokenizer.ChatMessage;
import dev.attune.testing.SharedFiles;
import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code attune chat} on the Llama fixture, greedy: the streamed reply is the one the generator
 * gives for the conversation rendered with the template and its generation prompt; {@code /system}
 * and {@code /reset} forget the history ({@code /reset} keeps the system message); with {@code
 * --adapter}, the replies of the model with the LoRA adapter.
 */
class ChatCommandTest {
    private static final Path LLAMA = SharedFiles.path("fixtures/hf/llama-lm");
    private static final Path ADAPTER = SharedFiles.path("fixtures/hf/peft-lora-llama-lm");

    private static String chat(String input, String... args) {
        InputStream old = System.in;
        try {
            System.setIn(new ByteArrayInputStream(input.getBytes(StandardCharsets.UTF_8)));
            CliTest.Outcome o = CliTest.execute(args);
            assertThat(o.code()).as(o.err()).isZero();
            return o.out();
        } finally {
            System.setIn(old);
        }
    }

    private static List<String> replies(String out) {
        return Arrays.stream(out.split("\n")).filter(l -> l.contains("assistant> "))
                .map(l -> l.substring(l.indexOf("assistant> ") + "assistant> ".length())).toList();
    }

    /** The greedy reply of a generator to a conversation, as the library gives it. */
    private static String reply(TextGenerator generator, TextTokenizer tokenizer, List<ChatMessage> messages) {
        long[] prompt = tokenizer.applyChatTemplate(messages, true).ids();
        GenerationConfig greedy = GenerationConfig.fromFolder(LLAMA).maxNewTokens(6).doSample(false).build();
        long[] all = generator.generate(prompt, greedy);
        return tokenizer.decode(Arrays.copyOfRange(all, prompt.length, all.length), true);
    }

    private static String reply(List<ChatMessage> messages) {
        try (Attune attune = Attune.create(); PretrainedModel base = attune.load(LLAMA);
                LoweredModel lm = attune.lower(base, new HeadSpec(HeadKind.CAUSAL_LM, 0))) {
            long[] prompt = base.tokenizer().applyChatTemplate(messages, true).ids();
            GenerationConfig greedy = GenerationConfig.fromFolder(LLAMA).maxNewTokens(6).doSample(false).build();
            long[] all = new Generator(lm).generate(prompt, greedy);
            return base.tokenizer().decode(Arrays.copyOfRange(all, prompt.length, all.length), true);
        }
    }

    /**
     * With {@code --adapter} (PEFT's all-linear LoRA over the fixture) the replies are those of the
     * library's model with the adapter ({@code attune.open(base, task, maxLength, adapter)}), which
     * are those of the merged model and, two turns in, not the base model's.
     */
    @Test
    void anAdapterRepliesAsTheLibrarysAdaptedAndMergedModel() {
        String out = chat("Hello there\nWhat time is it?\n", "chat", "--model", LLAMA.toString(),
                "--adapter", ADAPTER.toString(), "--greedy", "--max-new-tokens", "6");
        List<String> got = replies(out);
        assertThat(got).hasSize(2);
        List<ChatMessage> first = List.of(new ChatMessage("user", "Hello there"));
        try (Attune attune = Attune.create(); PretrainedModel base = attune.load(LLAMA);
                FineTunedModel adapted = attune.open(base, attune.task("chat", Map.of()), 512, ADAPTER);
                FineTunedModel merged = adapted.mergeAdapter();
                LoweredModel plain = attune.lower(base, new HeadSpec(HeadKind.CAUSAL_LM, 0))) {
            TextTokenizer tokenizer = base.tokenizer();
            List<ChatMessage> second = List.of(first.get(0), new ChatMessage("assistant", got.get(0).strip()),
                    new ChatMessage("user", "What time is it?"));
            List<String> library = List.of(reply(adapted.generator(), tokenizer, first),
                    reply(adapted.generator(), tokenizer, second));
            assertThat(got).containsExactlyElementsOf(library);
            assertThat(List.of(reply(merged.generator(), tokenizer, first), reply(merged.generator(), tokenizer, second)))
                    .containsExactlyElementsOf(library);
            assertThat(List.of(reply(new Generator(plain), tokenizer, first), reply(new Generator(plain), tokenizer, second)))
                    .isNotEqualTo(library);
        }
    }

    /**
     * A GPT-2 (no template of its own) fine-tuned with {@code --task-option chat_template=FILE}
     * saves that template as {@code chat_template.jinja}, so {@code attune chat --model OUT} needs no
     * {@code --chat-template} and the saved tokenizer renders as the training did.
     */
    @Test
    void aTemplateGivenAsTaskOptionIsSavedWithTheModel(@TempDir Path dir) throws java.io.IOException {
        Path template = Path.of(System.getProperty("attune.root", "..")).resolve("samples/chat-templates/dialogue.jinja");
        Path train = Files.writeString(dir.resolve("train.jsonl"), """
                {"turns": [{"speaker": "USER", "text": "I need a table for two."}, {"speaker": "SYSTEM", "text": "Which restaurant?"}]}
                {"turns": [{"speaker": "USER", "text": "Play some music."}, {"speaker": "SYSTEM", "text": "Which song?"}]}
                """);
        Path out = dir.resolve("out");
        CliTest.Outcome o = CliTest.execute("fine-tune", "--task", "chat", "--model",
                SharedFiles.path("fixtures/hf/gpt2-lm").toString(), "--train", train.toString(), "--task-option",
                "input=dialogue", "--task-option", "chat_template=" + template, "--max-steps", "1", "--batch-size", "2",
                "--max-length", "64", "--eval-strategy", "no", "--no-progress", "--device", "cpu", "--output",
                out.toString());
        assertThat(o.code()).as(o.err()).isZero();
        assertThat(out.resolve("chat_template.jinja")).hasSameTextualContentAs(template);
        List<ChatMessage> hello = List.of(new ChatMessage("user", "Hello there"));
        try (Attune attune = Attune.create(); PretrainedModel saved = attune.load(out);
                PretrainedModel base = attune.load(SharedFiles.path("fixtures/hf/gpt2-lm"));
                TextTokenizer templated = base.tokenizer().withChatTemplate(Files.readString(template))) {
            assertThat(base.tokenizer().hasChatTemplate()).isFalse();
            assertThat(saved.tokenizer().applyChatTemplate(hello, true).ids())
                    .containsExactly(templated.applyChatTemplate(hello, true).ids());
        }
        assertThat(replies(chat("Hello there\n", "chat", "--model", out.toString(), "--greedy", "--max-new-tokens",
                "3"))).hasSize(1);
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
