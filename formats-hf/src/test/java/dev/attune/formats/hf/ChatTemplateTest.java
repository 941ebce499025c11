package dev.attune.formats.hf;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.attune.error.InvalidDataException;
import dev.attune.model.TextTokenizer.ChatEncoding;
import dev.attune.model.TextTokenizer.ChatMessage;
import dev.attune.testing.SharedFiles;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Chat templates against transformers' {@code apply_chat_template} on the decoder fixtures (a Llama 3
 * template in {@code chat_template.jinja}, a ChatML one): the rendered text, the token ids and the
 * assistant mask equal the reference's, with and without the generation prompt; a template's
 * {@code raise_exception} and a missing template are errors that say what to do.
 */
class ChatTemplateTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    static Stream<Arguments> conversations() throws IOException {
        List<Arguments> out = new ArrayList<>();
        for (String fixture : List.of("llama-lm", "qwen2-lm")) {
            JsonNode ref = JSON.readTree(SharedFiles.path("fixtures/hf/" + fixture + "/reference.json").toFile());
            int i = 0;
            for (JsonNode c : ref.get("chat")) {
                out.add(Arguments.of(fixture + " #" + i++ + " add_generation_prompt=" + c.get("add_generation_prompt"),
                        fixture, c));
            }
        }
        return out.stream();
    }

    static List<ChatMessage> messages(JsonNode c) {
        List<ChatMessage> out = new ArrayList<>();
        c.get("messages").forEach(m -> out.add(new ChatMessage(m.get("role").asText(), m.get("content").asText())));
        return out;
    }

    private static long[] longs(JsonNode a) {
        long[] out = new long[a.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = a.get(i).asLong();
        }
        return out;
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("conversations")
    void rendersTokenisesAndMasksAsTransformers(String name, String fixture, JsonNode c) {
        try (HfTokenizer tokenizer = HfTokenizer.load(SharedFiles.path("fixtures/hf/" + fixture))) {
            assertThat(tokenizer.hasChatTemplate()).isTrue();
            ChatEncoding e = tokenizer.applyChatTemplate(messages(c), c.get("add_generation_prompt").asBoolean());
            assertThat(e.text()).isEqualTo(c.get("text").asText());
            assertThat(e.ids()).containsExactly(longs(c.get("input_ids")));
            assertThat(e.assistantMask()).containsExactly(longs(c.get("assistant_mask")));
        }
    }

    /**
     * A tokenizer whose regular expressions make it run in a separate process (the hostile-input
     * isolation) renders and masks a conversation exactly as in this process: the rendered text is
     * tokenised by the child without special tokens too.
     */
    @Test
    void aTokenizerRunApartAppliesTheTemplateTheSame() throws IOException {
        Object[] first = conversations().findFirst().orElseThrow().get();
        String fixture = (String) first[1];
        JsonNode c = (JsonNode) first[2];
        ChatEncoding here;
        try (HfTokenizer tokenizer = HfTokenizer.load(SharedFiles.path("fixtures/hf/" + fixture))) {
            here = tokenizer.applyChatTemplate(messages(c), true);
        }
        String before = System.getProperty(HfTokenizer.ISOLATION_PROPERTY);
        System.setProperty(HfTokenizer.ISOLATION_PROPERTY, "always");
        try (HfTokenizer apart = HfTokenizer.load(SharedFiles.path("fixtures/hf/" + fixture))) {
            ChatEncoding there = apart.applyChatTemplate(messages(c), true);
            assertThat(there.text()).isEqualTo(here.text());
            assertThat(there.ids()).containsExactly(here.ids());
            assertThat(there.assistantMask()).containsExactly(here.assistantMask());
        } finally {
            if (before == null) {
                System.clearProperty(HfTokenizer.ISOLATION_PROPERTY);
            } else {
                System.setProperty(HfTokenizer.ISOLATION_PROPERTY, before);
            }
        }
    }

    @Test
    void theTemplatesOwnRaiseExceptionIsADataError() {
        String strict = "{% for m in messages %}{% if m['role'] == 'system' and not loop.first %}"
                + "{{ raise_exception('System message must come first') }}{% endif %}{{ m['content'] }}{% endfor %}";
        try (HfTokenizer base = HfTokenizer.load(SharedFiles.path("fixtures/hf/qwen2-lm"));
                HfTokenizer tokenizer = base.withChatTemplate(strict)) {
            assertThat(tokenizer.applyChatTemplate(List.of(new ChatMessage("system", "a"), new ChatMessage("user", "b")),
                    false).text()).isEqualTo("ab");
            assertThatThrownBy(() -> tokenizer.applyChatTemplate(
                    List.of(new ChatMessage("user", "b"), new ChatMessage("system", "a")), false))
                    .isInstanceOf(InvalidDataException.class)
                    .hasMessageContaining("refused the conversation")
                    .hasMessageContaining("System message must come first");
        }
    }

    /**
     * Jinja's {@code trim} is Python's {@code str.strip()}: a reply ending in a NUL (a random model
     * writes one) keeps it, as transformers renders it, and its mask is found; a no-break space is
     * stripped. Message text is data: {@code {{ ... }}} in it is not rendered again. A template that
     * rewrites a reply fails for the mask, unless the caller needs none (a chat prompt).
     */
    @Test
    void trimIsPythonsStripMessagesAreNotTemplatesAndAPromptNeedsNoMask() {
        try (HfTokenizer tokenizer = HfTokenizer.load(SharedFiles.path("fixtures/hf/llama-lm"))) {
            ChatEncoding nul = tokenizer.applyChatTemplate(List.of(new ChatMessage("user", " hi\u00a0\n"),
                    new ChatMessage("assistant", "land\u0000"), new ChatMessage("user", "{{ 7 * 7 }}")), true);
            assertThat(nul.text()).contains("\n\nhi<|eot_id|>").contains("land\u0000<|eot_id|>")
                    .contains("{{ 7 * 7 }}").doesNotContain("49");
            assertThat(java.util.Arrays.stream(nul.assistantMask()).sum()).isPositive();
        }
        String rewrites = "{% for m in messages %}{{ m['content'] | upper }}{{ eos_token }}{% endfor %}";
        try (HfTokenizer base = HfTokenizer.load(SharedFiles.path("fixtures/hf/qwen2-lm"));
                HfTokenizer tokenizer = base.withChatTemplate(rewrites)) {
            List<ChatMessage> c = List.of(new ChatMessage("user", "hi"), new ChatMessage("assistant", "yo"));
            assertThatThrownBy(() -> tokenizer.applyChatTemplate(c, false)).isInstanceOf(InvalidDataException.class)
                    .hasMessageContaining("does not render message 2 (assistant) as written");
            ChatEncoding prompt = tokenizer.applyChatTemplate(c, true, false);
            assertThat(prompt.text()).startsWith("HI");
            assertThat(prompt.ids()).isNotEmpty();
            assertThat(prompt.assistantMask()).containsOnly(0L);
        }
    }

    @Test
    void aTokenizerWithoutTemplateSaysToPassOne() {
        try (HfTokenizer tokenizer = HfTokenizer.load(SharedFiles.path("fixtures/hf/gpt2-lm"))) {
            assertThat(tokenizer.hasChatTemplate()).isFalse();
            assertThatThrownBy(() -> tokenizer.applyChatTemplate(List.of(new ChatMessage("user", "hi")), true))
                    .isInstanceOf(InvalidDataException.class)
                    .hasMessageContaining("--chat-template");
        }
    }

    @Test
    void templateInTokenizerConfigAndSavedFolderKeepTheTemplate(@TempDir Path dir) throws IOException {
        Path fixture = SharedFiles.path("fixtures/hf/qwen2-lm");
        Files.copy(fixture.resolve("tokenizer.json"), dir.resolve("tokenizer.json"));
        Map<String, Object> config = JSON.readValue(fixture.resolve("tokenizer_config.json").toFile(), Map.class);
        config.put("chat_template", Files.readString(fixture.resolve("chat_template.jinja")));
        JSON.writeValue(dir.resolve("tokenizer_config.json").toFile(), config);
        JsonNode c = JSON.readTree(fixture.resolve("reference.json").toFile()).get("chat").get(0);
        try (HfTokenizer fromConfig = HfTokenizer.load(dir)) {
            assertThat(fromConfig.chatTemplate().orElseThrow().origin()).contains("tokenizer_config.json");
            assertThat(fromConfig.applyChatTemplate(messages(c), false).ids()).containsExactly(longs(c.get("input_ids")));
        }
        Path saved = dir.resolve("saved");
        Files.createDirectory(saved);
        try (HfTokenizer original = HfTokenizer.load(fixture)) {
            original.saveTo(saved);
        }
        assertThat(saved.resolve(ChatTemplate.FILE_NAME)).exists();
        try (HfTokenizer reloaded = HfTokenizer.load(saved)) {
            assertThat(reloaded.applyChatTemplate(messages(c), false).text()).isEqualTo(c.get("text").asText());
        }
    }
}
