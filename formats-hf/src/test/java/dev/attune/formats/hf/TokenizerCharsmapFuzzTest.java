package dev.attune.formats.hf;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.attune.testing.Fuzzer;
import dev.attune.testing.Mutator;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Fuzzes the tokenizer loading path where a hostile file could make the native library panic (and
 * abort this JVM): a {@code Precompiled} normalizer's charsmap, mutated byte by byte, in a small
 * tokenizer.json loaded with {@link HfTokenizer#load} and run on texts that reach every byte value
 * class. Each input must load and tokenize or be refused with an AttuneException; a panic ends the
 * test JVM, which the build reports.
 */
class TokenizerCharsmapFuzzTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final List<String> TEXTS = List.of("\uff21\uff42c \ufb01ne\u00a0caf\u0065\u0301 \u2168",
            "plain ascii text, digits 0123456789 and punctuation!?", "na\u00efve \u6771\u4eac \ud83d\ude42 \u0000\u007f",
            "\u0301\u0301 \ufffd \uff21\uff21\uff21\uff21\uff21\uff21\uff21", "");

    @TempDir Path dir;

    /** A WordLevel tokenizer over whitespace-split words, its normalizer the given charsmap. */
    static String tokenizerJson(byte[] charsmap) {
        ObjectNode t = JSON.createObjectNode();
        t.put("version", "1.0");
        ObjectNode n = t.putObject("normalizer");
        n.put("type", "Precompiled");
        n.put("precompiled_charsmap", Base64.getEncoder().encodeToString(charsmap));
        t.putObject("pre_tokenizer").put("type", "WhitespaceSplit");
        ObjectNode model = t.putObject("model");
        model.put("type", "WordLevel");
        model.put("unk_token", "[UNK]");
        ObjectNode vocab = model.putObject("vocab");
        String[] words = {"[UNK]", "Abc", "fine", "café", "IX", "plain", "ascii", "text,", "AAAAAAA"};
        for (int i = 0; i < words.length; i++) {
            vocab.put(words[i], i);
        }
        return t.toString();
    }

    @Test
    void theTinyCharsmapNormalizes() throws IOException {
        Files.writeString(dir.resolve(HfTokenizer.TOKENIZER_JSON), tokenizerJson(TinyCharsmap.build(TinyCharsmap.sample())));
        try (HfTokenizer tk = HfTokenizer.load(dir)) {
            assertThat(tk.encode("\uff21\uff42c \ufb01ne caf\u0065\u0301 \u2168", null, 16).ids()).containsExactly(1, 2, 3, 4);
        }
    }

    @Test
    void mutatedCharsmaps() throws IOException {
        Path file = dir.resolve(HfTokenizer.TOKENIZER_JSON);
        Fuzzer.run("precompiled_charsmap", TinyCharsmap.build(TinyCharsmap.sample()), new Mutator(false), 500,
                input -> {
                    Files.writeString(file, tokenizerJson(input), StandardCharsets.UTF_8);
                    try (HfTokenizer tk = HfTokenizer.load(dir)) {
                        for (String text : TEXTS) {
                            tk.encode(text, null, 32);
                        }
                    }
                });
    }
}
