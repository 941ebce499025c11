package dev.attune.formats.hf;

import dev.attune.model.TextTokenizer.Encoding;
import dev.attune.testing.Fuzzer;
import dev.attune.testing.Mutator;
import dev.attune.testing.SharedFiles;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Fuzzes the tokenizer files of a model folder through {@link HfTokenizer#load}, the path every
 * checkpoint takes: mutated tokenizer.json (handed to DJL's native tokenizers library), vocab.txt
 * (turned into a WordPiece tokenizer.json in Java) and tokenizer_config.json next to a vocab.txt.
 * Each input must load and tokenize or fail with an {@link dev.attune.error.AttuneException}: no
 * native panic, hang or other exception. tokenizer_config.json next to a tokenizer.json is fuzzed
 * in {@link HfFilesFuzzTest}.
 */
class TokenizerFilesFuzzTest {
    private static final List<String> TEXTS =
            List.of("The cat sat on the mat.", "naïve café – 東京 🙂", "", "   ", "unbelievable!!! ##ing [SEP]");

    @TempDir Path dir;

    /**
     * Loads the native tokenizers library and warms the code up once, so that cost does not land
     * on the first fuzz input and count against its time limit.
     */
    @BeforeAll
    static void warmUp() {
        try (HfTokenizer tk = HfTokenizer.load(SharedFiles.path("fixtures/hf/bert-seqcls"))) {
            exercise(tk);
        }
    }

    /**
     * Everything a task does with a tokenizer: encode (single, pair, pre-split words, truncated),
     * decode, lookups. One maxLength, so one native instance besides the untruncated one.
     */
    private static void exercise(HfTokenizer tk) {
        for (String text : TEXTS) {
            Encoding e = tk.encode(text, "A second, shorter pair.", 24);
            tk.decode(e.ids(), true);
            tk.decode(e.ids(), false);
        }
        tk.encodeWords(List.of("EU", "rejects", "German", "call"), 24);
        tk.encode("a much longer text that will certainly need truncation at some point or other, as it goes on"
                + " and on for more than twenty-four tokens of any sensible vocabulary", null, 24);
        tk.tokenToId("[CLS]");
        tk.padTokenId();
        tk.vocabularySize();
    }

    /**
     * About 1,000 entries of the real 30,522-token vocabulary (the whole one makes each input slow):
     * the specials and some [unused*], then punctuation, single characters, ## pieces and whole
     * words, so every path of the WordPiece builder runs.
     */
    private static byte[] sampleVocab() throws IOException {
        List<String> lines = Files.readAllLines(SharedFiles.path("models/bert-mini-uncased-mlm/" + HfTokenizer.VOCAB_TXT),
                StandardCharsets.UTF_8);
        List<String> sample = new ArrayList<>(lines.subList(0, 110)); // [PAD], [unused0..98], [UNK]..[MASK], ...
        sample.addAll(lines.subList(990, 1800)); // punctuation, characters, ## pieces
        sample.addAll(lines.subList(2000, 2080)); // whole words
        return (String.join("\n", sample) + "\n").getBytes(StandardCharsets.UTF_8);
    }

    @Test
    void tokenizerJson() throws IOException {
        byte[] seed = Files.readAllBytes(SharedFiles.path("fixtures/hf/bert-seqcls/" + HfTokenizer.TOKENIZER_JSON));
        Path file = dir.resolve(HfTokenizer.TOKENIZER_JSON);
        Fuzzer.run("tokenizer.json", seed, new Mutator(true), 1000, input -> {
            Files.write(file, input);
            try (HfTokenizer tk = HfTokenizer.load(dir)) {
                exercise(tk);
            }
        });
    }

    @Test
    void vocabTxt() throws IOException {
        byte[] seed = sampleVocab();
        Path file = dir.resolve(HfTokenizer.VOCAB_TXT);
        Fuzzer.run("vocab.txt", seed, new Mutator(true), 1000, input -> {
            Files.write(file, input);
            try (HfTokenizer tk = HfTokenizer.load(dir)) {
                exercise(tk);
            }
        });
    }

    @Test
    void tokenizerConfigWithVocabTxt() throws IOException {
        Path model = SharedFiles.path("models/bert-mini-uncased-mlm");
        Files.write(dir.resolve(HfTokenizer.VOCAB_TXT), sampleVocab());
        byte[] seed = Files.readAllBytes(model.resolve(HfTokenizer.TOKENIZER_CONFIG));
        Path file = dir.resolve(HfTokenizer.TOKENIZER_CONFIG);
        Fuzzer.run("tokenizer_config+vocab", seed, new Mutator(true), 400, input -> {
            Files.write(file, input);
            try (HfTokenizer tk = HfTokenizer.load(dir)) {
                exercise(tk);
            }
        });
    }
}
