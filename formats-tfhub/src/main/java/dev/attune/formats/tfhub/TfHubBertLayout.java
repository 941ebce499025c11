package dev.attune.formats.tfhub;

import dev.attune.error.InvalidCheckpointException;
import dev.attune.ops.DType;
import dev.attune.ops.TensorData;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The variable layout of the official TF Hub BERT encoders (TensorFlow Model Garden's {@code
 * BertEncoder}) and its map onto HuggingFace {@code BertModel} parameter names. The table is in
 * {@code formats-tfhub/TFHUB-MAPPING.md}; in short, with {@code N} heads of size {@code D}:
 *
 * <ul>
 *   <li>embeddings are copied ({@code [V,H]}, {@code [P,H]}, {@code [T,H]}), layer norms copied;
 *   <li>query/key/value kernels {@code [H,N,D]} are read as {@code [H,N*D]} and transposed to HF's
 *       {@code [out,in]}; their biases {@code [N,D]} flattened;
 *   <li>the attention output kernel {@code [N,D,H]} is read as {@code [N*D,H]} and transposed;
 *   <li>dense kernels ({@code intermediate}, {@code output}, {@code pooler_transform}) are
 *       transposed.
 * </ul>
 *
 * <p>Names are matched on their tail, so prefixes a real export adds ({@code bert_encoder/}, {@code
 * encoder/}, {@code :0}) do not matter.
 */
final class TfHubBertLayout {
    /** How a TF variable becomes a HF tensor. */
    enum Transform {
        /** Same shape and layout. */
        COPY,
        /** {@code [in, out]} to {@code [out, in]}. */
        TRANSPOSE,
        /** {@code [H, N, D]} to {@code [N*D, H]}. */
        HEADS_IN,
        /** {@code [N, D, H]} to {@code [H, N*D]}. */
        HEADS_OUT,
        /** {@code [N, D]} to {@code [N*D]}. */
        FLATTEN
    }

    /** One resolved variable: the HF name it becomes and how. */
    record Target(String name, Transform transform) {}

    private record Rule(Pattern pattern, String target, Transform transform) {}

    private static final String LAYER = "(?:^|/)(?:transformer|encoder)/layer_(\\d+)/";
    private static final List<Rule> RULES = List.of(
            rule("(?:^|/)word_embeddings/embeddings$", "embeddings.word_embeddings.weight", Transform.COPY),
            rule("(?:^|/)position_embedding/embeddings$", "embeddings.position_embeddings.weight", Transform.COPY),
            rule("(?:^|/)type_embeddings/embeddings$", "embeddings.token_type_embeddings.weight", Transform.COPY),
            rule("(?:^|/)embeddings/layer_norm/gamma$", "embeddings.LayerNorm.weight", Transform.COPY),
            rule("(?:^|/)embeddings/layer_norm/beta$", "embeddings.LayerNorm.bias", Transform.COPY),
            rule(LAYER + "self_attention/(query|key|value)/kernel$", "encoder.layer.$1.attention.self.$2.weight",
                    Transform.HEADS_IN),
            rule(LAYER + "self_attention/(query|key|value)/bias$", "encoder.layer.$1.attention.self.$2.bias",
                    Transform.FLATTEN),
            rule(LAYER + "self_attention/attention_output/kernel$", "encoder.layer.$1.attention.output.dense.weight",
                    Transform.HEADS_OUT),
            rule(LAYER + "self_attention/attention_output/bias$", "encoder.layer.$1.attention.output.dense.bias",
                    Transform.COPY),
            rule(LAYER + "self_attention_layer_norm/gamma$", "encoder.layer.$1.attention.output.LayerNorm.weight",
                    Transform.COPY),
            rule(LAYER + "self_attention_layer_norm/beta$", "encoder.layer.$1.attention.output.LayerNorm.bias",
                    Transform.COPY),
            rule(LAYER + "intermediate/kernel$", "encoder.layer.$1.intermediate.dense.weight", Transform.TRANSPOSE),
            rule(LAYER + "intermediate/bias$", "encoder.layer.$1.intermediate.dense.bias", Transform.COPY),
            rule(LAYER + "output/kernel$", "encoder.layer.$1.output.dense.weight", Transform.TRANSPOSE),
            rule(LAYER + "output/bias$", "encoder.layer.$1.output.dense.bias", Transform.COPY),
            rule(LAYER + "output_layer_norm/gamma$", "encoder.layer.$1.output.LayerNorm.weight", Transform.COPY),
            rule(LAYER + "output_layer_norm/beta$", "encoder.layer.$1.output.LayerNorm.bias", Transform.COPY),
            rule("(?:^|/)pooler_transform/kernel$", "pooler.dense.weight", Transform.TRANSPOSE),
            rule("(?:^|/)pooler_transform/bias$", "pooler.dense.bias", Transform.COPY));

    private TfHubBertLayout() {}

    private static Rule rule(String regex, String target, Transform transform) {
        return new Rule(Pattern.compile(regex), target, transform);
    }

    /**
     * @param variableName a TF variable name ({@code transformer/layer_0/self_attention/query/kernel},
     *     optionally prefixed, optionally ending in {@code :0})
     * @return the HuggingFace {@code BertModel} name it maps to, or empty for variables outside the
     *     encoder (an {@code mlm/} head, {@code do_lower_case}, optimizer slots)
     */
    static Optional<Target> resolve(String variableName) {
        String name = variableName.endsWith(":0") ? variableName.substring(0, variableName.length() - 2) : variableName;
        if (name.startsWith("mlm/") || name.contains("/mlm/") || name.contains("/.OPTIMIZER_SLOT/")) {
            return Optional.empty();
        }
        for (Rule r : RULES) {
            Matcher m = r.pattern().matcher(name);
            if (m.find()) {
                String target = r.target();
                for (int g = m.groupCount(); g >= 1; g--) {
                    target = target.replace("$" + g, m.group(g));
                }
                return Optional.of(new Target(target, r.transform()));
            }
        }
        return Optional.empty();
    }

    /**
     * @param names TF variable names
     * @return HF name to TF name, for every name that resolves
     * @throws InvalidCheckpointException naming both variables when two map to one HF name
     */
    static Map<String, String> resolveAll(Iterable<String> names, String origin) {
        Map<String, String> out = new LinkedHashMap<>();
        for (String n : names) {
            Optional<Target> t = resolve(n);
            if (t.isPresent()) {
                String previous = out.put(t.get().name(), n);
                if (previous != null) {
                    throw new InvalidCheckpointException(origin + ": variables '" + previous + "' and '" + n
                            + "' both map to " + t.get().name() + "; the SavedModel holds more than one BERT encoder, "
                            + "which Attune cannot choose between");
                }
            }
        }
        return out;
    }

    /** @return the HF shape of a TF tensor of {@code shape} under {@code transform} */
    static long[] shape(Transform transform, long[] shape, String what) {
        return switch (transform) {
            case COPY -> shape.clone();
            case TRANSPOSE -> {
                require(shape, 2, what);
                yield new long[] {shape[1], shape[0]};
            }
            case HEADS_IN -> {
                require(shape, 3, what);
                yield new long[] {shape[1] * shape[2], shape[0]};
            }
            case HEADS_OUT -> {
                require(shape, 3, what);
                yield new long[] {shape[2], shape[0] * shape[1]};
            }
            case FLATTEN -> {
                require(shape, 2, what);
                yield new long[] {shape[0] * shape[1]};
            }
        };
    }

    private static void require(long[] shape, int rank, String what) {
        if (shape.length != rank) {
            throw new InvalidCheckpointException(what + " has shape " + Arrays.toString(shape) + "; the TF Hub BERT "
                    + "layout has rank " + rank + " there. Is this a TF Hub BERT encoder?");
        }
    }

    /** Applies a transform to float32 data (row-major). */
    static TensorData apply(Transform transform, TensorData data, String what) {
        TensorData f = data.toFloat32();
        long[] shape = f.shape();
        long[] target = shape(transform, shape, what);
        return switch (transform) {
            case COPY, FLATTEN -> new TensorData(DType.FLOAT32, target, f.buffer());
            case TRANSPOSE, HEADS_IN, HEADS_OUT -> {
                // all three are a 2-D transpose of the row-major data seen as [rows, cols]
                int rows = (int) target[1];
                int cols = (int) target[0];
                float[] in = f.toFloatArray();
                float[] out = new float[in.length];
                for (int r = 0; r < rows; r++) {
                    for (int c = 0; c < cols; c++) {
                        out[c * rows + r] = in[r * cols + c];
                    }
                }
                yield TensorData.ofFloats(target, out);
            }
        };
    }
}
