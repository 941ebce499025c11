package dev.attune.generate;

/**
 * Beam search settings of {@link TextGenerator#beamSearch}, with HuggingFace {@code
 * GenerationConfig} names and defaults.
 *
 * @param numBeams beams kept at every step ({@code num_beams}); 1 is greedy decoding
 * @param lengthPenalty exponent of the length a finished hypothesis' summed log-probability is
 *     divided by ({@code length_penalty}, default 1): above 0 favours longer outputs, below 0 shorter
 * @param earlyStopping {@code early_stopping}: {@link EarlyStopping#TRUE} stops once {@code numBeams}
 *     hypotheses are finished; {@link EarlyStopping#FALSE} (default) also stops when the best running
 *     beam, scored at its current length, can no longer beat the worst finished one; {@link
 *     EarlyStopping#NEVER} scores it at the longest length it could reach when {@code lengthPenalty >
 *     0} (HuggingFace's canonical beam search)
 * @param numReturnSequences best hypotheses returned, at most {@code numBeams}
 */
public record BeamSearchConfig(int numBeams, double lengthPenalty, EarlyStopping earlyStopping, int numReturnSequences) {

    /** HuggingFace's three {@code early_stopping} values. */
    public enum EarlyStopping {
        /** {@code early_stopping=True}. */
        TRUE,
        /** {@code early_stopping=False} (HuggingFace's default). */
        FALSE,
        /** {@code early_stopping="never"}. */
        NEVER
    }

    /** Validates. */
    public BeamSearchConfig {
        if (numBeams < 1) {
            throw new IllegalArgumentException("numBeams must be >= 1, got " + numBeams);
        }
        if (numReturnSequences < 1 || numReturnSequences > numBeams) {
            throw new IllegalArgumentException(
                    "numReturnSequences must be in 1.." + numBeams + " (numBeams), got " + numReturnSequences);
        }
        if (!Double.isFinite(lengthPenalty)) {
            throw new IllegalArgumentException("lengthPenalty must be finite, got " + lengthPenalty);
        }
        java.util.Objects.requireNonNull(earlyStopping, "earlyStopping");
    }

    /**
     * @param numBeams beams
     * @return HuggingFace's defaults for that many beams: length penalty 1, early stopping false, one
     *     returned sequence
     */
    public static BeamSearchConfig of(int numBeams) {
        return new BeamSearchConfig(numBeams, 1.0, EarlyStopping.FALSE, 1);
    }

    /**
     * @param value length penalty exponent
     * @return a copy with it
     */
    public BeamSearchConfig withLengthPenalty(double value) {
        return new BeamSearchConfig(numBeams, value, earlyStopping, numReturnSequences);
    }

    /**
     * @param value early stopping rule
     * @return a copy with it
     */
    public BeamSearchConfig withEarlyStopping(EarlyStopping value) {
        return new BeamSearchConfig(numBeams, lengthPenalty, value, numReturnSequences);
    }

    /**
     * @param value hypotheses to return
     * @return a copy with it
     */
    public BeamSearchConfig withNumReturnSequences(int value) {
        return new BeamSearchConfig(numBeams, lengthPenalty, earlyStopping, value);
    }
}
