package dev.attune.core.generate;

import org.apiguardian.api.API;

import dev.attune.generate.GenerationConfig;
import dev.attune.generate.TextGenerator;

import dev.attune.engine.Batch;
import dev.attune.engine.LoweredModel;
import dev.attune.error.InvalidDataException;
import dev.attune.model.ModelDefinition.InputSpec;
import dev.attune.ops.TensorData;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import java.util.Set;

/**
 * Autoregressive text generation with a causal language model on any engine: each step runs the
 * model through {@link LoweredModel#predict}, takes the logits of the last position, processes
 * them on the host ({@link LogitsProcessing}) and picks the next token, greedily or by sampling.
 *
 * <p>Key/value cache: when the definition declares inputs {@code past_key_values.N.key} / {@code
 * .value} and outputs {@code present.N.key} / {@code .value} (the names of HuggingFace's ONNX
 * exports; see {@code Gpt2}), each output {@code present.X} of one step is fed back as input {@code
 * past_key_values.X} of the next, and only the new token is run. Otherwise, or with {@link
 * GenerationConfig#useCache()} off, every step runs the whole sequence.
 *
 * <p>One sequence at a time (batch size 1, no padding). The generator keeps no state between
 * calls; it is as thread-safe as the model's {@code predict}.
 */
@API(status = API.Status.EXPERIMENTAL, since = "0.1")
public final class Generator implements TextGenerator {
    private static final String LOGITS = "logits";
    private static final String PAST_PREFIX = "past_key_values.";
    private static final String PRESENT_PREFIX = "present.";

    private final LoweredModel model;
    private final boolean supportsCache;
    private final int maxPositions;

    /**
     * Called after each step with the model's raw next-token logits (before any processing) and the
     * token picked from them.
     */
    @FunctionalInterface
    public interface StepListener {
        /**
         * @param step 0 for the first new token
         * @param logits raw logits of the last position, {@code [vocab_size]}
         * @param token the token picked
         */
        void onStep(int step, float[] logits, long token);
    }

    /**
     * Decides after each step whether generation has gone far enough, beyond the end-of-sequence
     * tokens and the token budget (HuggingFace's {@code StoppingCriteria}); {@link StopStrings}
     * makes one that stops at given text.
     */
    @FunctionalInterface
    public interface StoppingCriterion {
        /**
         * @param newTokens the tokens generated so far, the prompt excluded (at least one)
         * @return true to end generation with these tokens
         */
        boolean shouldStop(long[] newTokens);
    }

    /**
     * @param model a lowered causal language model whose {@code logits} output is [1, T, vocab_size]
     */
    public Generator(LoweredModel model) {
        this.model = model;
        boolean past = false;
        for (InputSpec spec : model.definition().inputs()) {
            past |= spec.name().startsWith(PAST_PREFIX);
        }
        this.supportsCache = past;
        var config = model.definition().config();
        this.maxPositions = config.getInt("n_positions", config.getInt("max_position_embeddings", Integer.MAX_VALUE));
    }

    /** @return whether the model takes past keys and values, so a cache can be used */
    public boolean supportsCache() {
        return supportsCache;
    }

    /**
     * @param promptIds the prompt's token ids (at least one)
     * @param config decoding settings
     * @return the prompt followed by the generated tokens (an end-of-sequence token included when
     *     generation stopped at one)
     */
    public long[] generate(long[] promptIds, GenerationConfig config) {
        return generate(promptIds, config, (step, logits, token) -> {});
    }

    /**
     * @param promptIds the prompt's token ids (at least one)
     * @param config decoding settings
     * @param listener told of every step (streaming output, tests)
     * @return the prompt followed by the generated tokens (an end-of-sequence token included when
     *     generation stopped at one)
     * @throws InvalidDataException when the prompt is empty or prompt plus new tokens exceed the
     *     model's positions
     */
    public long[] generate(long[] promptIds, GenerationConfig config, StepListener listener) {
        return generate(promptIds, config, listener, null);
    }

    /**
     * @param promptIds the prompt's token ids (at least one)
     * @param config decoding settings
     * @param listener told of every step (streaming output, tests)
     * @param stop asked after every step whether to end there (stop strings), or null for none
     * @return the prompt followed by the generated tokens, up to and including the token at which
     *     an end-of-sequence token or {@code stop} ended generation
     * @throws InvalidDataException when the prompt is empty or prompt plus new tokens exceed the
     *     model's positions
     */
    public long[] generate(long[] promptIds, GenerationConfig config, StepListener listener, StoppingCriterion stop) {
        if (promptIds.length == 0) {
            throw new InvalidDataException("generation needs a prompt of at least one token");
        }
        long total = (long) promptIds.length + config.maxNewTokens();
        if (total > maxPositions) {
            throw new InvalidDataException("prompt of " + promptIds.length + " tokens plus " + config.maxNewTokens()
                    + " new tokens exceeds the model's " + maxPositions
                    + " positions; shorten the prompt or lower max new tokens");
        }
        boolean cached = config.useCache() && supportsCache;
        Random random = new Random(config.seed());
        Set<Long> eos = new HashSet<>(config.eosTokenIds());
        long[] sequence = Arrays.copyOf(promptIds, (int) total);
        int length = promptIds.length;
        Map<String, TensorData> past = Map.of();
        for (int step = 0; step < config.maxNewTokens(); step++) {
            Map<String, TensorData> inputs = new LinkedHashMap<>();
            long[] run = cached && step > 0 ? new long[] {sequence[length - 1]} : Arrays.copyOf(sequence, length);
            inputs.put("input_ids", TensorData.ofLongs(new long[] {1, run.length}, run));
            if (cached) {
                inputs.putAll(past);
            }
            Map<String, TensorData> out = model.predict(new Batch(inputs, 1));
            float[] logits = lastPositionLogits(out.get(LOGITS));
            if (cached) {
                Map<String, TensorData> next = new LinkedHashMap<>();
                for (Map.Entry<String, TensorData> e : out.entrySet()) {
                    if (e.getKey().startsWith(PRESENT_PREFIX)) {
                        next.put(PAST_PREFIX + e.getKey().substring(PRESENT_PREFIX.length()), e.getValue());
                    }
                }
                past = next;
            }
            long token = LogitsProcessing.pick(logits, Arrays.copyOf(sequence, length), config, random);
            listener.onStep(step, logits, token);
            sequence[length++] = token;
            if (eos.contains(token)
                    || stop != null && stop.shouldStop(Arrays.copyOfRange(sequence, promptIds.length, length))) {
                break;
            }
        }
        return Arrays.copyOf(sequence, length);
    }

    private static float[] lastPositionLogits(TensorData logits) {
        if (logits == null) {
            throw new IllegalStateException("the model has no 'logits' output; generation needs a causal LM head");
        }
        long[] shape = logits.shape();
        if (shape.length != 3 || shape[0] != 1) {
            throw new IllegalStateException("expected logits [1, T, vocab] but got " + Arrays.toString(shape));
        }
        float[] all = logits.toFloatArray();
        int vocab = (int) shape[2];
        return Arrays.copyOfRange(all, all.length - vocab, all.length);
    }
}
