package dev.attune.engine.onnx;

import dev.attune.error.ConfigurationException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * How a model is exported to ONNX.
 *
 * @param float16Weights store float weights as FLOAT16 initializers (half the file size); they are
 *     cast to float32 where used, so inputs, outputs and compute stay float32
 * @param withPast for decoders that declare past key/value inputs (GPT-2's LM head): export them
 *     as inputs and the present key/values as outputs, so generation can reuse the cache
 * @param externalDataThreshold total initializer bytes above which weights go to a separate
 *     {@code model.onnx_data} file (protobuf cannot hold messages over 2 GB)
 * @param operators which operators the graph is written with: {@link Operators#ORT} (default)
 *     ONNX Runtime's fused transformer kernels, {@link Operators#PLAIN} standard ONNX only
 * @param quantize {@link Quantization#INT8}: int8 weights with dynamic int8 activations in the
 *     matrix products ({@code dev.attune.engine.onnx.internal.Int8Quantizer}); {@link
 *     Quantization#NONE} by default
 * @param optimize also save ONNX Runtime's optimized graph of each exported file beside it ({@code
 *     model.onnx} gets {@value #OPTIMIZED_SUFFIX}{@code .onnx}, e.g. {@code model_optimized.onnx}):
 *     what ONNX Runtime builds at session creation with every optimization on (constants folded,
 *     its fusions applied), so a session opens that file without redoing them. The optimized file
 *     is specific to the ONNX Runtime version and the CPU it was made on (its kernels may assume
 *     that CPU's instruction set); the exported {@code model.onnx} stays the portable one
 */
public record OnnxExportOptions(boolean float16Weights, boolean withPast, long externalDataThreshold,
        Operators operators, Quantization quantize, boolean optimize) {

    /** File name suffix (before {@code .onnx}) of ONNX Runtime's optimized graph, as HuggingFace Optimum names it. */
    public static final String OPTIMIZED_SUFFIX = "_optimized";

    /**
     * Options without a saved optimized graph.
     *
     * @param float16Weights see the record
     * @param withPast see the record
     * @param externalDataThreshold see the record
     * @param operators see the record
     * @param quantize see the record
     */
    public OnnxExportOptions(boolean float16Weights, boolean withPast, long externalDataThreshold,
            Operators operators, Quantization quantize) {
        this(float16Weights, withPast, externalDataThreshold, operators, quantize, false);
    }

    /** The operator set a graph is written with. */
    public enum Operators {
        /**
         * ONNX Runtime's {@code com.microsoft} contrib ops where a model's composite matches one
         * (MultiHeadAttention, SkipLayerNormalization, BiasGelu/Gelu, FastGelu): the fastest graph
         * for ONNX Runtime, which runs nothing else here. Other runtimes may lack these ops.
         */
        ORT,
        /** Standard ONNX operators (opset {@value OnnxExportOptions#OPSET}) only, for any runtime. */
        PLAIN
    }

    /** Weight quantization of an export. */
    public enum Quantization {
        /** Weights as they are (float32, or float16 with {@code fp16}). */
        NONE,
        /**
         * int8 weights, one scale per output channel (symmetric); activations quantized per batch at
         * run time (dynamic quantization, as ONNX Runtime's {@code quantize_dynamic}); embedding
         * tables int8 with one scale per row. About a quarter of the float32 file; ONNX Runtime only.
         */
        INT8
    }

    /** Canonical constructor: checks the enums are given. */
    public OnnxExportOptions {
        java.util.Objects.requireNonNull(operators, "operators");
        java.util.Objects.requireNonNull(quantize, "quantize");
    }
    /** ONNX opset written by the exporter. */
    public static final int OPSET = 17;
    /** Default for {@link #externalDataThreshold}: protobuf's 2 GB limit less room for the graph. */
    public static final long TWO_GB_LESS_MARGIN = (2L << 30) - (64L << 20);

    /** @return float32 weights, past key/values where the model has them, external data over 2 GB */
    public static OnnxExportOptions defaults() {
        return new OnnxExportOptions(false, true, TWO_GB_LESS_MARGIN, Operators.ORT, Quantization.NONE);
    }

    /** @return these options with float16 weights on or off */
    public OnnxExportOptions withFloat16Weights(boolean value) {
        return new OnnxExportOptions(value, withPast, externalDataThreshold, operators, quantize, optimize);
    }

    /** @return these options with another external-data threshold */
    public OnnxExportOptions withExternalDataThreshold(long bytes) {
        return new OnnxExportOptions(float16Weights, withPast, bytes, operators, quantize, optimize);
    }

    /** @return these options with past key/values on or off */
    public OnnxExportOptions withPast(boolean value) {
        return new OnnxExportOptions(float16Weights, value, externalDataThreshold, operators, quantize, optimize);
    }

    /** @return these options writing the graph with another operator set */
    public OnnxExportOptions withOperators(Operators value) {
        return new OnnxExportOptions(float16Weights, withPast, externalDataThreshold, value, quantize, optimize);
    }

    /** @return these options saving ONNX Runtime's optimized graph beside each file, or not */
    public OnnxExportOptions withOptimize(boolean value) {
        return new OnnxExportOptions(float16Weights, withPast, externalDataThreshold, operators, quantize, value);
    }

    /** @return these options with another weight quantization */
    public OnnxExportOptions withQuantize(Quantization value) {
        return new OnnxExportOptions(float16Weights, withPast, externalDataThreshold, operators, value, optimize);
    }

    /** Option keys of the {@code onnx} export format, as {@code model.export("onnx", dir, options)} takes them. */
    public static final String FP16 = "fp16";
    /** Option key: {@code false} exports a decoder without past key/value inputs and outputs. */
    public static final String PAST = "past";
    /** Option key: weights above this many MiB go to {@code model.onnx_data}. */
    public static final String EXTERNAL_DATA_MB = "external_data_mb";
    /** Option key: as {@link #EXTERNAL_DATA_MB}, in bytes. */
    public static final String EXTERNAL_DATA_BYTES = "external_data_bytes";
    /** Option key: {@code ort} (default) or {@code plain}, the {@link Operators} of the graph. */
    public static final String OPS = "ops";
    /** Option key: {@code int8} or {@code none} (default), the {@link Quantization} of the weights. */
    public static final String QUANTIZE = "quantize";
    /** Option key: {@code true} also saves ONNX Runtime's optimized graph ({@link #optimize}). */
    public static final String OPTIMIZE = "optimize";

    /**
     * Reads the options of the {@code onnx} export format: {@value #FP16} ({@code true}/{@code
     * false}, default false), {@value #PAST} (default true), {@value #EXTERNAL_DATA_MB} or
     * {@value #EXTERNAL_DATA_BYTES} (a whole number; default: just under 2 GB), {@value #OPS}
     * ({@code ort} or {@code plain}), {@value #QUANTIZE} ({@code int8} or {@code none}; int8 does
     * not combine with {@code fp16}) and {@value #OPTIMIZE} ({@code true}/{@code false}, default false).
     *
     * @param options option values by key
     * @return the options, defaults for keys not given
     * @throws ConfigurationException on an unknown key or a value that does not parse, naming it
     */
    public static OnnxExportOptions fromMap(Map<String, String> options) {
        OnnxExportOptions o = defaults();
        for (Map.Entry<String, String> e : options.entrySet()) {
            String value = e.getValue() == null ? "" : e.getValue().strip();
            switch (e.getKey()) {
                case FP16 -> o = o.withFloat16Weights(bool(e.getKey(), value));
                case PAST -> o = o.withPast(bool(e.getKey(), value));
                case EXTERNAL_DATA_MB -> o = o.withExternalDataThreshold(count(e.getKey(), value) << 20);
                case EXTERNAL_DATA_BYTES -> o = o.withExternalDataThreshold(count(e.getKey(), value));
                case OPS -> o = o.withOperators(choice(e.getKey(), value, Operators.class));
                case QUANTIZE -> o = o.withQuantize(choice(e.getKey(), value, Quantization.class));
                case OPTIMIZE -> o = o.withOptimize(bool(e.getKey(), value));
                default -> throw new ConfigurationException("onnx export option '" + e.getKey() + "' is not known;"
                        + " known options: " + List.of(FP16, PAST, EXTERNAL_DATA_MB, EXTERNAL_DATA_BYTES, OPS, QUANTIZE,
                                OPTIMIZE));
            }
        }
        if (o.quantize == Quantization.INT8 && o.float16Weights) {
            throw new ConfigurationException("onnx export options " + QUANTIZE + "=int8 and " + FP16
                    + "=true do not combine: int8 already stores the weights in a quarter of float32; choose one");
        }
        return o;
    }

    private static <E extends Enum<E>> E choice(String key, String value, Class<E> type) {
        for (E c : type.getEnumConstants()) {
            if (c.name().equalsIgnoreCase(value)) {
                return c;
            }
        }
        List<String> known = new java.util.ArrayList<>();
        for (E c : type.getEnumConstants()) {
            known.add(c.name().toLowerCase(Locale.ROOT));
        }
        throw new ConfigurationException("onnx export option " + key + "=" + value + " is not known; use one of " + known);
    }

    /** @return these options as {@link #fromMap} reads them */
    public Map<String, String> toMap() {
        Map<String, String> m = new LinkedHashMap<>();
        m.put(FP16, Boolean.toString(float16Weights));
        m.put(PAST, Boolean.toString(withPast));
        m.put(EXTERNAL_DATA_BYTES, Long.toString(externalDataThreshold));
        m.put(OPS, operators.name().toLowerCase(Locale.ROOT));
        m.put(QUANTIZE, quantize.name().toLowerCase(Locale.ROOT));
        m.put(OPTIMIZE, Boolean.toString(optimize));
        return m;
    }

    private static long count(String key, String value) {
        long n;
        try {
            n = Long.parseLong(value);
        } catch (NumberFormatException ex) {
            n = -1;
        }
        if (n < 0 || n > Long.MAX_VALUE >> 20) {
            throw new ConfigurationException("onnx export option " + key + "=" + value
                    + " is not a whole number (0 or more)");
        }
        return n;
    }

    private static boolean bool(String key, String value) {
        return switch (value.toLowerCase(Locale.ROOT)) {
            case "true" -> true;
            case "false" -> false;
            default -> throw new ConfigurationException("onnx export option " + key + "=" + value
                    + " must be true or false");
        };
    }
}
