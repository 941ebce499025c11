package dev.attune.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.attune.error.InvalidDataException;
import dev.attune.formats.hf.HfTokenizer;
import dev.attune.model.TextTokenizer.ChatEncoding;
import dev.attune.model.TextTokenizer.ChatMessage;
import dev.attune.model.TextTokenizer.Encoding;
import dev.attune.model.TextTokenizer;
import java.io.BufferedReader;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code attune tokenize}: token ids of each JSONL line as the model's tokenizer gives them, and for
 * conversations the chat template's rendering with its assistant mask (what the {@code chat} task
 * trains on), for checking against {@code tokenizer(...)} and {@code apply_chat_template} in Python.
 */
@Command(name = "tokenize", mixinStandardHelpOptions = true,
        description = "Token ids for each JSONL line: {\"text\"}, {\"text\", \"text_pair\"} (special tokens added), or"
                + " {\"messages\": [{\"role\", \"content\"}...], \"add_generation_prompt\": bool} (rendered with the chat"
                + " template; prints \"assistant_mask\" too).")
final class TokenizeCommand implements Callable<Integer> {
    @Option(names = "--model", required = true, description = "a HuggingFace model folder (its tokenizer files)")
    Path model;

    @Option(names = "--input", required = true, description = "JSONL input")
    Path input;

    @Option(names = "--output", description = "JSONL output (default: standard output)")
    Path output;

    @Option(names = "--chat-template", description = "a Jinja chat template file to use instead of the model's")
    Path chatTemplate;

    @Option(names = "--max-length", defaultValue = "1000000",
            description = "truncate text lines to this many tokens (default: no truncation in practice)")
    int maxLength;

    @Override
    public Integer call() throws IOException {
        if (!Files.isRegularFile(input)) {
            throw new InvalidDataException(input + ": no such file");
        }
        ObjectMapper json = new ObjectMapper();
        try (HfTokenizer base = HfTokenizer.load(model);
                TextTokenizer tokenizer = chatTemplate == null ? base.copy() : base.withChatTemplate(readTemplate());
                BufferedReader in = Files.newBufferedReader(input, StandardCharsets.UTF_8);
                Writer out = output == null
                        ? new BufferedWriter(new OutputStreamWriter(System.out, StandardCharsets.UTF_8))
                        : Files.newBufferedWriter(output, StandardCharsets.UTF_8)) {
            String line;
            int n = 0;
            while ((line = in.readLine()) != null) {
                n++;
                if (line.isBlank()) {
                    continue;
                }
                GracefulStop.checkInterrupted();
                String where = input + ":" + n;
                JsonNode node;
                try {
                    node = json.readTree(line);
                } catch (IOException e) {
                    throw new InvalidDataException(where + ": not valid JSON: " + e.getMessage());
                }
                Map<String, Object> result = new LinkedHashMap<>();
                if (node != null && node.has("messages")) {
                    List<ChatMessage> messages = messages(node.get("messages"), where);
                    boolean generationPrompt = node.path("add_generation_prompt").asBoolean(false);
                    ChatEncoding e;
                    try {
                        e = tokenizer.applyChatTemplate(messages, generationPrompt);
                    } catch (InvalidDataException ex) {
                        throw new InvalidDataException(where + ": " + ex.getMessage(), ex);
                    }
                    result.put("input_ids", e.ids());
                    result.put("assistant_mask", e.assistantMask());
                } else if (node != null && node.path("text").isTextual()) {
                    JsonNode pair = node.path("text_pair");
                    Encoding e = tokenizer.encode(node.get("text").asText(), pair.isTextual() ? pair.asText() : null,
                            maxLength);
                    result.put("input_ids", e.ids());
                } else {
                    throw new InvalidDataException(where + ": expected an object with a string \"text\" (and optional"
                            + " \"text_pair\") or a \"messages\" list");
                }
                out.write(json.writeValueAsString(result));
                out.write('\n');
            }
            out.flush();
        }
        return 0;
    }

    private String readTemplate() throws IOException {
        if (!Files.isRegularFile(chatTemplate)) {
            throw new InvalidDataException(chatTemplate + ": no such chat template file");
        }
        return Files.readString(chatTemplate, StandardCharsets.UTF_8);
    }

    /**
     * @param node a {@code messages} value
     * @param where file and line, for messages
     * @return the conversation
     * @throws InvalidDataException when it is not a list of {role, content} objects with string content
     */
    static List<ChatMessage> messages(JsonNode node, String where) {
        if (node == null || !node.isArray() || node.isEmpty()) {
            throw new InvalidDataException(where + ": \"messages\" must be a non-empty list of {\"role\", \"content\"}");
        }
        List<ChatMessage> out = new ArrayList<>();
        for (int i = 0; i < node.size(); i++) {
            JsonNode m = node.get(i);
            if (!m.path("role").isTextual()) {
                throw new InvalidDataException(where + ": message " + (i + 1) + " has no string \"role\"");
            }
            if (!m.path("content").isTextual()) {
                throw new InvalidDataException(where + ": message " + (i + 1) + " (" + m.get("role").asText()
                        + ") has no string \"content\"; every message needs its text");
            }
            out.add(new ChatMessage(m.get("role").asText(), m.get("content").asText()));
        }
        return out;
    }
}
