package dev.attune.engine.onnx;

/**
 * How a model is exported to ONNX.
 *
 * @param float16Weights store float weights as FLOAT16 initializers (half the file size); they are
 *     cast to float32 where used, so inputs, outputs and compute stay float32
 * @param withPast for decoders that declare past key/value inputs (GPT-2's LM head): export them
 *     as inputs and the present key/values as outputs, so generation can reuse the cache
 * @param externalDataThreshold total initializer bytes above which weights go to a separate
 *     {@code model.onnx_data} file (protobuf cannot hold messages over 2 GB)
 */
public record OnnxExportOptions(boolean float16Weights, boolean withPast, long externalDataThreshold) {
    /** ONNX opset written by the exporter. */
    public static final int OPSET = 17;
    /** Default for {@link #externalDataThreshold}: protobuf's 2 GB limit less room for the graph. */
    public static final long TWO_GB_LESS_MARGIN = (2L << 30) - (64L << 20);

    /** @return float32 weights, past key/values where the model has them, external data over 2 GB */
    public static OnnxExportOptions defaults() {
        return new OnnxExportOptions(false, true, TWO_GB_LESS_MARGIN);
    }

    /** @return these options with float16 weights on or off */
    public OnnxExportOptions withFloat16Weights(boolean value) {
        return new OnnxExportOptions(value, withPast, externalDataThreshold);
    }

    /** @return these options with another external-data threshold */
    public OnnxExportOptions withExternalDataThreshold(long bytes) {
        return new OnnxExportOptions(float16Weights, withPast, bytes);
    }
}
