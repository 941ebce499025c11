package dev.attune.formats.torch;

import static dev.attune.formats.torch.TorchTestFiles.pickle;
import static org.assertj.core.api.Assertions.assertThat;

import dev.attune.error.AttuneException;
import dev.attune.formats.hf.HfTokenizer;
import dev.attune.testing.SharedFiles;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The worst inputs of the hostile-input campaign, run in a child JVM limited to {@code -Xmx1g}: a
 * pickle whose dict keys are tuples shared 60 levels deep, pickles that grow containers to their
 * limit, a tokenizer.json with an empty SentencePiece trie and one with a regular expression the
 * native library gives up on, and a 50 MB single-line text. The child must handle each (a result
 * or a typed error), exit normally, within 60 s, and keep its resident memory under 2 GB.
 */
class WorstCasesUnderSmallHeapTest {
    @TempDir Path tmp;

    @Test
    void worstCasesRunInOneGigabyteOfHeap() throws Exception {
        Path log = tmp.resolve("child.txt");
        List<String> command = List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx1g",
                "-XX:ErrorFile=" + tmp.resolve("hs_err_%p.log"), "-Dai.djl.offline=true",
                "-D" + SharedFiles.PROPERTY + "=" + SharedFiles.root(),
                "-cp", System.getProperty("java.class.path"), WorstCasesUnderSmallHeapTest.class.getName(),
                tmp.resolve("work").toString());
        long t0 = System.nanoTime();
        Process p = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        boolean ended = p.waitFor(120, TimeUnit.SECONDS);
        if (!ended) {
            p.destroyForcibly();
        }
        double seconds = (System.nanoTime() - t0) / 1e9;
        String out = Files.readString(log);
        System.out.print(out); // the child's account of each case, in the test report
        assertThat(ended).as(out).isTrue();
        assertThat(p.exitValue()).as(out).isZero();
        assertThat(seconds).as(out).isLessThan(60);
        assertThat(out).contains("shared keys: ok", "growing containers: refused", "empty trie: refused",
                "regex give-up: refused", "50 MB line: ok", "all done");
        long rss = Long.parseLong(out.replaceAll("(?s).*peak resident KiB: (\\d+).*", "$1"));
        assertThat(rss).as(out).isLessThan(2L << 20);
        try (var files = Files.list(tmp)) {
            assertThat(files.map(f -> f.getFileName().toString())).noneMatch(n -> n.startsWith("hs_err"));
        }
    }

    /** The child: runs each case and says how it ended. */
    public static void main(String[] args) throws IOException {
        Path work = Files.createDirectories(Path.of(args[0]));
        // a 60-level shared tuple used as a key, twice (built separately), beside a tensor
        TorchTestFiles.Pickle shared = pickle().op('}', '(').str("w")
                .tensor("FloatStorage", "0", 3, 0, new int[] {3}, new int[] {1}).str("x").op('}', '(');
        for (int base : new int[] {10, 100}) {
            shared.op(')', 'q', base, '0');
            for (int i = 0; i < 60; i++) {
                shared.op('h', base + i, 'h', base + i, 0x86, 'q', base + i + 1);
                if (i < 59) {
                    shared.op('0');
                }
            }
            shared.op('N');
        }
        report("shared keys", () -> TorchUnpickler.readStateDict("shared.pkl", shared.op('u', 'u', '.').bytes()));
        // a list appended to itself until the container limit
        TorchTestFiles.Pickle grow = pickle().op(']', 'q', 0);
        for (int i = 0; i < 5_000_000; i++) {
            grow.op('h', 0, 'a');
        }
        byte[] growing = grow.op('.').bytes();
        report("growing containers", () -> TorchUnpickler.readStateDict("grow.pkl", growing));

        com.fasterxml.jackson.databind.ObjectMapper json = new com.fasterxml.jackson.databind.ObjectMapper();
        Path bertFile = SharedFiles.path("fixtures/hf/bert-seqcls/tokenizer.json");
        var emptyTrie = (com.fasterxml.jackson.databind.node.ObjectNode) json.readTree(bertFile.toFile());
        emptyTrie.putObject("normalizer").put("type", "Precompiled").put("precompiled_charsmap", "AAAAAA==");
        Path empty = Files.createDirectories(work.resolve("empty"));
        Files.writeString(empty.resolve("tokenizer.json"), emptyTrie.toString());
        report("empty trie", () -> HfTokenizer.load(empty).close());
        var slow = (com.fasterxml.jackson.databind.node.ObjectNode) json.readTree(bertFile.toFile());
        var split = slow.putObject("pre_tokenizer").put("type", "Split").put("behavior", "Isolated").put("invert", false);
        split.putObject("pattern").put("Regex", "(a+)+$");
        Path regex = Files.createDirectories(work.resolve("regex"));
        Files.writeString(regex.resolve("tokenizer.json"), slow.toString());
        report("regex give-up", () -> {
            try (HfTokenizer tk = HfTokenizer.load(regex)) {
                tk.encode("a".repeat(80) + "b", null, 32);
            }
        });
        StringBuilder line = new StringBuilder(52_000_000);
        String[] words = {"the ", "movie ", "was ", "unbelievably ", "good, ", "naïve ", "東京 "};
        for (int i = 0; line.length() < 50_000_000; i++) {
            line.append(words[(i * 7 + i / 3) % words.length]);
        }
        String text = line.toString();
        line = null;
        report("50 MB line", () -> {
            try (HfTokenizer tk = HfTokenizer.load(SharedFiles.path("fixtures/hf/bert-seqcls"))) {
                if (tk.encode(text, null, 128).length() != 128) {
                    throw new IllegalStateException("not truncated to 128");
                }
            }
        });
        for (String l : Files.readAllLines(Path.of("/proc/self/status"), StandardCharsets.UTF_8)) {
            if (l.startsWith("VmHWM:")) {
                System.out.println("peak resident KiB: " + l.replaceAll("\\D", ""));
            }
        }
        System.out.println("all done");
    }

    /** A case to run. */
    private interface Case {
        void run() throws Exception;
    }

    private static void report(String name, Case c) {
        long t0 = System.nanoTime();
        String how;
        try {
            c.run();
            how = "ok";
        } catch (AttuneException e) {
            how = "refused (" + e.getClass().getSimpleName() + ": " + e.getMessage().lines().findFirst().orElse("") + ")";
        } catch (Exception e) {
            how = "FAILED " + e;
        }
        System.out.printf("%s: %s [%d ms]%n", name, how, (System.nanoTime() - t0) / 1_000_000);
    }
}
