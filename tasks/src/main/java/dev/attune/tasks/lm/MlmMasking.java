package dev.attune.tasks.lm;

import java.util.Arrays;
import java.util.Random;

/**
 * Chooses the tokens a masked language model learns to restore, as HuggingFace's {@code
 * DataCollatorForLanguageModeling} does: each ordinary token is selected with probability {@code p}
 * (special tokens never); a selected token becomes the mask token with probability 0.8, a token drawn
 * uniformly from the vocabulary with probability 0.1, and stays as it is otherwise. Labels hold the
 * original id at selected positions and -100 elsewhere.
 */
final class MlmMasking {
    /** Share of selected tokens replaced by the mask token. */
    static final double MASK_SHARE = 0.8;
    /** Share of the selected tokens not masked that get a random token (the rest are kept). */
    static final double RANDOM_SHARE_OF_REST = 0.5;

    private MlmMasking() {}

    /**
     * The masked input and its labels.
     *
     * @param inputIds ids the model reads
     * @param labels original ids at selected positions, -100 elsewhere
     */
    record Masked(long[] inputIds, long[] labels) {}

    /**
     * @param ids token ids with special tokens
     * @param special per position, whether it is a special token (never selected)
     * @param probability chance that an ordinary token is selected
     * @param maskId the mask token's id
     * @param vocabularySize random replacements are drawn from {@code [0, vocabularySize)}
     * @param random the source of randomness (seed it for reproducible masks)
     * @return the masked ids and labels
     */
    static Masked mask(long[] ids, boolean[] special, double probability, long maskId, int vocabularySize,
            Random random) {
        long[] input = ids.clone();
        long[] labels = new long[ids.length];
        Arrays.fill(labels, TokenScores.IGNORE_INDEX);
        for (int i = 0; i < ids.length; i++) {
            if (special[i] || random.nextDouble() >= probability) {
                continue;
            }
            labels[i] = ids[i];
            if (random.nextDouble() < MASK_SHARE) {
                input[i] = maskId;
            } else if (random.nextDouble() < RANDOM_SHARE_OF_REST) {
                input[i] = random.nextInt(vocabularySize);
            }
        }
        return new Masked(input, labels);
    }

    /**
     * @param seed the task's seed
     * @param exampleIndex the example's index in its data set
     * @return the random source of that example's mask: the same seed and index give the same mask
     */
    static Random randomFor(long seed, int exampleIndex) {
        return new Random(seed * 0x9E3779B97F4A7C15L + exampleIndex);
    }
}
