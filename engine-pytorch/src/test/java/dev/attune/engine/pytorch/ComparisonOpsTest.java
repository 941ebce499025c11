package dev.attune.engine.pytorch;

import static org.assertj.core.api.Assertions.assertThat;

import dev.attune.engine.Batch;
import dev.attune.engine.EngineOptions;
import dev.attune.engine.LoweredModel;
import dev.attune.model.InputSpec;
import dev.attune.ops.DType;
import dev.attune.ops.Ops;
import dev.attune.ops.Tensor;
import dev.attune.ops.TensorData;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The ops added for GPT-2 and RoBERTa ({@code equal}, {@code greater}, {@code max}, {@code cumsum})
 * on the PyTorch engine: values, shapes and element types as the contract states them.
 */
class ComparisonOpsTest {
    static final long[] X = {1, 0, 1, 1, // [2, 4]
            5, 5, 0, 0};
    static final long[] Y = {1, 1, 0, 1};

    /** Applies each op to the input {@code x} [2, 4] and {@code y} [4]. */
    static final class Probe extends ProbeModel {
        Probe() {
            super("Probe");
        }

        @Override
        public List<InputSpec> inputs() {
            return List.of(new InputSpec("x", DType.INT64, 2, false), new InputSpec("y", DType.INT64, 1, false));
        }

        @Override
        public List<String> outputs() {
            return List.of("cumsum", "max", "maxKeep", "equal", "greater");
        }

        @Override
        public Map<String, Tensor> forward(Ops ops, Map<String, Tensor> in) {
            Tensor x = in.get("x");
            Tensor y = in.get("y");
            Map<String, Tensor> out = new LinkedHashMap<>();
            out.put("cumsum", ops.cumsum(x, 1));
            out.put("max", ops.max(x, 1, false));
            out.put("maxKeep", ops.max(x, -1, true));
            out.put("equal", ops.cast(ops.equal(x, y), DType.INT64));
            out.put("greater", ops.cast(ops.greater(x, y), DType.INT64));
            return out;
        }
    }

    @Test
    void comparisonsReductionsAndCumulativeSums() {
        try (LoweredModel m = new PyTorchEngineProvider().create().lower(new Probe(),
                p -> { throw new AssertionError("no parameters"); }, EngineOptions.defaults())) {
            Map<String, TensorData> out = m.predict(new Batch(Map.of(
                    "x", TensorData.ofLongs(new long[] {2, 4}, X),
                    "y", TensorData.ofLongs(new long[] {4}, Y)), 2));

            assertThat(out.get("cumsum").dtype()).isEqualTo(DType.INT64);
            assertThat(out.get("cumsum").shape()).containsExactly(2, 4);
            assertThat(out.get("cumsum").toLongArray()).containsExactly(1, 1, 2, 3, 5, 10, 10, 10);

            assertThat(out.get("max").shape()).containsExactly(2);
            assertThat(out.get("max").toLongArray()).containsExactly(1, 5);
            assertThat(out.get("maxKeep").shape()).containsExactly(2, 1);

            assertThat(out.get("equal").shape()).containsExactly(2, 4);
            assertThat(out.get("equal").toLongArray()).containsExactly(1, 0, 0, 1, 0, 0, 1, 0);
            assertThat(out.get("greater").toLongArray()).containsExactly(0, 0, 1, 0, 1, 1, 0, 0);
        }
    }
}
