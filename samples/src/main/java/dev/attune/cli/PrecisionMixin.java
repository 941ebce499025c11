package dev.attune.cli;

import dev.attune.engine.LoweredModel;
import dev.attune.error.ConfigurationException;
import dev.attune.ops.DType;
import java.util.Locale;
import picocli.CommandLine.Option;

/** Inference precision ({@code --dtype}), shared by predict, logits and generate. */
final class PrecisionMixin {
    @Option(names = "--dtype", defaultValue = "fp32", paramLabel = "bf16|fp16|fp32",
            description = "precision of matrix products and attention (autocast: weights stay float32, norms and"
                    + " softmax in float32, outputs float32); default: ${DEFAULT-VALUE}")
    String dtype;

    /** @return the compute type --dtype names */
    DType type() {
        return parse(dtype);
    }

    /**
     * @param text bf16, fp16 or fp32 (HuggingFace's names; bfloat16, float16, float32 too)
     * @return the type
     * @throws ConfigurationException for another name
     */
    static DType parse(String text) {
        return switch (text.toLowerCase(Locale.ROOT)) {
            case "bf16", "bfloat16" -> DType.BFLOAT16;
            case "fp16", "float16", "half" -> DType.FLOAT16;
            case "fp32", "float32", "float" -> DType.FLOAT32;
            default -> throw new ConfigurationException("--dtype takes bf16, fp16 or fp32, not '" + text + "'");
        };
    }

    /** Sets the model's compute type; an engine that computes in float32 only refuses bf16/fp16 by name. */
    void applyTo(LoweredModel model) {
        model.setComputeType(type());
    }
}
