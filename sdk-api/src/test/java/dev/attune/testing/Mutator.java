package dev.attune.testing;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * A seeded mutator for fuzz tests: from a valid input and a seed it derives the same broken input
 * every time, and describes what it did, so a failure can be replayed from the seed alone.
 *
 * <p>Byte mutations (bit flips, byte insertion and deletion, truncation, chunk duplication,
 * overwriting with boundary integers such as 2^31, 2^63-1 or -1 in little-endian) suit binary
 * formats; text mutations (numbers replaced by huge, negative or fractional values, strings by
 * other JSON values, structural characters deleted or duplicated, deep nesting) suit JSON, TSV and
 * JSON Lines. Each input gets one to four stacked mutations.
 *
 * <p>Published in sdk-api's test-jar for the other modules' fuzz tests.
 */
public final class Mutator {
    /** Numbers that break size and offset arithmetic, as text. */
    private static final String[] NUMBERS = {
        "-1", "0", "1", "255", "65536", "2147483647", "2147483648", "4294967295", "4294967296",
        "9223372036854775807", "9223372036854775808", "18446744073709551615", "-9223372036854775808",
        "99999999999999999999999999999", "1e308", "-1e308", "1.5", "NaN", "1e-400", "-0", "0x10"
    };
    /** The same as little-endian binary words. */
    private static final long[] WORDS = {
        -1L, 0L, 1L, 0x7fL, 0x80L, 0xffL, 0x7fffL, 0xffffL, 0x7fffffffL, 0x80000000L, 0xffffffffL,
        0x100000000L, Long.MAX_VALUE, Long.MIN_VALUE, 1L << 40
    };
    private static final String[] JSON_VALUES = {
        "null", "true", "[]", "{}", "\"\"", "-1", "1e999", "\"" + "x".repeat(1000) + "\"", "[[[[[[[[1]]]]]]]]", "\"\\ud800\""
    };

    private final boolean text;

    /** @param text whether the inputs are text (adds number-, string- and structure-aware mutations) */
    public Mutator(boolean text) {
        this.text = text;
    }

    /**
     * @param input a valid input (not changed)
     * @param seed the seed that fixes the mutations
     * @param log receives a description of each mutation applied
     * @return the mutated input
     */
    public byte[] mutate(byte[] input, long seed, List<String> log) {
        Random random = new Random(seed);
        byte[] data = input.clone();
        int count = 1 + random.nextInt(4);
        for (int i = 0; i < count; i++) {
            data = mutateOnce(data, random, log);
        }
        return data;
    }

    private byte[] mutateOnce(byte[] d, Random r, List<String> log) {
        int kinds = text ? 12 : 8;
        int kind = r.nextInt(kinds);
        int n = d.length;
        switch (kind) {
            case 0 -> {
                if (n == 0) {
                    return d;
                }
                int p = r.nextInt(n);
                int bit = r.nextInt(8);
                log.add("flip bit " + bit + " of byte " + p);
                d[p] ^= (byte) (1 << bit);
                return d;
            }
            case 1 -> {
                if (n == 0) {
                    return d;
                }
                int p = r.nextInt(n);
                int v = r.nextInt(256);
                log.add("set byte " + p + " to " + v);
                d[p] = (byte) v;
                return d;
            }
            case 2 -> {
                int p = r.nextInt(n + 1);
                byte[] ins = new byte[1 + r.nextInt(16)];
                r.nextBytes(ins);
                log.add("insert " + ins.length + " random bytes at " + p);
                return splice(d, p, p, ins);
            }
            case 3 -> {
                if (n == 0) {
                    return d;
                }
                int p = r.nextInt(n);
                int len = Math.min(n - p, 1 + r.nextInt(r.nextBoolean() ? 4 : 256));
                log.add("delete " + len + " bytes at " + p);
                return splice(d, p, p + len, new byte[0]);
            }
            case 4 -> {
                int p = r.nextInt(n + 1);
                log.add("truncate to " + p + " bytes");
                return java.util.Arrays.copyOf(d, p);
            }
            case 5 -> {
                if (n == 0) {
                    return d;
                }
                int from = r.nextInt(n);
                int len = Math.min(n - from, 1 + r.nextInt(64));
                int to = r.nextInt(n + 1);
                log.add("copy " + len + " bytes from " + from + " to " + to);
                return splice(d, to, to, java.util.Arrays.copyOfRange(d, from, from + len));
            }
            case 6, 7 -> {
                int width = new int[] {1, 2, 4, 8}[r.nextInt(4)];
                if (n < width) {
                    return d;
                }
                int p = r.nextInt(n - width + 1);
                long w = WORDS[r.nextInt(WORDS.length)];
                log.add("write " + width + "-byte little-endian " + w + " at " + p);
                for (int i = 0; i < width; i++) {
                    d[p + i] = (byte) (w >>> (8 * i));
                }
                return d;
            }
            default -> {
                return textMutation(d, r, log, kind - 8);
            }
        }
    }

    private static byte[] textMutation(byte[] d, Random r, List<String> log, int kind) {
        String s = new String(d, StandardCharsets.ISO_8859_1); // byte-preserving
        switch (kind) {
            case 0 -> { // a number (or the digits of a size/offset) replaced by a boundary value
                List<int[]> spans = spans(s, true);
                if (spans.isEmpty()) {
                    return d;
                }
                int[] sp = spans.get(r.nextInt(spans.size()));
                String v = NUMBERS[r.nextInt(NUMBERS.length)];
                log.add("replace number '" + s.substring(sp[0], sp[1]) + "' at " + sp[0] + " by " + v);
                return bytes(s.substring(0, sp[0]) + v + s.substring(sp[1]));
            }
            case 1 -> { // a JSON string replaced by another kind of value
                List<int[]> spans = spans(s, false);
                if (spans.isEmpty()) {
                    return d;
                }
                int[] sp = spans.get(r.nextInt(spans.size()));
                String v = JSON_VALUES[r.nextInt(JSON_VALUES.length)];
                log.add("replace string at " + sp[0] + " by " + (v.length() > 20 ? v.substring(0, 20) + "..." : v));
                return bytes(s.substring(0, sp[0]) + v + s.substring(sp[1]));
            }
            case 2 -> { // a structural character deleted or doubled
                List<Integer> at = new ArrayList<>();
                for (int i = 0; i < s.length(); i++) {
                    if ("{}[]\",:\t\n".indexOf(s.charAt(i)) >= 0) {
                        at.add(i);
                    }
                }
                if (at.isEmpty()) {
                    return d;
                }
                int p = at.get(r.nextInt(at.size()));
                boolean delete = r.nextBoolean();
                log.add((delete ? "delete" : "double") + " structural " + (int) s.charAt(p) + " at " + p);
                return bytes(s.substring(0, p) + (delete ? "" : s.substring(p, p + 1)) + s.substring(p));
            }
            default -> { // deep nesting or a long line
                int p = r.nextInt(s.length() + 1);
                int depth = 1 + r.nextInt(5000);
                boolean nest = r.nextBoolean();
                String ins = nest ? "[".repeat(depth) + "]".repeat(depth) : "x".repeat(depth * 20);
                log.add((nest ? "insert nesting of depth " + depth : "insert " + ins.length() + " characters") + " at " + p);
                return bytes(s.substring(0, p) + ins + s.substring(p));
            }
        }
    }

    /** Spans of digit runs (numbers) or of double-quoted strings. */
    private static List<int[]> spans(String s, boolean numbers) {
        List<int[]> out = new ArrayList<>();
        int i = 0;
        while (i < s.length()) {
            char c = s.charAt(i);
            if (numbers && (Character.isDigit(c) || c == '-')) {
                int j = i + 1;
                while (j < s.length() && (Character.isDigit(s.charAt(j)) || ".eE+-".indexOf(s.charAt(j)) >= 0)) {
                    j++;
                }
                out.add(new int[] {i, j});
                i = j;
            } else if (!numbers && c == '"') {
                int j = s.indexOf('"', i + 1);
                if (j < 0) {
                    break;
                }
                out.add(new int[] {i, j + 1});
                i = j + 1;
            } else {
                i++;
            }
        }
        return out;
    }

    private static byte[] bytes(String latin1) {
        return latin1.getBytes(StandardCharsets.ISO_8859_1);
    }

    private static byte[] splice(byte[] d, int from, int to, byte[] ins) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(d.length + ins.length);
        out.write(d, 0, from);
        out.write(ins, 0, ins.length);
        out.write(d, to, d.length - to);
        return out.toByteArray();
    }
}
