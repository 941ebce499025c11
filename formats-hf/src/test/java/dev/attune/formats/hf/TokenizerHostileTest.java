package dev.attune.formats.hf;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.attune.error.InvalidCheckpointException;
import dev.attune.error.InvalidDataException;
import dev.attune.model.TextTokenizer.Encoding;
import dev.attune.testing.SharedFiles;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A hostile tokenizer.json cannot take the JVM down (these tests run in the test JVM itself: a
 * Rust panic would abort it), and long texts are tokenized only as far as maxLength needs, with
 * the result the whole text gives.
 */
class TokenizerHostileTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir Path dir;

    private static ObjectNode fixture(String name) throws IOException {
        return (ObjectNode) JSON.readTree(SharedFiles.path("fixtures/hf/" + name + "/tokenizer.json").toFile());
    }

    private Path folder(String name, ObjectNode json) throws IOException {
        Path d = Files.createDirectories(dir.resolve(name));
        Files.writeString(d.resolve(HfTokenizer.TOKENIZER_JSON), JSON.writeValueAsString(json));
        return d;
    }

    private static byte[] realCharsmap() throws IOException {
        try (InputStream in = TokenizerHostileTest.class.getResourceAsStream("/tokenizers/nmt_nfkc_charsmap.b64")) {
            return Base64.getDecoder().decode(new String(in.readAllBytes(), StandardCharsets.US_ASCII).trim());
        }
    }

    private static ObjectNode precompiled(byte[] charsmap) {
        ObjectNode n = JSON.createObjectNode();
        n.put("type", "Precompiled");
        n.put("precompiled_charsmap", Base64.getEncoder().encodeToString(charsmap));
        return n;
    }

    @Test
    void aRealSentencePieceCharsmapLoadsAndNormalizes() throws IOException {
        ObjectNode t5 = fixture("t5-seq2seq");
        t5.set("normalizer", precompiled(realCharsmap()));
        try (HfTokenizer tk = HfTokenizer.load(folder("t5-nfkc", t5))) {
            // NFKC through the charsmap: full-width letters become ASCII ones
            assertThat(tk.encode("\uff28\uff45\uff4c\uff4c\uff4f world", null, 32).ids())
                    .containsExactly(tk.encode("Hello world", null, 32).ids());
        }
    }

    @Test
    void damagedCharsmapsAreRefusedBeforeTheNativeLibrarySeesThem() throws IOException {
        byte[] real = realCharsmap();
        int units = ByteBuffer.wrap(real).order(ByteOrder.LITTLE_ENDIAN).getInt(0) / 4;
        List<byte[]> bad = new ArrayList<>();
        bad.add(new byte[] {0, 0, 0, 0}); // an empty trie (the campaign's case)
        bad.add(new byte[] {1, 2}); // too short for the size
        bad.add(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putInt(400).putInt(0).array()); // size past the end
        // the root's offset sent past the array
        byte[] root = real.clone();
        ByteBuffer.wrap(root).order(ByteOrder.LITTLE_ENDIAN).putInt(4, (units + 4096) << 10);
        bad.add(root);
        // the trie cut to its first 256 units: children of the root point past it
        byte[] cut = Arrays.copyOf(real, 4 + 256 * 4);
        ByteBuffer.wrap(cut).order(ByteOrder.LITTLE_ENDIAN).putInt(0, 256 * 4);
        bad.add(cut);
        // the replacement strings truncated: leaf values point past them
        bad.add(Arrays.copyOf(real, 4 + units * 4 + 10));
        // every unit that has a leaf flag and a label: values pushed into the middle of characters
        byte[] mid = real.clone();
        ByteBuffer b = ByteBuffer.wrap(mid).order(ByteOrder.LITTLE_ENDIAN);
        int strings = 4 + units * 4;
        int firstContinuation = -1;
        for (int i = strings; i < mid.length && firstContinuation < 0; i++) {
            if ((mid[i] & 0xc0) == 0x80) {
                firstContinuation = i - strings;
            }
        }
        for (int pos = 0; pos < units; pos++) {
            long unit = Integer.toUnsignedLong(b.getInt(4 + 4 * pos));
            if ((unit & 0xff) != 0 && (unit >>> 8 & 1) == 1) { // a labelled unit with a leaf: its value unit
                long next = pos ^ ((unit >>> 10) << ((unit & (1 << 9)) >>> 6));
                if (next < units) {
                    b.putInt(4 + 4 * (int) next, firstContinuation);
                }
            }
        }
        bad.add(mid);
        int i = 0;
        for (byte[] charsmap : bad) {
            ObjectNode t5 = fixture("t5-seq2seq");
            ObjectNode seq = JSON.createObjectNode();
            seq.put("type", "Sequence");
            seq.putArray("normalizers").add(JSON.createObjectNode().put("type", "NFKC")).add(precompiled(charsmap));
            t5.set("normalizer", seq);
            Path d = folder("bad" + i++, t5);
            assertThatThrownBy(() -> HfTokenizer.load(d).close()).as("charsmap %d", i - 1)
                    .isInstanceOf(InvalidCheckpointException.class)
                    .hasMessageContaining(d.resolve("tokenizer.json").toString())
                    .hasMessageContaining("normalizer.normalizers[1].precompiled_charsmap");
        }
        ObjectNode notText = fixture("t5-seq2seq");
        notText.set("normalizer", JSON.createObjectNode().put("type", "Precompiled").put("precompiled_charsmap", 7));
        assertThatThrownBy(() -> HfTokenizer.load(folder("nottext", notText)).close())
                .isInstanceOf(InvalidCheckpointException.class).hasMessageContaining("not a Base64 string");
    }

    @Test
    void aTemplateNamingAnUndefinedSpecialTokenIsRefused() throws IOException {
        // found by the tokenizer.json fuzz campaign: the library panics while encoding with it
        ObjectNode bert = fixture("bert-seqcls");
        ObjectNode post = (ObjectNode) bert.get("post_processor");
        ((ObjectNode) post.get("pair").get(4).get("SpecialToken")).put("id", "[SEQ]");
        Path d = folder("template", bert);
        assertThatThrownBy(() -> HfTokenizer.load(d).close()).isInstanceOf(InvalidCheckpointException.class)
                .hasMessageContaining("post_processor.pair[4] adds the special token '[SEQ]'");
    }

    @Test
    void jsonTheLibrarysParserRejectsIsRefusedFirst() throws IOException {
        // found by the tokenizer.json fuzz campaign: in the decoder, such JSON makes the library panic
        String bert = Files.readString(SharedFiles.path("fixtures/hf/bert-seqcls/tokenizer.json"));
        String decoder = "\"decoder\": {\"type\": \"WordPiece\", \"prefix\": ";
        int at = bert.indexOf("\"decoder\"");
        String rest = bert.substring(at);
        String tail = rest.substring(rest.indexOf("\"prefix\""));
        tail = tail.substring(tail.indexOf(',')); // after the prefix value
        List<String> values = List.of("\"\\ud800\"", "1e999", "[".repeat(130) + "1" + "]".repeat(130));
        int i = 0;
        for (String value : values) {
            Path d = Files.createDirectories(dir.resolve("lexical" + i++));
            Files.writeString(d.resolve(HfTokenizer.TOKENIZER_JSON), bert.substring(0, at) + decoder + value + tail);
            assertThatThrownBy(() -> HfTokenizer.load(d).close()).as(value.substring(0, Math.min(20, value.length())))
                    .isInstanceOf(InvalidCheckpointException.class)
                    .hasMessageContaining("which the tokenizers library cannot read");
        }
    }

    private static ObjectNode withSplitRegex(ObjectNode json, String regex) {
        ObjectNode split = JSON.createObjectNode();
        split.put("type", "Split");
        split.putObject("pattern").put("Regex", regex);
        split.put("behavior", "Isolated");
        split.put("invert", false);
        json.set("pre_tokenizer", split);
        return json;
    }

    @Test
    void aRegexTheNativeLibraryGivesUpOnEndsInAnErrorAndTheJvmLivesOn() throws IOException {
        Path d = folder("regex", withSplitRegex(fixture("bert-seqcls"), "(a+)+$"));
        assertTimeoutPreemptively(Duration.ofSeconds(90), () -> {
            try (HfTokenizer tk = HfTokenizer.load(d)) {
                assertThatThrownBy(() -> tk.encode("a".repeat(60) + "b", null, 32))
                        .isInstanceOf(InvalidDataException.class)
                        .hasMessageContaining(d.resolve("tokenizer.json").toString())
                        .hasMessageContaining("crashed").hasMessageContaining("retry-limit-in-match")
                        .hasMessageContaining("(a+)+$");
                // the tokenizer still works for texts the pattern copes with (a fresh process), as
                // the same file does in this process
                Encoding ok = tk.encode("the cat sat", "on the mat", 32);
                try (HfTokenizer plain = HfTokenizer.inProcess("same", java.util.Map.of(HfTokenizer.TOKENIZER_JSON,
                        Files.readAllBytes(d.resolve(HfTokenizer.TOKENIZER_JSON))))) {
                    assertThat(ok.ids()).containsExactly(plain.encode("the cat sat", "on the mat", 32).ids());
                    assertThat(tk.decode(ok.ids(), true)).isEqualTo(plain.decode(ok.ids(), true));
                    Encoding words = tk.encodeWords(List.of("the", "cat"), 8);
                    assertThat(words.ids()).containsExactly(plain.encodeWords(List.of("the", "cat"), 8).ids());
                    assertThat(words.wordIds()).containsExactly(plain.encodeWords(List.of("the", "cat"), 8).wordIds());
                }
            }
        });
    }

    @Test
    void aSlowRegexEndsWithinItsDeadline() throws IOException {
        // 2^20 steps per start position, under Oniguruma's limit, so no panic: just very slow
        Path d = folder("slow", withSplitRegex(fixture("bert-seqcls"), "(a|a)+b"));
        String old = System.getProperty(TokenizerProcess.TIMEOUT_PROPERTY);
        System.setProperty(TokenizerProcess.TIMEOUT_PROPERTY, "3");
        try (HfTokenizer tk = HfTokenizer.load(d)) {
            long t0 = System.nanoTime();
            assertTimeoutPreemptively(Duration.ofSeconds(60), () ->
                    assertThatThrownBy(() -> tk.encode(("a".repeat(20) + " ").repeat(200), null, 32))
                            .isInstanceOf(InvalidDataException.class).hasMessageContaining("took more than 3 s"));
            assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofSeconds(30));
        } finally {
            if (old == null) {
                System.clearProperty(TokenizerProcess.TIMEOUT_PROPERTY);
            } else {
                System.setProperty(TokenizerProcess.TIMEOUT_PROPERTY, old);
            }
        }
    }

    private static String words(int count, long seed) {
        Random r = new Random(seed);
        String[] vocab = {"the", "movie", "was", "unbelievably", "good", ",", "and", "naïve", "café", "東京", "🙂",
                "tokenization", "of", "a", "very", "long", "line", "!"};
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < count; i++) {
            b.append(vocab[r.nextInt(vocab.length)]).append(r.nextInt(10) == 0 ? "  " : " ");
        }
        return b.toString();
    }

    @Test
    void longTextsAreCutEarlyWithTheWholeTextsResult() throws IOException {
        for (String fixture : List.of("bert-seqcls", "gpt2-lm", "t5-seq2seq")) {
            try (HfTokenizer tk = HfTokenizer.load(SharedFiles.path("fixtures/hf/" + fixture))) {
                // text the normalizer removes (control characters for BERT) in front, so the window must grow
                String text = (fixture.equals("bert-seqcls") ? "\u0001".repeat(30_000) : "") + words(15_000, 1);
                String pair = words(40, 2);
                int whole = HfTokenizer.WINDOW_MAX_CHARS / 8; // from here on, a text is never cut
                Encoding all = tk.encode(text, null, whole);
                Encoding all2 = tk.encode(text, pair, whole);
                for (int maxLength : new int[] {16, 512}) {
                    Encoding e = tk.encode(text, null, maxLength);
                    assertThat(e.length()).isEqualTo(maxLength);
                    int specialsBefore = all.sequenceIds()[0] < 0 ? 1 : 0;
                    int content = (int) Arrays.stream(e.sequenceIds()).filter(s -> s == 0).count();
                    assertThat(Arrays.copyOfRange(e.ids(), specialsBefore, specialsBefore + content)).as(fixture)
                            .containsExactly(Arrays.copyOfRange(all.ids(), specialsBefore, specialsBefore + content));
                    assertThat(Arrays.copyOfRange(e.charEnds(), specialsBefore, specialsBefore + content))
                            .containsExactly(Arrays.copyOfRange(all.charEnds(), specialsBefore, specialsBefore + content));
                    // a pair: each text's tokens are the beginning of its tokens read whole, and the
                    // pair fills maxLength as it does read whole
                    Encoding p = tk.encode(text, pair, maxLength);
                    assertThat(p.length()).isEqualTo(maxLength);
                    for (int seq = 0; seq < 2; seq++) {
                        assertThat(idsOf(p, seq)).as("%s sequence %d", fixture, seq)
                                .containsExactly(Arrays.copyOf(idsOf(all2, seq), idsOf(p, seq).length));
                    }
                }
                List<String> wordList = List.of(words(20_000, 3).trim().split(" +"));
                Encoding w = tk.encodeWords(wordList, 64);
                Encoding wAll = tk.encodeWords(wordList.subList(0, 200), 64);
                assertThat(w.ids()).containsExactly(wAll.ids());
                assertThat(w.wordIds()).containsExactly(wAll.wordIds());
            }
        }
    }

    private static long[] idsOf(Encoding e, int sequence) {
        return java.util.stream.IntStream.range(0, e.length()).filter(i -> e.sequenceIds()[i] == sequence)
                .mapToLong(i -> e.ids()[i]).toArray();
    }

    @Test
    void aFiftyMegabyteLineIsTokenizedInAMoment() throws IOException {
        String line = words(10_000_000, 4);
        assertThat(line.length()).isGreaterThan(50_000_000);
        try (HfTokenizer tk = HfTokenizer.load(SharedFiles.path("fixtures/hf/bert-seqcls"))) {
            long t0 = System.nanoTime();
            Encoding e = tk.encode(line, null, 128);
            assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofSeconds(5));
            assertThat(e.ids()).containsExactly(tk.encode(line.substring(0, 20_000), null, 128).ids());
        }
    }
}
