package dev.attune.tasks.testing;

import dev.attune.model.TextTokenizer.Encoding;
import dev.attune.model.TextTokenizer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * A BERT-shaped test tokenizer: lower-cases, splits on whitespace, maps words through a fixed
 * vocabulary ({@code [PAD]=0, [UNK]=1, [CLS]=2, [SEP]=3}, then the given words), and adds {@code
 * [CLS] a [SEP] (b [SEP])} with type ids 0 and 1. Pairs are truncated longest-first, as HuggingFace
 * does.
 */
public final class WhitespaceTokenizer implements TextTokenizer {
    public static final long PAD = 0;
    public static final long UNK = 1;
    public static final long CLS = 2;
    public static final long SEP = 3;

    private final Map<String, Long> vocab = new HashMap<>();
    private final List<String> tokens = new ArrayList<>(List.of("[PAD]", "[UNK]", "[CLS]", "[SEP]"));

    public WhitespaceTokenizer(String... words) {
        for (String w : words) {
            tokens.add(w);
        }
        for (int i = 0; i < tokens.size(); i++) {
            vocab.put(tokens.get(i), (long) i);
        }
    }

    private record Word(String text, int start, int end) {}

    private static List<Word> split(String text) {
        List<Word> out = new ArrayList<>();
        int i = 0;
        while (i < text.length()) {
            while (i < text.length() && Character.isWhitespace(text.charAt(i))) {
                i++;
            }
            int s = i;
            while (i < text.length() && !Character.isWhitespace(text.charAt(i))) {
                i++;
            }
            if (i > s) {
                out.add(new Word(text.substring(s, i).toLowerCase(Locale.ROOT), s, i));
            }
        }
        return out;
    }

    @Override
    public Encoding encode(String text, String textPair, int maxLength) {
        List<Word> a = split(text);
        List<Word> b = textPair == null ? null : split(textPair);
        int specials = b == null ? 2 : 3;
        if (b == null) {
            while (a.size() + specials > maxLength && !a.isEmpty()) {
                a.remove(a.size() - 1);
            }
        } else {
            while (a.size() + b.size() + specials > maxLength && (a.size() + b.size()) > 0) {
                if (a.size() > b.size()) {
                    a.remove(a.size() - 1);
                } else {
                    b.remove(b.size() - 1);
                }
            }
        }
        List<long[]> rows = new ArrayList<>(); // id, type, start, end, seq, word
        rows.add(new long[] {CLS, 0, -1, -1, -1, -1});
        for (int i = 0; i < a.size(); i++) {
            rows.add(new long[] {id(a.get(i).text()), 0, a.get(i).start(), a.get(i).end(), 0, i});
        }
        rows.add(new long[] {SEP, 0, -1, -1, -1, -1});
        if (b != null) {
            for (int i = 0; i < b.size(); i++) {
                rows.add(new long[] {id(b.get(i).text()), 1, b.get(i).start(), b.get(i).end(), 1, i});
            }
            rows.add(new long[] {SEP, 1, -1, -1, -1, -1});
        }
        int n = rows.size();
        long[] ids = new long[n];
        long[] types = new long[n];
        long[] mask = new long[n];
        int[] starts = new int[n];
        int[] ends = new int[n];
        int[] seq = new int[n];
        int[] wordIds = new int[n];
        for (int i = 0; i < n; i++) {
            long[] r = rows.get(i);
            ids[i] = r[0];
            types[i] = r[1];
            mask[i] = 1;
            starts[i] = (int) r[2];
            ends[i] = (int) r[3];
            seq[i] = (int) r[4];
            wordIds[i] = (int) r[5];
        }
        return new Encoding(ids, types, mask, starts, ends, seq, wordIds);
    }

    private long id(String word) {
        return vocab.getOrDefault(word, UNK);
    }

    @Override
    public Encoding encodeWords(List<String> words, int maxLength) {
        return encode(String.join(" ", words), null, maxLength);
    }

    @Override
    public String decode(long[] ids, boolean skipSpecialTokens) {
        List<String> out = new ArrayList<>();
        for (long id : ids) {
            if (skipSpecialTokens && id <= SEP) {
                continue;
            }
            out.add(tokens.get((int) id));
        }
        return String.join(" ", out);
    }

    @Override
    public long padTokenId() {
        return PAD;
    }

    @Override
    public long tokenToId(String token) {
        return vocab.getOrDefault(token, -1L);
    }

    @Override
    public int vocabularySize() {
        return tokens.size();
    }

    @Override
    public void saveTo(Path directory) {
        throw new UnsupportedOperationException("test tokenizer");
    }

    @Override
    public void close() {}
}
