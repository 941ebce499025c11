package dev.attune.generate;

import org.apiguardian.api.API;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.attune.error.InvalidCheckpointException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * How a {@link TextGenerator} picks tokens, with HuggingFace {@code GenerationConfig} names and defaults
 * where the meaning is the same. Greedy decoding unless {@code doSample}; the sampling settings are
 * ignored when greedy, as in HuggingFace.
 *
 * @param maxNewTokens tokens to generate at most ({@code max_new_tokens}; default 20)
 * @param doSample sample from the processed distribution instead of taking the most likely token
 * @param temperature divides the logits before sampling ({@code temperature}, default 1)
 * @param topK keep only the {@code k} most likely tokens when sampling; 0 keeps all (default 50)
 * @param topP keep the smallest set of most likely tokens whose probability reaches {@code p} when
 *     sampling; 1 keeps all (default 1)
 * @param repetitionPenalty HuggingFace's {@code RepetitionPenaltyLogitsProcessor}: every token
 *     already in the sequence has its logit divided by this (multiplied when negative); 1 is off
 * @param eosTokenIds generation stops after any of these ({@code eos_token_id}); empty for none
 * @param seed seed of the sampling random numbers
 * @param useCache reuse past keys and values when the model supports it ({@code use_cache})
 */
@API(status = API.Status.STABLE, since = "0.1")
public record GenerationConfig(
        int maxNewTokens,
        boolean doSample,
        double temperature,
        int topK,
        double topP,
        double repetitionPenalty,
        List<Long> eosTokenIds,
        long seed,
        boolean useCache) {

    /** File name of HuggingFace's generation defaults inside a model folder. */
    public static final String FILE_NAME = "generation_config.json";

    /** Validates the settings. */
    public GenerationConfig {
        if (maxNewTokens < 0) {
            throw new IllegalArgumentException("maxNewTokens must be >= 0, got " + maxNewTokens);
        }
        if (!(temperature > 0)) {
            throw new IllegalArgumentException("temperature must be > 0, got " + temperature);
        }
        if (topK < 0) {
            throw new IllegalArgumentException("topK must be >= 0 (0 = off), got " + topK);
        }
        if (!(topP > 0 && topP <= 1)) {
            throw new IllegalArgumentException("topP must be in (0, 1], got " + topP);
        }
        if (!(repetitionPenalty > 0)) {
            throw new IllegalArgumentException("repetitionPenalty must be > 0, got " + repetitionPenalty);
        }
        eosTokenIds = List.copyOf(eosTokenIds);
    }

    /** @return HuggingFace's defaults: greedy, 20 new tokens, no end-of-sequence token, cache on */
    public static GenerationConfig defaults() {
        return builder().build();
    }

    /** @return a builder starting from HuggingFace's defaults */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * Reads the defaults a model folder ships in {@value #FILE_NAME} ({@code max_new_tokens}, {@code
     * do_sample}, {@code temperature}, {@code top_k}, {@code top_p}, {@code repetition_penalty},
     * {@code eos_token_id} as a number or a list, {@code use_cache}); keys it lacks keep
     * HuggingFace's defaults. Generation stops at the end tokens of this file and of {@code
     * config.json} (all of them; without the file, those of {@code config.json}, as transformers
     * derives a generation config from the model's).
     *
     * @param modelFolder a HuggingFace model folder
     * @return a builder with those defaults, to override further
     * @throws InvalidCheckpointException when the file is not valid JSON
     */
    public static Builder fromFolder(Path modelFolder) {
        Builder b = builder();
        Path file = modelFolder.resolve(FILE_NAME);
        if (!Files.isRegularFile(file)) {
            // as transformers' GenerationConfig.from_model_config: the end tokens of config.json
            List<Long> ids = new ArrayList<>();
            Path config = modelFolder.resolve("config.json");
            addEos(readConfigEos(config), ids, config.toString());
            return ids.isEmpty() ? b : b.eosTokenIds(ids);
        }
        JsonNode json;
        try {
            json = new ObjectMapper().readTree(file.toFile());
        } catch (IOException e) {
            throw new InvalidCheckpointException(file + " is not valid JSON (" + e.getMessage()
                    + "); fix or delete it to use the default generation settings", e);
        }
        if (json == null || !json.isObject()) {
            throw new InvalidCheckpointException(file + " must hold a JSON object of generation settings; fix or"
                    + " delete it to use the default generation settings");
        }
        String where = file.toString();
        if (json.hasNonNull("max_new_tokens")) {
            b.maxNewTokens((int) integer(json, "max_new_tokens", where, 0, Integer.MAX_VALUE));
        }
        if (json.hasNonNull("do_sample")) {
            b.doSample(bool(json, "do_sample", where));
        }
        if (json.hasNonNull("temperature")) {
            b.temperature(number(json, "temperature", where));
        }
        if (json.hasNonNull("top_k")) {
            b.topK((int) integer(json, "top_k", where, 0, Integer.MAX_VALUE));
        }
        if (json.hasNonNull("top_p")) {
            b.topP(number(json, "top_p", where));
        }
        if (json.hasNonNull("repetition_penalty")) {
            b.repetitionPenalty(number(json, "repetition_penalty", where));
        }
        if (json.hasNonNull("use_cache")) {
            b.useCache(bool(json, "use_cache", where));
        }
        List<Long> ids = new ArrayList<>();
        addEos(json.get("eos_token_id"), ids, where);
        if (!ids.isEmpty()) {
            // and config.json's: generation stops at any end token of either file (Llama 3 lists several)
            Path config = modelFolder.resolve("config.json");
            addEos(readConfigEos(config), ids, config.toString());
            b.eosTokenIds(ids);
        }
        return b;
    }

    /** A whole number in a range; strings, fractions and numbers beyond the range name the key. */
    private static long integer(JsonNode json, String key, String file, long min, long max) {
        JsonNode n = json.get(key);
        if (!n.isIntegralNumber() || !n.canConvertToLong() || n.longValue() < min || n.longValue() > max) {
            throw new InvalidCheckpointException(file + ": '" + key + "' must be a whole number from " + min + " to "
                    + max + ", found " + abbreviate(n) + "; fix or delete the key");
        }
        return n.longValue();
    }

    private static double number(JsonNode json, String key, String file) {
        JsonNode n = json.get(key);
        if (!n.isNumber() || !Double.isFinite(n.doubleValue())) {
            throw new InvalidCheckpointException(file + ": '" + key + "' must be a number, found " + abbreviate(n)
                    + "; fix or delete the key");
        }
        return n.doubleValue();
    }

    private static boolean bool(JsonNode json, String key, String file) {
        JsonNode n = json.get(key);
        if (!n.isBoolean()) {
            throw new InvalidCheckpointException(file + ": '" + key + "' must be true or false, found " + abbreviate(n)
                    + "; fix or delete the key");
        }
        return n.booleanValue();
    }

    private static long tokenId(JsonNode n, String file) {
        if (!n.isIntegralNumber() || !n.canConvertToLong() || n.longValue() < 0 || n.longValue() > Integer.MAX_VALUE) {
            throw new InvalidCheckpointException(file + ": 'eos_token_id' must be a token id (a whole number from 0)"
                    + " or a list of them, found " + abbreviate(n) + "; fix or delete the key");
        }
        return n.longValue();
    }

    private static String abbreviate(JsonNode n) {
        String s = n.toString();
        return s.length() > 60 ? s.substring(0, 60) + "..." : s;
    }

    /** @return config.json's {@code eos_token_id} (a number or a list), or null */
    private static JsonNode readConfigEos(Path config) {
        if (!Files.isRegularFile(config)) {
            return null;
        }
        try {
            return new ObjectMapper().readTree(config.toFile()).get("eos_token_id");
        } catch (IOException e) {
            throw new InvalidCheckpointException(config + " is not valid JSON (" + e.getMessage() + ")", e);
        }
    }

    private static void addEos(JsonNode eos, List<Long> ids, String file) {
        if (eos == null || eos.isNull()) {
            return;
        }
        for (JsonNode n : eos.isArray() ? eos : List.of(eos)) {
            long id = tokenId(n, file);
            if (!ids.contains(id)) {
                ids.add(id);
            }
        }
    }

    /** @return a builder holding these settings */
    public Builder toBuilder() {
        return new Builder()
                .maxNewTokens(maxNewTokens)
                .doSample(doSample)
                .temperature(temperature)
                .topK(topK)
                .topP(topP)
                .repetitionPenalty(repetitionPenalty)
                .eosTokenIds(eosTokenIds)
                .seed(seed)
                .useCache(useCache);
    }

    /** Builder of {@link GenerationConfig}; starts from HuggingFace's defaults. */
    @API(status = API.Status.STABLE, since = "0.1")
    public static final class Builder {
        private int maxNewTokens = 20;
        private boolean doSample;
        private double temperature = 1.0;
        private int topK = 50;
        private double topP = 1.0;
        private double repetitionPenalty = 1.0;
        private List<Long> eosTokenIds = List.of();
        private long seed = 42;
        private boolean useCache = true;

        private Builder() {}

        /**
         * @param value tokens to generate at most
         * @return this
         */
        public Builder maxNewTokens(int value) {
            maxNewTokens = value;
            return this;
        }

        /**
         * @param value sample instead of greedy decoding
         * @return this
         */
        public Builder doSample(boolean value) {
            doSample = value;
            return this;
        }

        /**
         * @param value logits divisor when sampling
         * @return this
         */
        public Builder temperature(double value) {
            temperature = value;
            return this;
        }

        /**
         * @param value most likely tokens kept when sampling, 0 for all
         * @return this
         */
        public Builder topK(int value) {
            topK = value;
            return this;
        }

        /**
         * @param value nucleus probability when sampling, 1 for all
         * @return this
         */
        public Builder topP(double value) {
            topP = value;
            return this;
        }

        /**
         * @param value repetition penalty, 1 for none
         * @return this
         */
        public Builder repetitionPenalty(double value) {
            repetitionPenalty = value;
            return this;
        }

        /**
         * @param value end-of-sequence token ids
         * @return this
         */
        public Builder eosTokenIds(List<Long> value) {
            eosTokenIds = List.copyOf(value);
            return this;
        }

        /**
         * @param value seed of the sampling random numbers
         * @return this
         */
        public Builder seed(long value) {
            seed = value;
            return this;
        }

        /**
         * @param value reuse past keys and values
         * @return this
         */
        public Builder useCache(boolean value) {
            useCache = value;
            return this;
        }

        /** @return this, set to greedy decoding (sampling off) */
        public Builder greedy() {
            return doSample(false);
        }

        /** @return the settings */
        public GenerationConfig build() {
            return new GenerationConfig(
                    maxNewTokens, doSample, temperature, topK, topP, repetitionPenalty, eosTokenIds, seed, useCache);
        }
    }

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
    @API(status = API.Status.STABLE, since = "0.1")
    public record BeamSearchConfig(int numBeams, double lengthPenalty, EarlyStopping earlyStopping, int numReturnSequences) {

        /** HuggingFace's three {@code early_stopping} values. */
        @API(status = API.Status.STABLE, since = "0.1")
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
}
