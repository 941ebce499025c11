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
 * A BERT-shaped test tokenizer with sub-words: splits on whitespace, then cuts every word into
 * pieces of at most {@code pieceLength} characters, each with its character offsets. Special tokens
 * are {@code [PAD]=0, [UNK]=1, [CLS]=2, [SEP]=3}; every other piece gets the next free id the first
 * time it is seen (lower-cased). Pairs are {@code [CLS] a [SEP] b [SEP]}, truncated longest-first.
 */
public final class PieceTokenizer implements TextTokenizer {
    public static final long PAD = 0;
    public static final long CLS = 2;
    public static final long SEP = 3;

    private final int pieceLength;
    private final Map<String, Long> vocab = new HashMap<>();
    private final List<String> tokens = new ArrayList<>(List.of("[PAD]", "[UNK]", "[CLS]", "[SEP]"));

    /** @param pieceLength most characters per token */
    public PieceTokenizer(int pieceLength) {
        this.pieceLength = pieceLength;
        for (int i = 0; i < tokens.size(); i++) {
            vocab.put(tokens.get(i), (long) i);
        }
    }

    private record Piece(long id, int start, int end, int word) {}

    private synchronized long id(String piece) {
        return vocab.computeIfAbsent(piece.toLowerCase(Locale.ROOT), p -> {
            tokens.add(p);
            return (long) tokens.size() - 1;
        });
    }

    private List<Piece> pieces(String text, int firstWord) {
        List<Piece> out = new ArrayList<>();
        int i = 0;
        int word = firstWord;
        while (i < text.length()) {
            while (i < text.length() && Character.isWhitespace(text.charAt(i))) {
                i++;
            }
            int s = i;
            while (i < text.length() && !Character.isWhitespace(text.charAt(i))) {
                i++;
            }
            for (int p = s; p < i; p += pieceLength) {
                int e = Math.min(i, p + pieceLength);
                out.add(new Piece(id(text.substring(p, e)), p, e, word));
            }
            if (i > s) {
                word++;
            }
        }
        return out;
    }

    @Override
    public Encoding encode(String text, String textPair, int maxLength) {
        List<Piece> a = pieces(text, 0);
        List<Piece> b = textPair == null ? null : pieces(textPair, 0);
        return assemble(a, b, maxLength);
    }

    private static Encoding assemble(List<Piece> a, List<Piece> b, int maxLength) {
        int specials = b == null ? 2 : 3;
        while (a.size() + (b == null ? 0 : b.size()) + specials > maxLength) {
            if (b == null || a.size() > b.size()) {
                a.remove(a.size() - 1);
            } else {
                b.remove(b.size() - 1);
            }
        }
        List<long[]> rows = new ArrayList<>(); // id, type, start, end, seq, word
        rows.add(new long[] {CLS, 0, -1, -1, -1, -1});
        for (Piece p : a) {
            rows.add(new long[] {p.id(), 0, p.start(), p.end(), 0, p.word()});
        }
        rows.add(new long[] {SEP, 0, -1, -1, -1, -1});
        if (b != null) {
            for (Piece p : b) {
                rows.add(new long[] {p.id(), 1, p.start(), p.end(), 1, p.word()});
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
        int[] words = new int[n];
        for (int i = 0; i < n; i++) {
            long[] r = rows.get(i);
            ids[i] = r[0];
            types[i] = r[1];
            mask[i] = 1;
            starts[i] = (int) r[2];
            ends[i] = (int) r[3];
            seq[i] = (int) r[4];
            words[i] = (int) r[5];
        }
        return new Encoding(ids, types, mask, starts, ends, seq, words);
    }

    @Override
    public Encoding encodeWords(List<String> words, int maxLength) {
        List<Piece> all = new ArrayList<>();
        for (int w = 0; w < words.size(); w++) {
            for (Piece p : pieces(words.get(w), 0)) {
                all.add(new Piece(p.id(), p.start(), p.end(), w));
            }
        }
        return assemble(all, null, maxLength);
    }

    /** @return the piece of an id */
    public synchronized String token(long id) {
        return tokens.get((int) id);
    }

    @Override
    public synchronized String decode(long[] ids, boolean skipSpecialTokens) {
        List<String> out = new ArrayList<>();
        for (long id : ids) {
            if (!(skipSpecialTokens && id <= SEP)) {
                out.add(tokens.get((int) id));
            }
        }
        return String.join(" ", out);
    }

    @Override
    public long padTokenId() {
        return PAD;
    }

    @Override
    public synchronized long tokenToId(String token) {
        Long id = vocab.get(token);
        return id == null ? -1 : id;
    }

    @Override
    public synchronized int vocabularySize() {
        return tokens.size();
    }

    @Override
    public void saveTo(Path directory) {
        throw new UnsupportedOperationException("test tokenizer");
    }

    @Override
    public void close() {}
}
