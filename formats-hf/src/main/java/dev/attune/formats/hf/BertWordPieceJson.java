package dev.attune.formats.hf;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.attune.error.InvalidCheckpointException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeMap;

/**
 * Builds the {@code tokenizer.json} of a BERT WordPiece tokenizer from a bare {@code vocab.txt},
 * for checkpoints published before tokenizer.json existed (DJL's tokenizer cannot read vocab.txt).
 * The result describes the same pipeline as HuggingFace's fast BERT tokenizer: BertNormalizer
 * (clean text, CJK characters split, lowercase and accent stripping per tokenizer_config.json),
 * BertPreTokenizer, WordPiece with {@code ##} continuations and at most 100 characters per word,
 * {@code [CLS] A [SEP] (B [SEP])} post-processing and the WordPiece decoder.
 */
final class BertWordPieceJson {
    private static final ObjectMapper JSON = new ObjectMapper();

    private BertWordPieceJson() {}

    /**
     * @param vocabFile where the vocabulary came from, for messages
     * @param vocabText the contents of vocab.txt: one token per line, id = line number
     * @param config tokenizer_config.json, or null when the folder has none
     * @return the tokenizer.json text
     */
    static String build(Path vocabFile, String vocabText, JsonNode config) {
        Map<String, Integer> vocab = parseVocab(vocabText);
        if (vocab.isEmpty()) {
            throw new InvalidCheckpointException(vocabFile + ": the vocabulary is empty; re-download it");
        }
        String unk = special(config, "unk_token", "[UNK]");
        String cls = special(config, "cls_token", "[CLS]");
        String sep = special(config, "sep_token", "[SEP]");
        String pad = special(config, "pad_token", "[PAD]");
        String mask = special(config, "mask_token", "[MASK]");
        for (String required : new String[] {unk, cls, sep}) {
            if (!vocab.containsKey(required)) {
                throw new InvalidCheckpointException(vocabFile + ": special token '" + required + "' is not in the "
                        + "vocabulary, so a BERT tokenizer cannot be built from it; add a tokenizer.json to the folder");
            }
        }
        boolean lowercase = bool(config, "do_lower_case", true);
        boolean chinese = bool(config, "tokenize_chinese_chars", true);
        JsonNode stripAccents = config == null ? null : config.get("strip_accents");

        ObjectNode root = JSON.createObjectNode();
        root.put("version", "1.0");
        root.putNull("truncation");
        root.putNull("padding");

        ArrayNode added = root.putArray("added_tokens");
        Map<Integer, String> specials = new TreeMap<>();
        for (String s : new String[] {pad, unk, cls, sep, mask}) {
            Integer id = vocab.get(s);
            if (id != null) {
                specials.putIfAbsent(id, s);
            }
        }
        specials.forEach((id, content) -> added.addObject()
                .put("id", id)
                .put("content", content)
                .put("single_word", false)
                .put("lstrip", false)
                .put("rstrip", false)
                .put("normalized", false)
                .put("special", true));

        ObjectNode normalizer = root.putObject("normalizer");
        normalizer.put("type", "BertNormalizer");
        normalizer.put("clean_text", true);
        normalizer.put("handle_chinese_chars", chinese);
        if (stripAccents == null || stripAccents.isNull()) {
            normalizer.putNull("strip_accents"); // null: strip exactly when lowercasing, like BERT
        } else {
            normalizer.put("strip_accents", stripAccents.asBoolean());
        }
        normalizer.put("lowercase", lowercase);

        root.putObject("pre_tokenizer").put("type", "BertPreTokenizer");

        ObjectNode post = root.putObject("post_processor");
        post.put("type", "TemplateProcessing");
        ArrayNode single = post.putArray("single");
        special(single, cls, 0);
        sequence(single, "A", 0);
        special(single, sep, 0);
        ArrayNode pair = post.putArray("pair");
        special(pair, cls, 0);
        sequence(pair, "A", 0);
        special(pair, sep, 0);
        sequence(pair, "B", 1);
        special(pair, sep, 1);
        ObjectNode tokens = post.putObject("special_tokens");
        for (String s : new String[] {cls, sep}) {
            ObjectNode t = tokens.putObject(s);
            t.put("id", s);
            t.putArray("ids").add(vocab.get(s));
            t.putArray("tokens").add(s);
        }

        ObjectNode decoder = root.putObject("decoder");
        decoder.put("type", "WordPiece");
        decoder.put("prefix", "##");
        decoder.put("cleanup", true);

        ObjectNode model = root.putObject("model");
        model.put("type", "WordPiece");
        model.put("unk_token", unk);
        model.put("continuing_subword_prefix", "##");
        model.put("max_input_chars_per_word", 100);
        ObjectNode v = model.putObject("vocab");
        vocab.forEach(v::put);
        try {
            return JSON.writeValueAsString(root);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    /** One token per line ('\n'-separated, as HuggingFace reads it); a repeated token keeps its last id. */
    private static Map<String, Integer> parseVocab(String text) {
        Map<String, Integer> vocab = new LinkedHashMap<>();
        int id = 0;
        int start = 0;
        int n = text.length();
        if (n > 0 && text.charAt(0) == '\uFEFF') {
            start = 1;
        }
        while (start < n) {
            int nl = text.indexOf('\n', start);
            int end = nl < 0 ? n : nl;
            String token = text.substring(start, end);
            if (token.endsWith("\r")) {
                token = token.substring(0, token.length() - 1);
            }
            vocab.remove(token);
            vocab.put(token, id++);
            start = end + 1;
        }
        return vocab;
    }

    private static void special(ArrayNode template, String token, int typeId) {
        template.addObject().putObject("SpecialToken").put("id", token).put("type_id", typeId);
    }

    private static void sequence(ArrayNode template, String id, int typeId) {
        template.addObject().putObject("Sequence").put("id", id).put("type_id", typeId);
    }

    /** Reads a special token given as a string or as an AddedToken object with "content". */
    static String special(JsonNode config, String key, String fallback) {
        JsonNode n = config == null ? null : config.get(key);
        if (n == null || n.isNull()) {
            return fallback;
        }
        if (n.isTextual()) {
            return n.textValue();
        }
        if (n.isObject() && n.path("content").isTextual()) {
            return n.get("content").textValue();
        }
        return fallback;
    }

    private static boolean bool(JsonNode config, String key, boolean fallback) {
        JsonNode n = config == null ? null : config.get(key);
        return n == null || !n.isBoolean() ? fallback : n.booleanValue();
    }

    /** @return the vocabulary bytes decoded as HuggingFace does (UTF-8) */
    static String decode(byte[] vocabBytes) {
        return new String(vocabBytes, StandardCharsets.UTF_8);
    }
}
