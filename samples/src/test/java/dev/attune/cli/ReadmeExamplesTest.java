package dev.attune.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.attune.testing.SharedFiles;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The README's examples that follow the marker {@value #MARKER} are run as written (in a scratch
 * folder, {@code ../shared} being the shared files) and what each {@code ./attune} command prints
 * must be the {@code # } lines under it, so the README shows what its own commands print. A line
 * that ends with "shortened here" is a description, not compared.
 */
class ReadmeExamplesTest {
    static final String MARKER = "<!-- checked by ReadmeExamplesTest -->";

    @TempDir
    Path tmp;

    @Test
    void checkedExamplesPrintWhatTheReadmeShows() throws IOException {
        Path readme = Path.of("..", "README.md");
        if (!Files.exists(readme)) {
            readme = Path.of("README.md");
        }
        List<String> lines = Files.readAllLines(readme, StandardCharsets.UTF_8);
        int blocks = 0;
        for (int i = 0; i < lines.size(); i++) {
            if (!lines.get(i).strip().equals(MARKER)) {
                continue;
            }
            assertThat(lines.get(i + 1)).as("line %d: the marker precedes a bash block", i + 2).isEqualTo("```bash");
            List<String> block = new ArrayList<>();
            for (int j = i + 2; !lines.get(j).equals("```"); j++) {
                block.add(lines.get(j));
            }
            runBlock(block);
            blocks++;
        }
        assertThat(blocks).as("checked README blocks").isGreaterThanOrEqualTo(3);
    }

    @Test
    void floatRoundingIsTheOnlyDifferenceForgiven() {
        assertThat(sameUpToFloatRounding("{\"ids\":[2,915],\"x\":[-0.10824416]}", "{\"ids\":[2,915],\"x\":[-0.10824415]}"))
                .isTrue();
        assertThat(sameUpToFloatRounding("{\"x\":[-0.1082]}", "{\"x\":[-0.1083]}")).isFalse();
        assertThat(sameUpToFloatRounding("{\"ids\":[2,916],\"x\":[0.5]}", "{\"ids\":[2,915],\"x\":[0.5]}")).isFalse();
        assertThat(sameUpToFloatRounding("{\"label\":\"spam\",\"x\":0.5}", "{\"label\":\"ham\",\"x\":0.5}")).isFalse();
        assertThat(sameUpToFloatRounding("[0.5,0.25]", "[0.5]")).isFalse();
    }

    private void runBlock(List<String> block) throws IOException {
        String shared = SharedFiles.root().toAbsolutePath().normalize() + "/";
        for (int i = 0; i < block.size(); i++) {
            String line = block.get(i).strip();
            if (line.startsWith("echo '")) {
                int end = line.lastIndexOf("' > ");
                Files.writeString(tmp.resolve(line.substring(end + 4).strip()), line.substring(6, end) + "\n");
            } else if (line.startsWith("./attune ")) {
                List<String> args = new ArrayList<>();
                for (String a : words(line.substring("./attune ".length()))) {
                    args.add(a.startsWith("../shared/") ? shared + a.substring("../shared/".length())
                            : Files.exists(tmp.resolve(a)) || a.startsWith("runs/") ? tmp.resolve(a).toString() : a);
                }
                CliTest.Outcome o = CliTest.execute(args.toArray(String[]::new));
                List<String> printed = new ArrayList<>(o.out().strip().lines().toList());
                o.err().lines().filter(l -> l.startsWith("attune: ")).forEach(printed::add);
                int k = 0;
                for (int j = i + 1; j < block.size() && block.get(j).startsWith("# "); j++, k++) {
                    String want = block.get(j).substring(2).replace("../shared/", shared);
                    if (want.endsWith("shortened here)")) {
                        continue;
                    }
                    assertThat(k).as("%s printed %s", line, printed).isLessThan(printed.size());
                    String got = printed.get(k);
                    if (!got.equals(want)) {
                        assertThat(sameUpToFloatRounding(got, want))
                                .as("README line under %s%n  README: %s%n  printed: %s", line, want, got).isTrue();
                    }
                }
            }
        }
    }

    private static final java.util.regex.Pattern NUMBER =
            java.util.regex.Pattern.compile("-?\\d+\\.\\d+(?:[eE][-+]?\\d+)?");

    /**
     * Whether two printed lines differ only in the last digits of their decimals (within 1e-6 of
     * each other): the float kernels of another CPU may round a logit's last printed digit the
     * other way, and the README cannot follow every machine. The text between numbers, whole
     * numbers (ids, labels) and the count of decimals must agree exactly.
     */
    static boolean sameUpToFloatRounding(String got, String want) {
        java.util.regex.Matcher g = NUMBER.matcher(got);
        java.util.regex.Matcher w = NUMBER.matcher(want);
        if (!NUMBER.matcher(got).replaceAll("#").equals(NUMBER.matcher(want).replaceAll("#"))) {
            return false;
        }
        while (g.find()) {
            if (!w.find()) {
                return false;
            }
            double a = Double.parseDouble(g.group());
            double b = Double.parseDouble(w.group());
            if (Math.abs(a - b) > 1e-6 * Math.max(1, Math.abs(b))) {
                return false;
            }
        }
        return !w.find();
    }

    /** Splits a command line on spaces, keeping single- and double-quoted words whole. */
    static List<String> words(String s) {
        List<String> out = new ArrayList<>();
        StringBuilder w = new StringBuilder();
        char quote = 0;
        boolean any = false;
        for (char c : s.toCharArray()) {
            if (quote != 0) {
                if (c == quote) {
                    quote = 0;
                } else {
                    w.append(c);
                }
            } else if (c == '\'' || c == '"') {
                quote = c;
                any = true;
            } else if (c == ' ') {
                if (any || w.length() > 0) {
                    out.add(w.toString());
                }
                w.setLength(0);
                any = false;
            } else {
                w.append(c);
            }
        }
        if (any || w.length() > 0) {
            out.add(w.toString());
        }
        return out;
    }
}
