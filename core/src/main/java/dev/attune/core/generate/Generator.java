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
 * <p>{@link #generate} runs one sequence (batch size 1, no padding); {@link #generateBatch} runs
 * several, left-padded. The generator keeps no state between calls; it is as thread-safe as the
 * model's {@code predict}.
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

    /**
     * Generates for several prompts at once, left-padded as transformers pads decoder-only batches:
     * the attention mask covers the padding, and a family that takes positions from the mask (as
     * {@code Llama} does, like transformers' {@code generate}) gives each row the tokens it would
     * get alone. Rows that reach an end-of-sequence token stop growing; the batch runs until every
     * row has stopped or the token budget is spent.
     *
     * @param prompts the prompts' token ids (each at least one)
     * @param config decoding settings
     * @param padId the id written into the padding (masked out; any id of the vocabulary)
     * @return per prompt, the prompt followed by its generated tokens (its end token included)
     * @throws InvalidDataException when a prompt is empty or a prompt plus new tokens exceed the
     *     model's positions
     */
    public java.util.List<long[]> generateBatch(java.util.List<long[]> prompts, GenerationConfig config, long padId) {
        int b = prompts.size();
        if (b == 0) {
            return java.util.List.of();
        }
        int longest = 0;
        for (long[] p : prompts) {
            if (p.length == 0) {
                throw new InvalidDataException("generation needs prompts of at least one token");
            }
            longest = Math.max(longest, p.length);
        }
        if ((long) longest + config.maxNewTokens() > maxPositions) {
            throw new InvalidDataException("prompt of " + longest + " tokens plus " + config.maxNewTokens()
                    + " new tokens exceeds the model's " + maxPositions
                    + " positions; shorten the prompt or lower max new tokens");
        }
        boolean cached = config.useCache() && supportsCache;
        Random random = new Random(config.seed());
        Set<Long> eos = new HashSet<>(config.eosTokenIds());
        int total = longest + config.maxNewTokens();
        long[][] ids = new long[b][total];
        long[][] mask = new long[b][total];
        int[] lengths = new int[b];
        boolean[] done = new boolean[b];
        for (int r = 0; r < b; r++) {
            long[] p = prompts.get(r);
            int pad = longest - p.length;
            Arrays.fill(ids[r], padId);
            System.arraycopy(p, 0, ids[r], pad, p.length);
            Arrays.fill(mask[r], pad, total, 1);
            lengths[r] = p.length;
        }
        int width = longest; // columns filled so far
        Map<String, TensorData> past = Map.of();
        for (int step = 0; step < config.maxNewTokens(); step++) {
            int from = cached && step > 0 ? width - 1 : 0;
            int run = width - from;
            long[] runIds = new long[b * run];
            long[] runMask = new long[b * width];
            for (int r = 0; r < b; r++) {
                System.arraycopy(ids[r], from, runIds, r * run, run);
                System.arraycopy(mask[r], 0, runMask, r * width, width);
            }
            Map<String, TensorData> inputs = new LinkedHashMap<>();
            inputs.put("input_ids", TensorData.ofLongs(new long[] {b, run}, runIds));
            inputs.put("attention_mask", TensorData.ofLongs(new long[] {b, width}, runMask));
            if (cached) {
                inputs.putAll(past);
            }
            Map<String, TensorData> out = model.predict(new Batch(inputs, b));
            TensorData logits = out.get(LOGITS);
            long[] shape = logits.shape();
            if (shape.length != 3 || shape[0] != b) {
                throw new IllegalStateException("expected logits [" + b + ", T, vocab] but got " + Arrays.toString(shape));
            }
            if (cached) {
                Map<String, TensorData> next = new LinkedHashMap<>();
                for (Map.Entry<String, TensorData> e : out.entrySet()) {
                    if (e.getKey().startsWith(PRESENT_PREFIX)) {
                        next.put(PAST_PREFIX + e.getKey().substring(PRESENT_PREFIX.length()), e.getValue());
                    }
                }
                past = next;
            }
            float[] all = logits.toFloatArray();
            int vocab = (int) shape[2];
            int positions = (int) shape[1];
            boolean anyLeft = false;
            for (int r = 0; r < b; r++) {
                long token = padId;
                if (!done[r]) {
                    int offset = (r * positions + positions - 1) * vocab;
                    float[] row = Arrays.copyOfRange(all, offset, offset + vocab);
                    long[] history = Arrays.copyOfRange(ids[r], longest - prompts.get(r).length, width);
                    token = LogitsProcessing.pick(row, history, config, random);
                    lengths[r]++;
                    done[r] = eos.contains(token);
                }
                ids[r][width] = token;
                anyLeft |= !done[r];
            }
            width++;
            if (!anyLeft) {
                break;
            }
        }
        java.util.List<long[]> result = new java.util.ArrayList<>();
        for (int r = 0; r < b; r++) {
            int start = longest - prompts.get(r).length;
            result.add(Arrays.copyOfRange(ids[r], start, start + lengths[r]));
        }
        return result;
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
