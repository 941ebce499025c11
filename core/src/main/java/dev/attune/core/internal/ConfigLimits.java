package dev.attune.core.internal;

import org.apiguardian.api.API;

import com.fasterxml.jackson.databind.JsonNode;
import dev.attune.error.ConfigurationException;
import dev.attune.error.InvalidCheckpointException;
import dev.attune.model.ModelConfig;
import dev.attune.model.ModelDefinition;
import dev.attune.model.TextTokenizer;
import dev.attune.model.WeightStore;
import dev.attune.ops.Parameter;
import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * What a {@code config.json} may ask for, checked once for every family before anything is built or
 * allocated: sizes are whole numbers from 1, dropout probabilities lie in [0, 1), a layer count is
 * backed by the weights present, and the model the config describes fits this machine's memory.
 * Every refusal names the file, the key and its value, and what to fix. A hostile or mistyped config
 * ({@code num_hidden_layers: 1000000}, {@code num_labels} near 2^31) thus costs a message, not the
 * heap.
 */
@API(status = API.Status.INTERNAL, since = "0.2")
public final class ConfigLimits {
    /** The largest Java array, so the largest tensor any engine here can hand over. */
    public static final long MAX_TENSOR_ELEMENTS = Integer.MAX_VALUE - 8;

    /** Dimensions every family reads under one of these names: whole numbers, at least 1. */
    static final List<String> SIZE_KEYS = List.of("vocab_size", "hidden_size", "n_embd", "d_model", "dim",
            "hidden_dim", "num_attention_heads", "n_head", "n_heads", "num_heads", "num_key_value_heads",
            "intermediate_size", "n_inner", "d_ff", "d_kv", "head_dim", "max_position_embeddings", "n_positions",
            "n_ctx", "num_hidden_layers", "n_layer", "num_layers", "num_decoder_layers", "n_layers",
            "type_vocab_size", "num_labels", "relative_attention_num_buckets");
    static final List<String> LAYER_KEYS = List.of("num_hidden_layers", "n_layer", "num_layers",
            "num_decoder_layers", "n_layers");
    static final List<String> HIDDEN_KEYS = List.of("hidden_size", "n_embd", "d_model", "dim");
    static final List<List<String>> HEAD_PAIRS = List.of(List.of("hidden_size", "num_attention_heads"),
            List.of("n_embd", "n_head"), List.of("dim", "n_heads"));
    private static final Pattern PROBABILITY = Pattern.compile(".*(dropout|pdrop).*|.*_prob");
    /** Configs hold their settings at the top level; a few keys are known to be other things. */
    private static final Set<String> NOT_PROBABILITIES = Set.of("layerdrop");

    private ConfigLimits() {}

    /** @return this machine's memory in bytes (the physical memory; the heap if that is unknown) */
    public static long machineMemory() {
        try {
            if (ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.OperatingSystemMXBean os) {
                long total = os.getTotalMemorySize();
                if (total > 0) {
                    return total;
                }
            }
        } catch (RuntimeException | LinkageError e) {
            // fall through to the heap
        }
        return Runtime.getRuntime().maxMemory();
    }

    /**
     * @param bytes a size
     * @return it in the unit people read (MB, GB, TB)
     */
    public static String readable(double bytes) {
        String[] units = {"bytes", "KB", "MB", "GB", "TB", "PB", "EB"};
        int u = 0;
        while (bytes >= 1024 && u < units.length - 1) {
            bytes /= 1024;
            u++;
        }
        return String.format(Locale.ROOT, u == 0 ? "%.0f %s" : "%.1f %s", bytes, units[u]);
    }

    /**
     * Checks a config's values against themselves, the weights present and this machine's memory.
     *
     * @param config the config
     * @param weights the checkpoint's weights (empty for a model built from its config alone)
     * @throws InvalidCheckpointException naming the key, its value and what to fix
     */
    public static void check(ModelConfig config, WeightStore weights) {
        check(config, weights == null ? 0 : weights.names().size(), weights == null ? "" : weights.origin(),
                machineMemory());
    }

    /**
     * @param config the config
     * @param tensors how many tensors the checkpoint holds (0: built from the config alone)
     * @param weightsOrigin where the tensors are, for the message
     * @param memory the bytes this machine has
     */
    static void check(ModelConfig config, int tensors, String weightsOrigin, long memory) {
        String origin = config.origin();
        for (String key : SIZE_KEYS) {
            whole(config, key);
        }
        for (String key : config.keys()) {
            if (!NOT_PROBABILITIES.contains(key) && PROBABILITY.matcher(key).matches()) {
                probability(config, key);
            }
        }
        for (List<String> pair : HEAD_PAIRS) {
            long hidden = whole(config, pair.get(0));
            long heads = whole(config, pair.get(1));
            if (hidden > 0 && heads > 0 && hidden % heads != 0) {
                throw new InvalidCheckpointException(origin + ": " + pair.get(0) + " " + hidden + " is not a multiple of "
                        + pair.get(1) + " " + heads + "; each head gets an equal share of it: fix one of the two");
            }
        }
        long hidden = first(config, HIDDEN_KEYS);
        long vocab = whole(config, "vocab_size");
        for (String key : LAYER_KEYS) {
            long layers = whole(config, key);
            if (layers <= 0) {
                continue;
            }
            if (tensors > 0 && layers > tensors) {
                throw new InvalidCheckpointException(origin + ": " + key + " is " + layers + ", but " + weightsOrigin
                        + " holds " + tensors + " tensors in all, fewer than one per layer; set " + key
                        + " to the number of layers the checkpoint has");
            }
            if (hidden > 0) {
                // at least the attention's four hidden x hidden projections per layer, in float32
                double bytes = 4.0 * 4.0 * layers * hidden * hidden;
                if (bytes > memory) {
                    throw new InvalidCheckpointException(origin + ": " + key + " " + layers + " with hidden size "
                            + hidden + " means at least " + readable(bytes) + " of weights, more than this machine's "
                            + readable(memory) + " of memory; fix " + key);
                }
            }
        }
        if (hidden > 0) {
            for (String key : List.of("vocab_size", "max_position_embeddings", "n_positions", "num_labels")) {
                long rows = whole(config, key);
                // the table (or classifier) and AdamW's two moments for it
                if (rows > 0 && (rows * (double) hidden > MAX_TENSOR_ELEMENTS || 12.0 * rows * hidden > memory)) {
                    throw new InvalidCheckpointException(origin + ": " + key + " " + rows + " with hidden size " + hidden
                            + " makes a " + rows + " x " + hidden + " weight (" + readable(4.0 * rows * hidden)
                            + "), more than " + (rows * (double) hidden > MAX_TENSOR_ELEMENTS ? "a tensor can hold (2^31"
                            + " elements)" : "this machine's " + readable(memory) + " of memory allows")
                            + "; fix " + key);
                }
            }
        }
        if (vocab > MAX_TENSOR_ELEMENTS) {
            throw new InvalidCheckpointException(origin + ": vocab_size " + vocab + " is more than a tensor can index");
        }
    }

    /**
     * Checks what a definition declares before an engine allocates it: no tensor beyond what a Java
     * array holds, and all of them (with AdamW's moments) within this machine's memory.
     *
     * @param definition a model definition
     * @param config its config, whose keys the message names
     */
    public static void check(ModelDefinition definition, ModelConfig config) {
        check(definition.parameters().all(), config, machineMemory());
    }

    static void check(java.util.Collection<Parameter> parameters, ModelConfig config, long memory) {
        double total = 0;
        Parameter largest = null;
        double largestElements = 0;
        for (Parameter p : parameters) {
            double elements = 1;
            for (long d : p.shape()) {
                elements *= d;
            }
            total += elements;
            if (elements > largestElements) {
                largestElements = elements;
                largest = p;
            }
        }
        if (largest == null) {
            return;
        }
        String cause = keysOf(largest, config);
        if (largestElements > MAX_TENSOR_ELEMENTS) {
            throw new InvalidCheckpointException(config.origin() + ": the parameter " + largest.name() + " would have "
                    + java.util.Arrays.toString(largest.shape()) + " = " + String.format(Locale.ROOT, "%.0f", largestElements)
                    + " elements, more than a tensor can hold (2^31)" + cause);
        }
        if (4.0 * total > memory) {
            throw new InvalidCheckpointException(config.origin() + ": the model would have "
                    + String.format(Locale.ROOT, "%.0f", total) + " parameters (" + readable(4.0 * total)
                    + " in float32), more than this machine's " + readable(memory) + " of memory; its largest, "
                    + largest.name() + " " + java.util.Arrays.toString(largest.shape()) + ", comes" + cause);
        }
    }

    /** @return the config keys whose values make up a parameter's shape, as advice */
    private static String keysOf(Parameter p, ModelConfig config) {
        List<String> keys = new ArrayList<>();
        for (long d : p.shape()) {
            for (String key : config.keys()) {
                JsonNode n = config.raw(key).orElse(null);
                if (n != null && n.isIntegralNumber() && n.longValue() == d && d > 1 && !keys.contains(key)) {
                    keys.add(key + "=" + d);
                }
            }
        }
        if (p.shape().length > 0 && p.shape()[0] > 1 && config.labels().map(l -> l.size() == p.shape()[0]).orElse(false)) {
            keys.add("the " + p.shape()[0] + " labels (id2label / the data's labels)");
        }
        return keys.isEmpty() ? "; check the config's sizes" : " from " + String.join(", ", keys) + "; fix them";
    }

    /**
     * @param config the model's config
     * @param tokenizer its tokenizer
     * @throws InvalidCheckpointException when the tokenizer makes ids (vocabulary or added tokens) with no
     *     row in the embedding ({@code vocab_size})
     */
    public static void checkTokenizer(ModelConfig config, TextTokenizer tokenizer) {
        long vocab = whole(config, "vocab_size");
        if (vocab > 0 && tokenizer != null && tokenizer.vocabularySize() > vocab) {
            throw new InvalidCheckpointException(config.origin() + ": the tokenizer makes token ids up to "
                    + (tokenizer.vocabularySize() - 1) + " (its vocabulary and added tokens), but vocab_size is " + vocab
                    + ", so ids from " + vocab + " up have no embedding; use the tokenizer that belongs to the model,"
                    + " or resize vocab_size and the embedding together");
        }
    }

    /**
     * @param config a model's config
     * @return how many tokens one input may have: {@code max_position_embeddings} ({@code n_positions},
     *     {@code n_ctx}), less RoBERTa's offset of {@code pad_token_id + 1}; empty for a model without
     *     learned positions (T5)
     */
    public static java.util.OptionalLong usablePositions(ModelConfig config) {
        long positions = first(config, List.of("max_position_embeddings", "n_positions", "n_ctx"));
        if (positions <= 0) {
            return java.util.OptionalLong.empty();
        }
        String type = config.getString("model_type", "");
        if (type.equals("roberta") || type.equals("xlm-roberta") || type.equals("camembert")) {
            positions -= config.getInt("pad_token_id", 1) + 1L;
        }
        return java.util.OptionalLong.of(positions);
    }

    /** @return the key's value if it is present; a value that is not a whole number from 1 is refused */
    private static long whole(ModelConfig config, String key) {
        if (!config.has(key)) {
            return -1;
        }
        JsonNode n = config.raw(key).orElseThrow();
        if (!n.isIntegralNumber() || !n.canConvertToLong() || n.longValue() < 1) {
            throw new InvalidCheckpointException(config.origin() + ": '" + key + "' must be a whole number of at least 1,"
                    + " found " + abbreviate(n) + "; fix the key (or override it: --set " + key + "=...)");
        }
        return n.longValue();
    }

    private static long first(ModelConfig config, List<String> keys) {
        for (String key : keys) {
            long v = whole(config, key);
            if (v > 0) {
                return v;
            }
        }
        return -1;
    }

    private static void probability(ModelConfig config, String key) {
        JsonNode n = config.raw(key).orElse(null);
        if (n == null || !n.isNumber()) {
            return; // a flag or a name; a family that reads the key as a number names it
        }
        if (!(n.doubleValue() >= 0 && n.doubleValue() < 1)) {
            throw new InvalidCheckpointException(config.origin() + ": '" + key + "' is a dropout probability and must"
                    + " be at least 0 and below 1, found " + abbreviate(n) + "; fix the key (or override it: --set "
                    + key + "=0.1)");
        }
    }

    private static String abbreviate(JsonNode n) {
        String s = n.toString();
        return s.length() > 60 ? s.substring(0, 60) + "..." : s;
    }

    /**
     * @param option the option or setting asked for ({@code --num-beams})
     * @param value its value
     * @param bytesEach the memory each unit of it takes
     * @param what what that memory holds, for the message
     * @throws ConfigurationException when value x bytesEach exceeds the heap this JVM may use
     */
    public static void checkHeap(String option, long value, double bytesEach, String what) {
        long heap = Runtime.getRuntime().maxMemory();
        double need = value * bytesEach;
        if (need > heap) {
            throw new ConfigurationException(option + " " + value + " needs about " + readable(need) + " for " + what
                    + ", more than the " + readable(heap) + " this JVM may use; ask for fewer");
        }
    }
}
