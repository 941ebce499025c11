package dev.attune.formats.hf;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.attune.error.InvalidCheckpointException;
import dev.attune.error.ConfigurationException;
import dev.attune.model.TextTokenizer.Encoding;
import dev.attune.testing.SharedFiles;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

class HfTokenizerTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static HfTokenizer seqcls;
    private static HfTokenizer mini;

    @TempDir Path dir;

    @BeforeAll
    static void load() {
        seqcls = HfTokenizer.load(SharedFiles.path("fixtures/hf/bert-seqcls"));
        mini = HfTokenizer.load(SharedFiles.path("models/bert-mini-uncased-mlm"));
    }

    @AfterAll
    static void close() {
        seqcls.close();
        mini.close();
    }

    static Stream<String> fixturesWithReferenceIds() {
        return Stream.of("bert-seqcls", "bert-tokcls", "bert-qa", "bert-mlm", "distilbert-seqcls",
                "roberta-seqcls", "gpt2-lm", "gpt2-seqcls", "t5-seq2seq");
    }

    private static long[] longs(JsonNode array) {
        long[] out = new long[array.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = array.get(i).asLong();
        }
        return out;
    }

    @ParameterizedTest
    @MethodSource("fixturesWithReferenceIds")
    void idsMatchPythonTransformersForEveryReferenceCase(String fixture) throws IOException {
        Path folder = SharedFiles.path("fixtures/hf/" + fixture);
        JsonNode cases = JSON.readTree(folder.resolve("reference.json").toFile()).get("cases");
        assertThat(cases.size()).isPositive();
        try (HfTokenizer tk = HfTokenizer.load(folder)) {
            for (JsonNode c : cases) {
                String text = c.get("text").asText();
                String pair = c.path("text_pair").isTextual() ? c.get("text_pair").asText() : null;
                Encoding e = tk.encode(text, pair, 512);
                String what = fixture + ": " + text + (pair == null ? "" : " | " + pair);
                assertThat(e.ids()).as(what).containsExactly(longs(c.get("input_ids")));
                if (c.has("attention_mask")) {
                    assertThat(e.attentionMask()).as(what).containsExactly(longs(c.get("attention_mask")));
                }
                if (c.has("token_type_ids")) {
                    assertThat(e.typeIds()).as(what).containsExactly(longs(c.get("token_type_ids")));
                }
            }
        }
    }

    @Test
    void bertSeqclsReferenceHasSinglesAndPairs() throws IOException {
        JsonNode cases = JSON.readTree(SharedFiles.path("fixtures/hf/bert-seqcls/reference.json").toFile()).get("cases");
        long pairs = 0;
        for (JsonNode c : cases) {
            if (c.path("text_pair").isTextual()) {
                pairs++;
            }
        }
        assertThat(pairs).isPositive().isLessThan(cases.size());
    }

    @Test
    void encodingCarriesSequencesWordsAndOffsets() {
        String a = "The cat sat.";
        String b = "Dogs bark!";
        Encoding e = mini.encode(a, b, 64);
        int n = e.length();
        assertThat(e.typeIds()).hasSize(n);
        assertThat(e.attentionMask()).containsOnly(1L);
        // [CLS] the cat sat . [SEP] dogs bark ! [SEP]
        assertThat(e.ids()[0]).isEqualTo(mini.tokenToId("[CLS]"));
        assertThat(e.ids()[n - 1]).isEqualTo(mini.tokenToId("[SEP]"));
        assertThat(e.sequenceIds()).containsExactly(-1, 0, 0, 0, 0, -1, 1, 1, 1, -1);
        assertThat(e.typeIds()).containsExactly(0, 0, 0, 0, 0, 0, 1, 1, 1, 1);
        assertThat(e.wordIds()).containsExactly(-1, 0, 1, 2, 3, -1, 0, 1, 2, -1);
        assertThat(e.charStarts()[0]).isEqualTo(-1);
        assertThat(e.charEnds()[5]).isEqualTo(-1);
        List<String> pieces = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            if (e.sequenceIds()[i] >= 0) {
                String text = e.sequenceIds()[i] == 0 ? a : b;
                pieces.add(text.substring(e.charStarts()[i], e.charEnds()[i]));
            }
        }
        assertThat(pieces).containsExactly("The", "cat", "sat", ".", "Dogs", "bark", "!");
    }

    @Test
    void subwordsShareTheirWordId() {
        Encoding e = mini.encode("unbelievably tokenization", null, 64);
        int[] w = e.wordIds();
        assertThat(w[0]).isEqualTo(-1);
        assertThat(w[w.length - 1]).isEqualTo(-1);
        assertThat(Arrays.stream(w).filter(x -> x >= 0).distinct().toArray()).containsExactly(0, 1);
        assertThat(e.length()).isGreaterThan(4); // at least one word split into pieces
    }

    @Test
    void offsetsAreJavaStringIndicesBeyondTheBasicPlane() {
        String text = "\uD83D\uDE00 loved \uD835\uDC9C it"; // emoji and a mathematical letter: two chars each
        Encoding e = mini.encode(text, null, 64);
        List<String> pieces = new ArrayList<>();
        for (int i = 0; i < e.length(); i++) {
            if (e.charStarts()[i] >= 0) {
                pieces.add(text.substring(e.charStarts()[i], e.charEnds()[i]));
            }
        }
        assertThat(pieces).contains("loved", "it");
        assertThat(String.join("", pieces).replace("\uD83D\uDE00", "").replace("\uD835\uDC9C", ""))
                .isEqualTo("lovedit");
    }

    @Test
    void singleTextIsTruncatedToMaxLength() {
        String text = "one two three four five six seven eight nine ten";
        Encoding full = mini.encode(text, null, 512);
        Encoding cut = mini.encode(text, null, 6);
        assertThat(cut.length()).isEqualTo(6);
        assertThat(cut.ids()[5]).isEqualTo(mini.tokenToId("[SEP]"));
        assertThat(Arrays.copyOf(cut.ids(), 5)).containsExactly(Arrays.copyOf(full.ids(), 5));
    }

    @Test
    void pairsAreTruncatedLongestFirst() {
        String a = "a short one";
        String b = "this second text is considerably longer than the first one by far";
        Encoding full = mini.encode(a, b, 512);
        int lenA = count(full.sequenceIds(), 0);
        int lenB = count(full.sequenceIds(), 1);
        assertThat(lenB).isGreaterThan(lenA + 4);

        // budget lets the first text stay whole: only the longer second text is cut
        Encoding cut = mini.encode(a, b, 3 + lenA + 4);
        assertThat(cut.length()).isEqualTo(3 + lenA + 4);
        assertThat(count(cut.sequenceIds(), 0)).isEqualTo(lenA);
        assertThat(count(cut.sequenceIds(), 1)).isEqualTo(4);

        // ids from Python transformers 5.18 (truncation=True, max_length=10 and 5)
        assertThat(cut.ids()).containsExactly(101, 1037, 2460, 2028, 102, 2023, 2117, 3793, 2003, 102);
        // tighter budget: both are cut to (nearly) equal lengths, each keeping its prefix
        Encoding tight = mini.encode(a, b, 3 + 2);
        assertThat(tight.ids()).containsExactly(101, 1037, 102, 2023, 102);
        assertThat(count(tight.sequenceIds(), 0)).isEqualTo(1);
        assertThat(count(tight.sequenceIds(), 1)).isEqualTo(1);
        assertThat(tight.ids()[1]).isEqualTo(full.ids()[1]);
        assertThat(tight.ids()[3]).isEqualTo(full.ids()[2 + lenA]);
    }

    private static int count(int[] values, int value) {
        return (int) Arrays.stream(values).filter(v -> v == value).count();
    }

    @Test
    void maxLengthTooSmallForTheSpecialTokensIsATypedError() {
        // the native library would silently return the untruncated pair here
        assertThatThrownBy(() -> mini.encode("a b c", "d e f", 2))
                .isInstanceOf(ConfigurationException.class)
                .hasMessageContaining("maxLength 2")
                .hasMessageContaining("3 special tokens");
        assertThatThrownBy(() -> mini.encode("a b c", null, 1)).isInstanceOf(ConfigurationException.class);
        assertThat(mini.encode("a b c", "d e f", 3).ids()).containsExactly(101, 102, 102);
    }

    @Test
    void preSplitWordsKeepTheirWordIds() {
        List<String> words = List.of("John", "lives", "in", "Kraków", "unbelievably", "!");
        Encoding e = mini.encodeWords(words, 64);
        Encoding joined = mini.encode(String.join(" ", words), null, 64);
        assertThat(e.ids()).containsExactly(joined.ids());
        assertThat(e.wordIds()).containsExactly(joined.wordIds());
        assertThat(e.sequenceIds()[1]).isZero();
        for (int i = 0; i < e.length(); i++) {
            int w = e.wordIds()[i];
            if (w >= 0) { // offsets are within the word
                assertThat(words.get(w)).contains(words.get(w).substring(e.charStarts()[i], e.charEnds()[i]));
                assertThat(e.charEnds()[i]).isLessThanOrEqualTo(words.get(w).length());
            }
        }
        Encoding cut = mini.encodeWords(words, 4);
        assertThat(cut.length()).isEqualTo(4);
        assertThat(cut.wordIds()).containsExactly(-1, 0, 1, -1);
    }

    @Test
    void wordsWithPunctuationInsideStayOneWord() {
        Encoding e = mini.encodeWords(List.of("don't", "stop"), 64);
        // don ' t stop: the first three pieces all belong to word 0
        assertThat(e.wordIds()).containsExactly(-1, 0, 0, 0, 1, -1);
    }

    @Test
    void decodesBack() {
        Encoding e = mini.encode("Hello, world! It's fine.", null, 64);
        // transformers 5 decodes BERT without clean_up_tokenization_spaces: "it ' s" is what Python gives
        assertThat(mini.decode(e.ids(), true)).isEqualTo("hello, world! it ' s fine.");
        assertThat(mini.decode(e.ids(), false)).startsWith("[CLS]").endsWith("[SEP]");
    }

    @Test
    void vocabularyFacts() {
        assertThat(mini.vocabularySize()).isEqualTo(30522);
        assertThat(mini.padTokenId()).isZero();
        assertThat(mini.tokenToId("[CLS]")).isEqualTo(101);
        assertThat(mini.tokenToId("[MASK]")).isEqualTo(103);
        assertThat(mini.tokenToId("##ing")).isPositive();
        assertThat(mini.tokenToId("no-such-token-xyz")).isEqualTo(-1);
        assertThat(seqcls.vocabularySize()).isEqualTo(1000);
    }

    @Test
    void otherTokenizerKinds() {
        try (HfTokenizer t5 = HfTokenizer.load(SharedFiles.path("fixtures/hf/t5-seq2seq"));
                HfTokenizer roberta = HfTokenizer.load(SharedFiles.path("fixtures/hf/roberta-seqcls"));
                HfTokenizer gpt2 = HfTokenizer.load(SharedFiles.path("fixtures/hf/gpt2-lm"))) {
            assertThat(t5.vocabularySize()).isEqualTo(800); // Unigram vocabulary is a list
            assertThat(t5.tokenToId("</s>")).isEqualTo(1);
            assertThat(t5.padTokenId()).isZero();
            assertThat(roberta.padTokenId()).isEqualTo(1);
            assertThat(roberta.tokenToId("<mask>")).isEqualTo(4);
            assertThat(gpt2.padTokenId()).isEqualTo(gpt2.tokenToId("<|endoftext|>"));
        }
    }

    @Test
    void concurrentEncodingMatchesSequential() throws Exception {
        List<String> texts = List.of("I loved this movie, the acting was wonderful.",
                "Terrible plot and boring characters!", "WINNER!! Claim your free prize now",
                "Are we still meeting for lunch tomorrow?", "The cat sat on the mat.");
        int[] lengths = {8, 16, 128};
        List<long[]> expected = new ArrayList<>();
        for (String t : texts) {
            for (int len : lengths) {
                expected.add(mini.encode(t, t, len).ids());
            }
        }
        ExecutorService pool = Executors.newFixedThreadPool(4);
        try {
            List<Future<Boolean>> results = new ArrayList<>();
            for (int thread = 0; thread < 8; thread++) {
                results.add(pool.submit(() -> {
                    for (int round = 0; round < 50; round++) {
                        int k = 0;
                        for (String t : texts) {
                            for (int len : lengths) {
                                if (!Arrays.equals(mini.encode(t, t, len).ids(), expected.get(k++))) {
                                    return false;
                                }
                            }
                        }
                    }
                    return true;
                }));
            }
            for (Future<Boolean> f : results) {
                assertThat(f.get()).isTrue();
            }
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void manyDifferentMaxLengthsStayCorrect() {
        try (HfTokenizer tk = HfTokenizer.load(SharedFiles.path("fixtures/hf/bert-seqcls"))) {
            String text = "I loved this movie, the acting was wonderful.";
            long[] full = tk.encode(text, null, 512).ids();
            for (int round = 0; round < 2; round++) {
                for (int len = 3; len < 30; len++) {
                    long[] ids = tk.encode(text, null, len).ids();
                    assertThat(ids).hasSize(Math.min(len, full.length));
                    assertThat(Arrays.copyOf(ids, ids.length - 1)).containsExactly(Arrays.copyOf(full, ids.length - 1));
                }
            }
        }
    }

    // ---- vocab.txt only ----

    private Path vocabOnlyFolder(String tokenizerConfig) throws IOException {
        Path model = SharedFiles.path("models/bert-mini-uncased-mlm");
        Files.copy(model.resolve("vocab.txt"), dir.resolve("vocab.txt"));
        if (tokenizerConfig == null) {
            Files.copy(model.resolve("tokenizer_config.json"), dir.resolve("tokenizer_config.json"));
        } else {
            Files.writeString(dir.resolve("tokenizer_config.json"), tokenizerConfig);
        }
        return dir;
    }

    @Test
    void vocabTxtAloneGivesTheSameIdsAsTheShippedTokenizerJson() throws IOException {
        List<String[]> inputs = List.of(
                new String[] {"I loved this movie, the acting was wonderful.", null},
                new String[] {"WINNER!! Claim your FREE prize now", null},
                new String[] {"Café naïve résumé — Ångström façade", null},
                new String[] {"我爱北京天安门 and 東京", null},
                new String[] {"the [MASK] sat on the mat [SEP] x", null},
                new String[] {"tabs\tand\nnewlines\u0000and\u200bcontrol", null},
                new String[] {"x".repeat(120) + " supercalifragilisticexpialidocious", null},
                new String[] {"The cat sat on the mat.", "A cat was sitting on the mat."},
                new String[] {"He bought a car.", "The stock market fell sharply today."},
                new String[] {"Don't you think so?", "I'd rather not — it's 3.14 o'clock!"});
        try (HfTokenizer built = HfTokenizer.load(vocabOnlyFolder(null))) {
            assertThat(built.vocabularySize()).isEqualTo(mini.vocabularySize());
            assertThat(built.padTokenId()).isEqualTo(mini.padTokenId());
            for (String[] in : inputs) {
                for (int len : new int[] {512, 12}) {
                    Encoding expected = mini.encode(in[0], in[1], len);
                    Encoding actual = built.encode(in[0], in[1], len);
                    String what = Arrays.toString(in) + " @" + len;
                    assertThat(actual.ids()).as(what).containsExactly(expected.ids());
                    assertThat(actual.typeIds()).as(what).containsExactly(expected.typeIds());
                    assertThat(actual.wordIds()).as(what).containsExactly(expected.wordIds());
                    assertThat(actual.charStarts()).as(what).containsExactly(expected.charStarts());
                    assertThat(actual.charEnds()).as(what).containsExactly(expected.charEnds());
                    assertThat(built.decode(actual.ids(), true)).isEqualTo(mini.decode(expected.ids(), true));
                }
            }
        }
    }

    @Test
    void vocabTxtAloneBuildsTheTokenizerJsonHuggingFaceShips() throws IOException {
        Path out = Files.createDirectory(dir.resolve("generated"));
        try (HfTokenizer built = HfTokenizer.load(vocabOnlyFolder(null))) {
            built.saveTo(out);
        }
        JsonNode generated = JSON.readTree(out.resolve("tokenizer.json").toFile());
        JsonNode shipped = JSON.readTree(SharedFiles.path("models/bert-mini-uncased-mlm/tokenizer.json").toFile());
        assertThat(generated).isEqualTo(shipped);
    }

    @Test
    void vocabTxtHonoursDoLowerCase() throws IOException {
        try (HfTokenizer cased = HfTokenizer.load(vocabOnlyFolder("{\"do_lower_case\": false}"))) {
            Encoding e = cased.encode("Hello hello", null, 16);
            // the uncased vocabulary has no "Hello": cased input falls apart, lower case does not
            assertThat(e.ids()[1]).isNotEqualTo(e.ids()[e.length() - 2]);
            assertThat(e.ids()[e.length() - 2]).isEqualTo(mini.tokenToId("hello"));
        }
    }

    // ---- saving and errors ----

    @Test
    void saveToCopiesTheTokenizerFiles() throws IOException {
        Path out = Files.createDirectory(dir.resolve("out"));
        mini.saveTo(out);
        Path model = SharedFiles.path("models/bert-mini-uncased-mlm");
        for (String f : List.of("tokenizer.json", "tokenizer_config.json", "vocab.txt")) {
            assertThat(out.resolve(f)).hasSameBinaryContentAs(model.resolve(f));
        }
        try (Stream<Path> files = Files.list(out)) {
            assertThat(files.map(p -> p.getFileName().toString()))
                    .containsExactlyInAnyOrder("tokenizer.json", "tokenizer_config.json", "vocab.txt");
        }
        try (HfTokenizer again = HfTokenizer.load(out)) {
            assertThat(again.encode("The cat sat.", "Dogs bark!", 64).ids())
                    .containsExactly(mini.encode("The cat sat.", "Dogs bark!", 64).ids());
        }
    }

    @Test
    void vocabOnlyTokenizerSavesItsGeneratedTokenizerJson() throws IOException {
        Path out = Files.createDirectory(dir.resolve("saved"));
        try (HfTokenizer built = HfTokenizer.load(vocabOnlyFolder(null))) {
            built.saveTo(out);
        }
        assertThat(out.resolve("tokenizer.json")).exists();
        assertThat(out.resolve("vocab.txt")).exists();
        try (HfTokenizer again = HfTokenizer.load(out)) {
            assertThat(again.encode("Café au lait", null, 64).ids())
                    .containsExactly(mini.encode("Café au lait", null, 64).ids());
        }
    }

    @Test
    void folderWithoutTokenizerFilesIsATypedError() {
        assertThatThrownBy(() -> HfTokenizer.load(dir))
                .isInstanceOf(InvalidCheckpointException.class)
                .hasMessageContaining(dir.toString())
                .hasMessageContaining("tokenizer.json");
    }

    @Test
    void corruptTokenizerJsonIsATypedError() throws IOException {
        Files.writeString(dir.resolve("tokenizer.json"), "{\"model\": ");
        assertThatThrownBy(() -> HfTokenizer.load(dir))
                .isInstanceOf(InvalidCheckpointException.class)
                .hasMessageContaining(dir.resolve("tokenizer.json").toString());
    }

    @ParameterizedTest
    @ValueSource(ints = {0, -1})
    void nonPositiveMaxLengthIsRejected(int maxLength) {
        assertThatThrownBy(() -> mini.encode("x", null, maxLength)).hasMessageContaining("maxLength");
    }

    @Test
    void closedTokenizerRefusesWork() {
        HfTokenizer tk = HfTokenizer.load(SharedFiles.path("fixtures/hf/bert-seqcls"));
        tk.encode("x", null, 8);
        tk.close();
        tk.close();
        assertThatThrownBy(() -> tk.encode("x", null, 8)).isInstanceOf(dev.attune.error.AttuneException.class)
                .hasMessageContaining("is closed");
        assertThatThrownBy(tk::copy).isInstanceOf(dev.attune.error.AttuneException.class);
    }

    @Test
    void aCopyOutlivesTheTokenizerItWasMadeFrom() {
        HfTokenizer tk = HfTokenizer.load(SharedFiles.path("fixtures/hf/bert-seqcls"));
        long[] ids = tk.encode("the movie was great", null, 16).ids();
        HfTokenizer copy = tk.copy();
        tk.close();
        try (copy) {
            assertThat(copy.encode("the movie was great", null, 16).ids()).isEqualTo(ids);
            assertThat(copy.padTokenId()).isEqualTo(tk.padTokenId());
        }
    }
}
