package dev.attune.tasks.lm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.attune.error.ConfigurationException;
import dev.attune.error.InvalidDataException;
import dev.attune.formats.hf.HfTokenizer;
import dev.attune.task.Dataset;
import dev.attune.task.Features;
import dev.attune.task.TaskOptions;
import dev.attune.testing.SharedFiles;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The {@code chat} task's reading, options and templates: the dialogue template of {@code
 * samples/chat-templates/dialogue.jinja} renders the DSTC8 dialogues token for token as the {@code
 * causal-lm} task does (so the two train the same with {@code loss_on=all}); prompt/completion lines
 * become a user and an assistant turn; bad lines name their file and line.
 */
class ChatTaskTest {
    private static final Path GPT = SharedFiles.path("models/gpt-small-bpe-clm");

    private static Path template() {
        return Path.of(System.getProperty("attune.root", "..")).resolve("samples/chat-templates/dialogue.jinja");
    }

    @Test
    void dialogueTemplateRendersTheCausalLmTasksText() {
        Path dev = SharedFiles.path("data/dialogue/dev.jsonl");
        ChatTask chat = new ChatTask(new TaskOptions(Map.of("input", "dialogue", "loss_on", "all", "limit", "25",
                "chat_template", template().toString())));
        CausalLmTask lm = new CausalLmTask(new TaskOptions(Map.of("input", "dialogue", "loss_on", "all", "limit", "25")));
        Dataset a = chat.read(dev);
        Dataset b = lm.read(dev);
        assertThat(a.examples()).hasSize(25).hasSameSizeAs(b.examples());
        try (HfTokenizer tokenizer = HfTokenizer.load(GPT)) {
            for (int i = 0; i < a.examples().size(); i++) {
                Features x = chat.encode(a.examples().get(i), i, tokenizer, 256).get(0);
                Features y = lm.encode(b.examples().get(i), i, tokenizer, 256).get(0);
                assertThat(x.fields().get("input_ids")).as("dialogue %d", i).containsExactly(y.fields().get("input_ids"));
                assertThat(x.fields().get("labels")).as("dialogue %d", i).containsExactly(y.fields().get("labels"));
            }
        }
    }

    /** Every dev dialogue, rendered by the template, is the causal-lm task's text character for character. */
    @Test
    void dialogueTemplateRendersEveryDevDialogueAsCausalLm() throws IOException {
        Path dev = SharedFiles.path("data/dialogue/dev.jsonl");
        ChatTask chat = new ChatTask(new TaskOptions(Map.of("input", "dialogue", "loss_on", "all")));
        CausalLmTask lm = new CausalLmTask(new TaskOptions(Map.of("input", "dialogue", "loss_on", "all")));
        Dataset a = chat.read(dev);
        Dataset b = lm.read(dev);
        assertThat(a.examples()).hasSize(500).hasSameSizeAs(b.examples());
        try (HfTokenizer base = HfTokenizer.load(GPT);
                HfTokenizer tokenizer = base.withChatTemplate(Files.readString(template()))) {
            for (int i = 0; i < a.examples().size(); i++) {
                String rendered = tokenizer.applyChatTemplate(((ChatTask.ChatExample) a.examples().get(i)).messages(),
                        false).text();
                assertThat(rendered).as("dev dialogue %d", i + 1).isEqualTo(((LmExample) b.examples().get(i)).text());
            }
        }
    }

    @Test
    void promptCompletionLinesAndBadLines(@TempDir Path dir) throws IOException {
        ChatTask chat = new ChatTask(TaskOptions.empty());
        Path ok = Files.write(dir.resolve("pc.jsonl"), List.of(
                "{\"prompt\": \"Hi\", \"completion\": \"Hello!\"}",
                "{\"prompt\": [{\"role\": \"user\", \"content\": \"Hi\"}],"
                        + " \"completion\": [{\"role\": \"assistant\", \"content\": \"Hello!\"}]}"));
        Dataset d = chat.read(ok);
        assertThat(d.examples()).hasSize(2);
        assertThat(((ChatTask.ChatExample) d.examples().get(0)).messages())
                .isEqualTo(((ChatTask.ChatExample) d.examples().get(1)).messages());

        Path noContent = Files.write(dir.resolve("bad.jsonl"), List.of(
                "{\"messages\": [{\"role\": \"user\", \"content\": \"Hi\"}]}",
                "{\"messages\": [{\"role\": \"user\", \"content\": \"Hi\"}, {\"role\": \"assistant\"}]}"));
        assertThatThrownBy(() -> chat.read(noContent)).isInstanceOf(InvalidDataException.class)
                .hasMessageContaining("bad.jsonl:2").hasMessageContaining("message 2 (assistant)");
        assertThat(new ChatTask(new TaskOptions(Map.of("on_bad_row", "skip"))).read(noContent).skipped()).isEqualTo(1);

        assertThatThrownBy(() -> new ChatTask(new TaskOptions(Map.of("packing", "true"))))
                .isInstanceOf(ConfigurationException.class).hasMessageContaining("packing=true")
                .hasMessageContaining("leave the option out");
        assertThatThrownBy(() -> new ChatTask(new TaskOptions(Map.of("loss_on", "replies"))))
                .isInstanceOf(ConfigurationException.class).hasMessageContaining("loss_on=assistant");
        assertThatThrownBy(() -> new ChatTask(new TaskOptions(Map.of("chat_template", dir.resolve("none.jinja").toString()))))
                .isInstanceOf(ConfigurationException.class).hasMessageContaining("no such file");
    }

    @Test
    void aTokenizerWithoutTemplateSaysToPassOne(@TempDir Path dir) throws IOException {
        ChatTask chat = new ChatTask(TaskOptions.empty());
        Dataset d = chat.read(Files.write(dir.resolve("c.jsonl"), List.of(
                "{\"messages\": [{\"role\": \"user\", \"content\": \"Hi\"}, {\"role\": \"assistant\", \"content\": \"Yo\"}]}")));
        try (HfTokenizer tokenizer = HfTokenizer.load(GPT)) {
            assertThatThrownBy(() -> chat.encode(d.examples().get(0), 0, tokenizer, 64))
                    .isInstanceOf(InvalidDataException.class)
                    .hasMessageContaining("c.jsonl:1").hasMessageContaining("chat template");
        }
    }
}
