package dev.attune.model;

import org.apiguardian.api.API;

import java.nio.file.Path;
import java.util.List;

/** A checkpoint's tokenizer. Implementations are thread-safe. */
@API(status = API.Status.STABLE, since = "0.1")
public interface TextTokenizer extends AutoCloseable {
    /**
     * Tokenises with special tokens and truncation ({@code longest_first} for pairs), no padding.
     *
     * @param text first text
     * @param textPair second text, or null
     * @param maxLength maximum tokens including special tokens
     * @return the encoding
     */
    Encoding encode(String text, String textPair, int maxLength);

    /**
     * Tokenises words that are already split (NER), one word id per word.
     *
     * @param words the words
     * @param maxLength maximum tokens including special tokens
     * @return the encoding
     */
    Encoding encodeWords(List<String> words, int maxLength);

    /**
     * @param ids token ids
     * @param skipSpecialTokens drop special tokens
     * @return the text
     */
    String decode(long[] ids, boolean skipSpecialTokens);

    /** @return id used to pad batches */
    long padTokenId();

    /**
     * @param token a token string
     * @return its id, or -1
     */
    long tokenToId(String token);

    /** @return vocabulary size */
    int vocabularySize();

    /**
     * Writes the tokenizer files (tokenizer.json, tokenizer_config.json, vocab files present) into a
     * model folder.
     *
     * @param directory target folder (exists)
     */
    void saveTo(Path directory);

    /**
     * A tokenizer of the same vocabulary and settings that the caller owns and closes on its own. A
     * model keeps one, so that closing the checkpoint it was prepared from (and that checkpoint's
     * tokenizer) leaves the model working. The default returns this tokenizer itself, which is
     * right for tokenizers whose {@link #close()} releases nothing; implementations that hold
     * native resources return an independent instance.
     *
     * @return a tokenizer owned by the caller
     */
    default TextTokenizer copy() {
        return this;
    }

    /** Releases native resources. */
    @Override
    void close();

    /**
     * One tokenised text (or text pair), with special tokens, as HuggingFace tokenizers return it.
     *
     * @param ids token ids
     * @param typeIds segment ids (0 for the first text, 1 for the second)
     * @param attentionMask 1 for real tokens
     * @param charStarts per token, start character offset in its text (-1 for special tokens)
     * @param charEnds per token, end character offset (exclusive) in its text
     * @param sequenceIds per token: 0 first text, 1 second text, -1 special token
     * @param wordIds per token: index of the word it came from, or -1
     */
    @API(status = API.Status.STABLE, since = "0.1")
    public record Encoding(
            long[] ids,
            long[] typeIds,
            long[] attentionMask,
            int[] charStarts,
            int[] charEnds,
            int[] sequenceIds,
            int[] wordIds) {
        /** @return number of tokens */
        public int length() {
            return ids.length;
        }
    }
}
