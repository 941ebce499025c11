package dev.attune.model;

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
