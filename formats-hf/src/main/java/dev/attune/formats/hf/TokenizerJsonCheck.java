package dev.attune.formats.hf;

import com.fasterxml.jackson.databind.JsonNode;
import dev.attune.error.InvalidCheckpointException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Base64;
import java.util.BitSet;
import java.util.Deque;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

/**
 * Checks a {@code tokenizer.json} for what would make the native tokenizers library panic, before
 * the library sees it. A panic inside DJL's binding cannot be caught: Rust aborts the whole
 * process (exit 134) with no Java cleanup. These kinds are known (the fuzz tests look for more)
 * and handled here:
 *
 * <ul>
 *   <li>a {@code TemplateProcessing} post-processor whose templates name a special token its
 *       {@code special_tokens} lack (the library looks it up while encoding and panics);
 *   <li>a {@code Precompiled} normalizer (SentencePiece's {@code precompiled_charsmap}: a
 *       darts-clone double-array trie plus the replacement strings) whose trie is empty, points
 *       outside its array, or names a replacement outside the strings or inside a character. The
 *       trie is walked here exactly as the library walks it, from every reachable node with every
 *       byte, so a charsmap that passes cannot index out of bounds or cut a character in the
 *       library; one that fails is refused with an {@link InvalidCheckpointException} naming the
 *       key;
 *   <li>regular expressions ({@code Split} pre-tokenizers, {@code Replace} normalizers and
 *       decoders, {@code {"Regex": ...}} patterns): Oniguruma gives up on a match after 10 million
 *       backtracking steps and the library panics on that error. Whether a pattern gets there
 *       depends on the text, so it cannot be decided here; they are {@linkplain Verdict#regexes()
 *       listed}, and {@link HfTokenizer} runs such tokenizers in a separate process, where a panic
 *       or a runaway match ends that process only.
 * </ul>
 *
 * Nesting ({@code Sequence} of {@code Sequence}s) is walked at most {@value #MAX_DEPTH} deep.
 */
final class TokenizerJsonCheck {
    /** Nesting of pipeline components accepted; real tokenizers nest two or three. */
    static final int MAX_DEPTH = 32;
    /** Largest decoded charsmap accepted; SentencePiece's NFKC table is about 240 KB. */
    static final int MAX_CHARSMAP_BYTES = 4 << 20;
    /** The parts of a tokenizer.json that hold pipeline components. */
    private static final List<String> PARTS = List.of("normalizer", "pre_tokenizer", "post_processor", "decoder");

    /**
     * What the check found.
     *
     * @param regexes the regular expressions of the pipeline, with where each is ({@code
     *     pre_tokenizer.pretokenizers[1].pattern.Regex = ...})
     */
    record Verdict(List<String> regexes) {}

    private TokenizerJsonCheck() {}

    /**
     * @param origin the file, for messages
     * @param json the parsed tokenizer.json
     * @return the regular expressions found
     * @throws InvalidCheckpointException when a part would make the native library panic
     */
    static Verdict check(String origin, JsonNode json) {
        lexical(origin, json);
        List<String> regexes = new ArrayList<>();
        for (String part : PARTS) {
            JsonNode node = json.get(part);
            if (node != null && !node.isNull()) {
                walk(origin, part, node, 0, regexes);
            }
        }
        return new Verdict(List.copyOf(regexes));
    }

    private static void walk(String origin, String path, JsonNode node, int depth, List<String> regexes) {
        if (depth > MAX_DEPTH) {
            throw new InvalidCheckpointException(origin + ": " + path + " nests components more than " + MAX_DEPTH
                    + " deep; the tokenizer file is damaged or hostile: re-download the tokenizer files");
        }
        if (node.isObject()) {
            if ("Precompiled".equals(node.path("type").textValue())) {
                precompiled(origin, path + ".precompiled_charsmap", node.get("precompiled_charsmap"));
            }
            if ("TemplateProcessing".equals(node.path("type").textValue())) {
                template(origin, path, node);
            }
            for (Iterator<Map.Entry<String, JsonNode>> it = node.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                String at = path + "." + e.getKey();
                if ("Regex".equals(e.getKey())) {
                    regexes.add(at + " = " + e.getValue());
                } else if (e.getValue().isContainerNode()) {
                    walk(origin, at, e.getValue(), depth + 1, regexes);
                }
            }
        } else if (node.isArray()) {
            for (int i = 0; i < node.size(); i++) {
                if (node.get(i).isContainerNode()) {
                    walk(origin, path + "[" + i + "]", node.get(i), depth + 1, regexes);
                }
            }
        }
    }

    /** serde_json's nesting limit; deeper documents fail there. */
    static final int SERDE_MAX_NESTING = 128;

    /**
     * JSON that Jackson reads but serde_json (the library's parser) does not: a lone UTF-16
     * surrogate escape ({@code "\ud800"}), a number beyond the double range ({@code 1e999}), nesting
     * deeper than {@value #SERDE_MAX_NESTING}. Inside some parts (the decoder) the library does not
     * report such an error but panics on it; found by fuzzing. The whole document is walked once,
     * without recursion.
     */
    private static void lexical(String origin, JsonNode json) {
        Deque<JsonNode> nodes = new ArrayDeque<>();
        Deque<Integer> depths = new ArrayDeque<>();
        nodes.push(json);
        depths.push(1);
        while (!nodes.isEmpty()) {
            JsonNode n = nodes.pop();
            int depth = depths.pop();
            if (n.isContainerNode() && depth > SERDE_MAX_NESTING - 1) {
                throw unreadable(origin, "nests arrays and objects more than " + (SERDE_MAX_NESTING - 1) + " deep");
            }
            if (n.isTextual() && unpairedSurrogate(n.textValue())) {
                throw unreadable(origin, "has a string with a lone UTF-16 surrogate escape");
            }
            if (n.isNumber() && !n.isIntegralNumber() && !Double.isFinite(n.doubleValue())
                    || n.isBigInteger() && !Double.isFinite(n.doubleValue())) {
                throw unreadable(origin, "has the number " + n.asText() + ", beyond the range of a double");
            }
            if (n.isObject()) {
                for (Iterator<Map.Entry<String, JsonNode>> it = n.fields(); it.hasNext(); ) {
                    Map.Entry<String, JsonNode> e = it.next();
                    if (unpairedSurrogate(e.getKey())) {
                        throw unreadable(origin, "has a key with a lone UTF-16 surrogate escape");
                    }
                    nodes.push(e.getValue());
                    depths.push(depth + 1);
                }
            } else if (n.isArray()) {
                for (JsonNode child : n) {
                    nodes.push(child);
                    depths.push(depth + 1);
                }
            }
        }
    }

    private static boolean unpairedSurrogate(String s) {
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (Character.isHighSurrogate(c)) {
                if (i + 1 >= s.length() || !Character.isLowSurrogate(s.charAt(i + 1))) {
                    return true;
                }
                i++;
            } else if (Character.isLowSurrogate(c)) {
                return true;
            }
        }
        return false;
    }

    private static InvalidCheckpointException unreadable(String origin, String problem) {
        return new InvalidCheckpointException(origin + ": " + problem + ", which the tokenizers library cannot read"
                + " (and in some places crashes on: a Rust panic aborts the whole process), so the tokenizer was"
                + " refused: re-download the tokenizer files");
    }

    /**
     * A {@code TemplateProcessing} post-processor looks every special token of its templates up
     * in its {@code special_tokens} map while encoding, and panics on one that is missing (the
     * library does not check this when it reads the file); found by fuzzing.
     */
    private static void template(String origin, String path, JsonNode node) {
        JsonNode specials = node.path("special_tokens");
        for (String part : List.of("single", "pair")) {
            JsonNode pieces = node.path(part);
            for (int i = 0; i < pieces.size(); i++) {
                JsonNode special = pieces.get(i).path("SpecialToken");
                if (special.isObject() && special.path("id").isTextual()
                        && !specials.has(special.path("id").textValue())) {
                    throw new InvalidCheckpointException(origin + ": " + path + "." + part + "[" + i + "] adds the special "
                            + "token '" + special.path("id").textValue() + "', which " + path + ".special_tokens does "
                            + "not define; the tokenizers library would crash on it (a Rust panic aborts the whole "
                            + "process), so the tokenizer was refused: re-download the tokenizer files");
                }
            }
        }
    }

    // ---- SentencePiece's precompiled charsmap ----

    private static InvalidCheckpointException badCharsmap(String origin, String key, String problem) {
        return new InvalidCheckpointException(origin + ": " + key + " " + problem + "; the tokenizers library would"
                + " crash on it (a Rust panic aborts the whole process), so the tokenizer was refused: re-download the"
                + " tokenizer files or convert the SentencePiece model again");
    }

    /**
     * The charsmap is {@code u32 trie size in bytes, trie units (u32, little-endian), replacement
     * strings (UTF-8, each ended by NUL)}. A unit holds a label (bits 0-7 and 31), a has-leaf flag
     * (bit 8) and an offset ({@code (unit >> 10) << (bit 9 ? 8 : 0)}); a leaf unit's value (bits
     * 0-30) is a byte offset into the strings. The library looks up the bytes of each character (or
     * short grapheme) of the text: from node {@code offset(unit[0])}, byte {@code c} leads to unit
     * {@code node ^ c}, whose label must be {@code c}; then {@code node ^= offset(unit)}, and with
     * the leaf flag {@code unit[node]} holds a value.
     */
    static void precompiled(String origin, String key, JsonNode value) {
        if (value == null || !value.isTextual()) {
            throw badCharsmap(origin, key, "is " + (value == null ? "missing" : "not a Base64 string"));
        }
        byte[] bytes;
        try {
            String text = value.textValue();
            if (text.length() > MAX_CHARSMAP_BYTES / 3 * 4 + 4) {
                throw badCharsmap(origin, key, "is larger than " + MAX_CHARSMAP_BYTES + " bytes");
            }
            bytes = Base64.getDecoder().decode(text);
        } catch (IllegalArgumentException e) {
            throw badCharsmap(origin, key, "is not valid Base64 (" + e.getMessage() + ")");
        }
        ByteBuffer buf = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        if (bytes.length < 4) {
            throw badCharsmap(origin, key, "holds " + bytes.length + " bytes, too few for its trie size");
        }
        long trieBytes = Integer.toUnsignedLong(buf.getInt(0));
        long units = trieBytes / 4;
        if (units == 0) {
            throw badCharsmap(origin, key, "has an empty trie");
        }
        if (4 + units * 4 > bytes.length) {
            throw badCharsmap(origin, key, "announces a trie of " + trieBytes + " bytes but holds " + (bytes.length - 4));
        }
        int n = (int) units;
        long[] array = new long[n];
        for (int i = 0; i < n; i++) {
            array[i] = Integer.toUnsignedLong(buf.getInt(4 + 4 * i));
        }
        int stringsAt = 4 + 4 * n;
        byte[] strings = java.util.Arrays.copyOfRange(bytes, stringsAt, bytes.length);
        try {
            StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(strings));
        } catch (CharacterCodingException e) {
            throw badCharsmap(origin, key, "holds replacement strings that are not valid UTF-8");
        }
        // every node the library can reach, each visited once
        BitSet seen = new BitSet(n);
        Deque<Integer> todo = new ArrayDeque<>();
        long root = offset(array[0]);
        if (root >= n) {
            throw badCharsmap(origin, key, "has its root at unit " + root + " of " + n);
        }
        todo.add((int) root);
        seen.set((int) root);
        while (!todo.isEmpty()) {
            int node = todo.poll();
            for (int c = 1; c < 256; c++) { // byte 0 ends a lookup
                long pos = node ^ c;
                if (pos >= n) {
                    throw badCharsmap(origin, key, "sends byte " + c + " from node " + node + " to unit " + pos
                            + ", past its " + n + " units");
                }
                long unit = array[(int) pos];
                if (label(unit) != c) {
                    continue;
                }
                long next = pos ^ offset(unit);
                if (next >= n) {
                    throw badCharsmap(origin, key, "links unit " + pos + " to unit " + next + ", past its " + n + " units");
                }
                if (hasLeaf(unit)) {
                    long v = array[(int) next] & 0x7fffffffL;
                    if (v > strings.length) {
                        throw badCharsmap(origin, key, "names replacement " + v + " past its " + strings.length
                                + " bytes of strings");
                    }
                    if (v < strings.length && (strings[(int) v] & 0xc0) == 0x80) {
                        throw badCharsmap(origin, key, "names replacement " + v + ", in the middle of a character");
                    }
                }
                if (!seen.get((int) next)) {
                    seen.set((int) next);
                    todo.add((int) next);
                }
            }
        }
    }

    private static long offset(long unit) {
        return (unit >>> 10) << ((unit & (1L << 9)) >>> 6);
    }

    private static long label(long unit) {
        return unit & ((1L << 31) | 0xff);
    }

    private static boolean hasLeaf(long unit) {
        return (unit >>> 8 & 1) == 1;
    }
}
