package dev.attune.generate;

import org.apiguardian.api.API;

import dev.attune.generate.GenerationConfig.BeamSearchConfig;

/**
 * Generates token ids with a lowered model, token by token with a key/value cache. The runtime hands
 * one to tasks that evaluate or predict by generation (a translation's BLEU needs generated text, not
 * one forward pass), so a task plugin never depends on how decoding is implemented.
 */
@API(status = API.Status.EXPERIMENTAL, since = "0.1")
public interface TextGenerator {
    /**
     * Greedy or sampled decoding, as {@code config} says.
     *
     * @param inputIds the prompt (decoder-only models) or the source (encoder-decoder models)
     * @param config lengths, sampling and stopping settings
     * @return the generated ids: for decoder-only models the prompt and its continuation; for
     *     encoder-decoder models the decoder's ids, starting with its start token
     */
    long[] generate(long[] inputIds, GenerationConfig config);

    /**
     * Beam search; the best finished hypothesis.
     *
     * @param inputIds the source
     * @param config lengths and stopping settings
     * @param beams beam settings
     * @return the best hypothesis's ids
     * @throws UnsupportedOperationException when the model's generator has no beam search
     */
    default long[] beamSearch(long[] inputIds, GenerationConfig config, BeamSearchConfig beams) {
        throw new UnsupportedOperationException(getClass().getSimpleName() + " has no beam search");
    }
}
