package dev.attune.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.attune.testing.SharedFiles;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code attune tokenize} on the Llama fixture: text lines give HuggingFace's ids, conversation
 * lines the ids and assistant masks of {@code apply_chat_template}; a message without content and a
 * template's refusal name the file and line.
 */
class TokenizeCliTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Path LLAMA = SharedFiles.path("fixtures/hf/llama-lm");

    @TempDir
    Path tmp;

    @Test
    void textAndConversationLinesMatchTransformers() throws IOException {
        JsonNode ref = JSON.readTree(LLAMA.resolve("reference.json").toFile());
        List<String> lines = new ArrayList<>();
        List<JsonNode> expected = new ArrayList<>();
        for (JsonNode c : ref.get("cases")) {
            lines.add(JSON.writeValueAsString(JSON.createObjectNode().put("text", c.get("text").asText())));
            expected.add(JSON.createObjectNode().set("input_ids", c.get("input_ids")));
        }
        for (JsonNode c : ref.get("chat")) {
            ObjectNode line = JSON.createObjectNode();
            line.set("messages", c.get("messages"));
            line.put("add_generation_prompt", c.get("add_generation_prompt").asBoolean());
            lines.add(JSON.writeValueAsString(line));
            ObjectNode want = JSON.createObjectNode();
            want.set("input_ids", c.get("input_ids"));
            want.set("assistant_mask", c.get("assistant_mask"));
            expected.add(want);
        }
        Path input = Files.write(tmp.resolve("in.jsonl"), lines);
        String out = CliTest.run("tokenize", "--model", LLAMA.toString(), "--input", input.toString());
        List<JsonNode> got = new ArrayList<>();
        for (String l : out.strip().split("\n")) {
            got.add(JSON.readTree(l));
        }
        assertThat(got).containsExactlyElementsOf(expected);
    }

    @Test
    void badConversationsNameTheFileAndLine() throws IOException {
        Path noContent = Files.write(tmp.resolve("no-content.jsonl"), List.of(
                "{\"text\": \"fine\"}", "{\"messages\": [{\"role\": \"user\"}]}"));
        assertThat(CliTest.runRefused("tokenize", "--model", LLAMA.toString(), "--input", noContent.toString()))
                .contains("no-content.jsonl:2").contains("has no string \"content\"");

        Path template = Files.writeString(tmp.resolve("strict.jinja"),
                "{% for m in messages %}{% if m['role'] not in ['user', 'assistant'] %}"
                        + "{{ raise_exception('Only user and assistant roles are supported!') }}{% endif %}"
                        + "{{ m['content'] }}{% endfor %}");
        Path tool = Files.write(tmp.resolve("tool.jsonl"), List.of(
                "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}]}",
                "{\"messages\": [{\"role\": \"tool\", \"content\": \"42\"}]}"));
        assertThat(CliTest.runRefused("tokenize", "--model", LLAMA.toString(), "--input", tool.toString(),
                "--chat-template", template.toString()))
                .contains("tool.jsonl:2").contains("Only user and assistant roles are supported!");
    }
}
