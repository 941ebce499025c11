package dev.attune.formats.hf;

import org.apiguardian.api.API;

import dev.attune.error.ConfigurationException;
import dev.attune.model.Exporter;
import dev.attune.model.FineTunedModel;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import dev.attune.model.ModelConfig;
import dev.attune.ops.DType;
import dev.attune.ops.TensorData;
import java.util.Map;

/**
 * The {@code hf} export format, which is what {@link FineTunedModel#save} writes: a HuggingFace
 * folder that Python {@code transformers} loads unchanged. config.json ({@link
 * FineTunedModel#savedConfig()}: {@code architectures}, {@code id2label}, Attune's task settings),
 * model.safetensors ({@link FineTunedModel#stateDict()}) and the tokenizer files. One option,
 * {@value #DTYPE_OPTION}: the floating-point type the tensors are stored in ({@code fp32}, the default,
 * {@code bf16} or {@code fp16}, also spelled {@code float32}, {@code bfloat16}, {@code float16}); config.json's
 * {@code dtype} (and {@code torch_dtype}) always names what model.safetensors holds.
 */
@API(status = API.Status.INTERNAL, since = "0.1")
public final class HfExporter implements Exporter {
    /** The format's name. */
    public static final String FORMAT = "hf";

    /** The option naming the floating-point type of the saved tensors. */
    public static final String DTYPE_OPTION = "dtype";

    /** Creates the exporter (found with {@link java.util.ServiceLoader}). */
    public HfExporter() {}

    @Override
    public String format() {
        return FORMAT;
    }

    @Override
    public void export(FineTunedModel model, Path directory, Map<String, String> options) throws IOException {
        DType dtype = DType.FLOAT32;
        for (Map.Entry<String, String> o : options.entrySet()) {
            if (!o.getKey().equals(DTYPE_OPTION)) {
                throw new ConfigurationException("the hf export format takes only the option " + DTYPE_OPTION
                        + " (fp32, bf16 or fp16); given: " + options.keySet());
            }
            dtype = parseDtype(o.getValue());
        }
        Map<String, TensorData> tensors = cast(model.stateDict(), dtype);
        Files.writeString(directory.resolve(HuggingFaceFolderSource.CONFIG_JSON),
                withDtype(model.savedConfig(), tensors).toJson(), StandardCharsets.UTF_8);
        SafetensorsWriter.write(directory.resolve(SafetensorsStore.SINGLE_FILE), tensors);
        model.tokenizer().saveTo(directory);
    }

    /**
     * States the dtype of the tensors written, which transformers loads by default: {@code dtype}
     * (transformers 5), and {@code torch_dtype} where the config has it (transformers 4). A config
     * read from a float16 checkpoint says float16; the tensors Attune writes are its own, float32 when
     * it trained in float32.
     *
     * @param config the config to save
     * @param tensors the tensors written
     * @return the config with the dtype of its floating-point tensors (unchanged if there are none)
     */
    public static ModelConfig withDtype(ModelConfig config, Map<String, TensorData> tensors) {
        DType floating = null;
        for (TensorData t : tensors.values()) {
            DType d = t.dtype();
            if (d == DType.FLOAT32 || d == DType.FLOAT16 || d == DType.BFLOAT16) {
                if (floating == null || d == DType.FLOAT32) {
                    floating = d; // mixed precision is saved and loaded as float32
                }
            }
        }
        if (floating == null) {
            return config;
        }
        String name = switch (floating) {
            case FLOAT16 -> "float16";
            case BFLOAT16 -> "bfloat16";
            default -> "float32";
        };
        ModelConfig c = config.with("dtype", name);
        return config.has("torch_dtype") ? c.with("torch_dtype", name) : c;
    }

    /**
     * Reads a save dtype as users write it.
     *
     * @param text {@code fp32}/{@code float32}, {@code bf16}/{@code bfloat16} or {@code fp16}/{@code float16}
     *     (any case)
     * @return the floating-point type
     * @throws ConfigurationException on anything else, naming the accepted values
     */
    public static DType parseDtype(String text) {
        String t = text == null ? "" : text.trim().toLowerCase(java.util.Locale.ROOT);
        return switch (t) {
            case "fp32", "float32", "float" -> DType.FLOAT32;
            case "bf16", "bfloat16" -> DType.BFLOAT16;
            case "fp16", "float16", "half" -> DType.FLOAT16;
            default -> throw new ConfigurationException("save dtype '" + text + "' is not supported; use fp32 (the"
                    + " default), bf16 or fp16");
        };
    }

    /**
     * Converts the floating-point tensors to a save dtype (rounding to nearest even, as PyTorch's {@code
     * .to(dtype)} does); integer tensors are kept as they are.
     *
     * @param tensors tensors by name
     * @param dtype FLOAT32, BFLOAT16 or FLOAT16
     * @return the tensors in that dtype, in the same order
     * @throws ConfigurationException when dtype is not a floating-point type
     */
    public static Map<String, TensorData> cast(Map<String, TensorData> tensors, DType dtype) {
        if (dtype != DType.FLOAT32 && dtype != DType.FLOAT16 && dtype != DType.BFLOAT16) {
            throw new ConfigurationException("tensors can be saved as float32, bfloat16 or float16, not " + dtype);
        }
        Map<String, TensorData> out = new java.util.LinkedHashMap<>();
        for (Map.Entry<String, TensorData> e : tensors.entrySet()) {
            out.put(e.getKey(), cast(e.getValue(), dtype));
        }
        return out;
    }

    private static TensorData cast(TensorData t, DType dtype) {
        DType d = t.dtype();
        boolean floating = d == DType.FLOAT32 || d == DType.FLOAT16 || d == DType.BFLOAT16;
        if (!floating || d == dtype) {
            return t;
        }
        float[] values = t.toFloatArray();
        if (dtype == DType.FLOAT32) {
            return TensorData.ofFloats(t.shape(), values);
        }
        java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(values.length * 2).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        for (float v : values) {
            b.putShort(dtype == DType.FLOAT16 ? TensorData.floatToHalf(v) : floatToBfloat16(v));
        }
        b.flip();
        return new TensorData(dtype, t.shape(), b);
    }

    /**
     * Narrows a float to bfloat16, rounding to nearest even; NaN becomes the quiet NaN 0x7fc0 (as
     * PyTorch's conversion does).
     *
     * @param f the value
     * @return the 16 bits of the bfloat16
     */
    public static short floatToBfloat16(float f) {
        if (Float.isNaN(f)) {
            return (short) 0x7fc0;
        }
        int x = Float.floatToRawIntBits(f);
        int roundingBias = 0x7fff + ((x >>> 16) & 1);
        return (short) ((x + roundingBias) >>> 16);
    }
}
