package dev.attune.core.generate;

import org.apiguardian.api.API;

import dev.attune.generate.GenerationConfig.BeamSearchConfig;
import dev.attune.generate.GenerationConfig;
import dev.attune.generate.TextGenerator;

import dev.attune.engine.Batch;
import dev.attune.core.internal.ConfigLimits;
import dev.attune.engine.LoweredModel;
import dev.attune.error.ConfigurationException;
import dev.attune.error.InvalidDataException;
import dev.attune.model.ModelDefinition.InputSpec;
import dev.attune.ops.TensorData;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;

/**
 * Generation with an encoder-decoder model (T5): the source is encoded once, and the decoder starts
 * from {@code decoder_start_token_id} and adds one token per step, greedily, by sampling ({@link
 * #generate}) or by beam search ({@link #beamSearch}), with HuggingFace's semantics.
 *
 * <p>The model's definition takes {@code input_ids}, {@code attention_mask} and {@code
 * decoder_input_ids} and returns {@code logits} [B, T, vocab]. Key/value cache: when it also
 * declares inputs {@code past_key_values.*} and returns {@code present.*} (T5: {@code
 * present.N.decoder.key} for self-attention, {@code present.N.encoder.key} for cross-attention),
 * every {@code present.X} of one step goes back as {@code past_key_values.X} of the next and only
 * the newest decoder token runs; the cross-attention keys and values computed at the first step are
 * passed back unchanged, so the encoder and its projections run once per source. Without a cache
 * (or with {@link GenerationConfig#useCache()} off) each step runs the whole decoder sequence
 * against the {@code encoder_last_hidden_state} of the first step.
 *
 * <p>One source at a time; beam search runs its beams as one batch and reorders the cache rows on
 * the host when beams are picked. Stateless between calls.
 */
@API(status = API.Status.EXPERIMENTAL, since = "0.1")
public final class Seq2SeqGenerator implements TextGenerator {
    private static final String LOGITS = "logits";
    private static final String ENCODER_STATE = "encoder_last_hidden_state";
    private static final String PAST_PREFIX = "past_key_values.";
    private static final String PRESENT_PREFIX = "present.";

    private final LoweredModel model;
    private final boolean supportsCache;
    private final boolean takesEncoderStates;
    private final long decoderStartTokenId;

    /**
     * A finished beam-search output.
     *
     * @param ids decoder ids, {@code decoder_start_token_id} first (as HuggingFace returns them)
     * @param score summed log-probability divided by {@code generated length ^ lengthPenalty}
     */
    public record Hypothesis(long[] ids, double score) {}

    /**
     * @param model a lowered encoder-decoder language model
     * @throws IllegalArgumentException when the model takes no {@code decoder_input_ids}
     */
    public Seq2SeqGenerator(LoweredModel model) {
        this.model = model;
        boolean past = false;
        boolean decoder = false;
        boolean encoderStates = false;
        for (InputSpec spec : model.definition().inputs()) {
            past |= spec.name().startsWith(PAST_PREFIX);
            decoder |= spec.name().equals("decoder_input_ids");
            encoderStates |= spec.name().equals("encoder_hidden_states");
        }
        if (!decoder) {
            throw new IllegalArgumentException(model.definition().architecture()
                    + " takes no decoder_input_ids; use Generator for decoder-only models");
        }
        this.supportsCache = past;
        this.takesEncoderStates = encoderStates;
        var config = model.definition().config();
        this.decoderStartTokenId = config.getInt("decoder_start_token_id", config.getInt("pad_token_id", 0));
    }

    /** @return whether the model takes past keys and values, so a cache can be used */
    public boolean supportsCache() {
        return supportsCache;
    }

    /** @return the first decoder token ({@code decoder_start_token_id}, else {@code pad_token_id}) */
    public long decoderStartTokenId() {
        return decoderStartTokenId;
    }

    /**
     * @param sourceIds the encoder's token ids (with the end-of-sequence token the tokenizer adds)
     * @param config decoding settings (greedy or sampling)
     * @return the decoder ids: {@code decoder_start_token_id}, then the generated tokens (an
     *     end-of-sequence token included when generation stopped at one)
     */
    public long[] generate(long[] sourceIds, GenerationConfig config) {
        return generate(sourceIds, config, (step, logits, token) -> {});
    }

    /**
     * @param sourceIds the encoder's token ids
     * @param config decoding settings (greedy or sampling)
     * @param listener told of every step's raw logits and picked token
     * @return the decoder ids, {@code decoder_start_token_id} first
     * @throws InvalidDataException when the source is empty
     */
    public long[] generate(long[] sourceIds, GenerationConfig config, Generator.StepListener listener) {
        Decoding run = new Decoding(sourceIds, config.useCache() && supportsCache);
        Random random = new Random(config.seed());
        Set<Long> eos = new HashSet<>(config.eosTokenIds());
        // grown as tokens come: maxNewTokens is an upper bound (up to 2^31 - 1), not an allocation
        long[] sequence = new long[(int) Math.min(config.maxNewTokens() + 1L, 1024)];
        sequence[0] = decoderStartTokenId;
        int length = 1;
        for (int step = 0; step < config.maxNewTokens(); step++) {
            float[] logits = run.step(new long[][] {Arrays.copyOf(sequence, length)})[0];
            long token = LogitsProcessing.pick(logits, Arrays.copyOf(sequence, length), config, random);
            listener.onStep(step, logits, token);
            if (length == sequence.length) {
                sequence = Arrays.copyOf(sequence, (int) Math.min(2L * length, config.maxNewTokens() + 1L));
            }
            sequence[length++] = token;
            if (eos.contains(token)) {
                break;
            }
        }
        return Arrays.copyOf(sequence, length);
    }

    @Override
    public long[] beamSearch(long[] sourceIds, GenerationConfig config, BeamSearchConfig beams) {
        return beamSearchAll(sourceIds, config, beams).get(0).ids();
    }

    /**
     * Beam search as HuggingFace's {@code generate(num_beams=...)} does it: at every step each beam's
     * log-softmax (after the repetition penalty, if any) is added to its score; the best {@code 2 x
     * numBeams} continuations are ranked; those among the first {@code numBeams} that end in an
     * end-of-sequence token, or reach {@code maxNewTokens}, become finished hypotheses scored by
     * {@code sum log p / generated_length ^ lengthPenalty} (the best {@code numBeams} are kept); the
     * best {@code numBeams} unfinished ones continue. Stops per {@link
     * BeamSearchConfig#earlyStopping()}, or when no continuation is left.
     *
     * @param sourceIds the encoder's token ids
     * @param config {@code maxNewTokens}, end-of-sequence ids, repetition penalty, cache
     * @param beams beam settings
     * @return the best hypotheses, best first, at most {@link BeamSearchConfig#numReturnSequences()}
     */
    public List<Hypothesis> beamSearchAll(long[] sourceIds, GenerationConfig config, BeamSearchConfig beams) {
        int numBeams = beams.numBeams();
        int maxNew = config.maxNewTokens();
        int vocab = model.definition().config().getInt("vocab_size", 0);
        if (vocab > 0 && numBeams > vocab) {
            // the first step has only vocab_size continuations: more beams could never be filled
            throw new ConfigurationException("numBeams (--num-beams) " + numBeams + " is more than the model's "
                    + vocab + " tokens (vocab_size); beam search keeps at most one beam per continuation: use"
                    + " fewer beams (4 or 5 is usual)");
        }
        // each step scores every beam's every next token (logits, log-probabilities, a candidate each)
        ConfigLimits.checkHeap("numBeams (--num-beams)", numBeams, Math.max(vocab, 1) * 64.0,
                "the scores of every beam's next tokens");
        Set<Long> eos = new HashSet<>(config.eosTokenIds());
        int keep = Math.max(2, 1 + eos.size()) * numBeams;
        Decoding run = new Decoding(sourceIds, config.useCache() && supportsCache);

        // running beams: at the first step only beam 0 exists (HuggingFace gives the others -1e9)
        List<long[]> running = new ArrayList<>(List.of(new long[] {decoderStartTokenId}));
        double[] runningScores = {0};
        List<Hypothesis> finished = new ArrayList<>();
        boolean improvementPossible = true;
        for (int step = 0; step < maxNew; step++) {
            float[][] logits = run.step(running.toArray(new long[0][]));
            List<Candidate> candidates = new ArrayList<>();
            for (int b = 0; b < running.size(); b++) {
                float[] scores = logits[b].clone();
                double[] logProbs = logSoftmax(scores);
                // HuggingFace applies its logits processors to the log-probabilities
                if (config.repetitionPenalty() != 1.0) {
                    float[] lp = new float[logProbs.length];
                    for (int i = 0; i < lp.length; i++) {
                        lp[i] = (float) logProbs[i];
                    }
                    LogitsProcessing.repetitionPenalty(lp, running.get(b), config.repetitionPenalty());
                    for (int i = 0; i < lp.length; i++) {
                        logProbs[i] = lp[i];
                    }
                }
                for (int token = 0; token < logProbs.length; token++) {
                    candidates.add(new Candidate(b, token, runningScores[b] + logProbs[token]));
                }
            }
            // top `keep` by score; ties by lower flat index (beam-major), as torch.topk on CPU in practice
            candidates.sort(Comparator.comparingDouble(Candidate::score).reversed()
                    .thenComparingInt(Candidate::beam).thenComparingInt(Candidate::token));
            List<Candidate> top = candidates.subList(0, Math.min(keep, candidates.size()));
            boolean lastStep = step == maxNew - 1;
            int generatedLength = step + 1;

            // finished hypotheses: stopping candidates ranked within the first numBeams
            boolean full = finished.size() >= numBeams && beams.earlyStopping() == BeamSearchConfig.EarlyStopping.TRUE;
            if (!full && improvementPossible) {
                for (int r = 0; r < Math.min(numBeams, top.size()); r++) {
                    Candidate c = top.get(r);
                    if (lastStep || eos.contains((long) c.token())) {
                        double score = c.score() / Math.pow(generatedLength, beams.lengthPenalty());
                        finished.add(new Hypothesis(append(running.get(c.beam()), c.token()), score));
                    }
                }
                finished.sort(Comparator.comparingDouble(Hypothesis::score).reversed());
                if (finished.size() > numBeams) {
                    finished.subList(numBeams, finished.size()).clear();
                }
            }

            // next running beams: the best non-stopping continuations
            List<Candidate> next = new ArrayList<>();
            for (Candidate c : top) {
                if (!(lastStep || eos.contains((long) c.token()))) {
                    next.add(c);
                }
                if (next.size() == numBeams) {
                    break;
                }
            }
            if (next.isEmpty() || lastStep) {
                break;
            }
            int[] rows = new int[next.size()];
            List<long[]> nextRunning = new ArrayList<>();
            double[] nextScores = new double[next.size()];
            for (int i = 0; i < next.size(); i++) {
                Candidate c = next.get(i);
                rows[i] = c.beam();
                nextRunning.add(append(running.get(c.beam()), c.token()));
                nextScores[i] = c.score();
            }
            run.reorder(rows);
            running = nextRunning;
            runningScores = nextScores;

            // HuggingFace's stopping rules, checked with the new length
            int length = step + 2; // decoder ids so far, start token included
            if (finished.size() >= numBeams) {
                if (beams.earlyStopping() == BeamSearchConfig.EarlyStopping.TRUE) {
                    break;
                }
                int hypothetical = beams.earlyStopping() == BeamSearchConfig.EarlyStopping.NEVER
                        && beams.lengthPenalty() > 0 ? maxNew : length - 1;
                double bestRunning = runningScores[0] / Math.pow(hypothetical, beams.lengthPenalty());
                double worstFinished = finished.get(finished.size() - 1).score();
                improvementPossible = improvementPossible && bestRunning > worstFinished;
                if (!improvementPossible) {
                    break;
                }
            }
        }
        return List.copyOf(finished.subList(0, Math.min(beams.numReturnSequences(), finished.size())));
    }

    private record Candidate(int beam, int token, double score) {}

    private static long[] append(long[] ids, long token) {
        long[] out = Arrays.copyOf(ids, ids.length + 1);
        out[ids.length] = token;
        return out;
    }

    /** @return log-softmax in double precision */
    static double[] logSoftmax(float[] logits) {
        double max = Double.NEGATIVE_INFINITY;
        for (float v : logits) {
            max = Math.max(max, v);
        }
        double sum = 0;
        for (float v : logits) {
            sum += Math.exp(v - max);
        }
        double log = Math.log(sum) + max;
        double[] out = new double[logits.length];
        for (int i = 0; i < out.length; i++) {
            out[i] = logits[i] - log;
        }
        return out;
    }

    /** The encoder inputs, the cache and the rows of one decoding. */
    private final class Decoding {
        private final long[] source;
        private final boolean cached;
        private Map<String, TensorData> past = Map.of();
        private TensorData encoderStates;
        private int rows = 1;
        private boolean started;

        Decoding(long[] sourceIds, boolean cached) {
            if (sourceIds.length == 0) {
                throw new InvalidDataException("generation needs a source of at least one token");
            }
            this.source = sourceIds.clone();
            this.cached = cached;
        }

        /**
         * Runs one step for the current rows.
         *
         * @param sequences every row's decoder ids so far (equal lengths)
         * @return the last position's logits per row
         */
        float[][] step(long[][] sequences) {
            if (sequences.length != rows) {
                throw new IllegalStateException("expected " + rows + " rows, got " + sequences.length);
            }
            int length = sequences[0].length;
            Map<String, TensorData> inputs = new LinkedHashMap<>();
            long[] ids = new long[rows * source.length];
            long[] mask = new long[ids.length];
            for (int r = 0; r < rows; r++) {
                System.arraycopy(source, 0, ids, r * source.length, source.length);
            }
            Arrays.fill(mask, 1);
            inputs.put("input_ids", TensorData.ofLongs(new long[] {rows, source.length}, ids));
            inputs.put("attention_mask", TensorData.ofLongs(new long[] {rows, source.length}, mask));
            boolean incremental = cached && started;
            int width = incremental ? 1 : length;
            long[] decoder = new long[rows * width];
            for (int r = 0; r < rows; r++) {
                System.arraycopy(sequences[r], length - width, decoder, r * width, width);
            }
            inputs.put("decoder_input_ids", TensorData.ofLongs(new long[] {rows, width}, decoder));
            if (incremental) {
                inputs.putAll(past);
            } else if (started && encoderStates != null && takesEncoderStates) {
                inputs.put("encoder_hidden_states", encoderStates);
            }
            Map<String, TensorData> out = model.predict(new Batch(inputs, rows));
            if (!started && out.containsKey(ENCODER_STATE)) {
                encoderStates = out.get(ENCODER_STATE); // one row: every row shares the source
            }
            if (encoderStates != null && encoderStates.shape()[0] != rows) {
                encoderStates = selectRows(encoderStates, new int[rows]);
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
            started = true;
            return lastPositionLogits(out.get(LOGITS), rows);
        }

        /** Keeps the given rows (beam indices of the previous step), repeating or dropping as needed. */
        void reorder(int[] picked) {
            if (cached) {
                Map<String, TensorData> next = new LinkedHashMap<>();
                for (Map.Entry<String, TensorData> e : past.entrySet()) {
                    next.put(e.getKey(), selectRows(e.getValue(), picked));
                }
                past = next;
            }
            if (encoderStates != null) {
                encoderStates = selectRows(encoderStates, new int[picked.length]);
            }
            rows = picked.length;
        }
    }

    /** @return the rows {@code picked} of {@code t} along axis 0, in that order */
    static TensorData selectRows(TensorData t, int[] picked) {
        long[] shape = t.shape();
        ByteBuffer src = t.buffer();
        int rowBytes = Math.toIntExact(src.remaining() / shape[0]);
        ByteBuffer dst = ByteBuffer.allocate(rowBytes * picked.length).order(ByteOrder.LITTLE_ENDIAN);
        for (int r : picked) {
            ByteBuffer row = src.duplicate();
            row.position(r * rowBytes).limit((r + 1) * rowBytes);
            dst.put(row);
        }
        dst.flip();
        shape[0] = picked.length;
        return new TensorData(t.dtype(), shape, dst);
    }

    private static float[][] lastPositionLogits(TensorData logits, int rows) {
        if (logits == null) {
            throw new IllegalStateException("the model has no 'logits' output; generation needs a language-model head");
        }
        long[] shape = logits.shape();
        if (shape.length != 3 || shape[0] != rows) {
            throw new IllegalStateException("expected logits [" + rows + ", T, vocab] but got " + Arrays.toString(shape));
        }
        float[] all = logits.toFloatArray();
        int vocab = (int) shape[2];
        int perRow = (int) (shape[1] * vocab);
        float[][] out = new float[rows][];
        for (int r = 0; r < rows; r++) {
            int end = (r + 1) * perRow;
            out[r] = Arrays.copyOfRange(all, end - vocab, end);
        }
        return out;
    }
}
