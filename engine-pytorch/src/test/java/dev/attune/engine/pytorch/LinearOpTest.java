package dev.attune.engine.pytorch;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import dev.attune.engine.Batch;
import dev.attune.engine.EngineOptions;
import dev.attune.engine.LoweredModel;
import dev.attune.model.InputSpec;
import dev.attune.ops.DType;
import dev.attune.ops.Init;
import dev.attune.ops.Ops;
import dev.attune.ops.Parameter;
import dev.attune.ops.Scope;
import dev.attune.ops.Tensor;
import dev.attune.ops.TensorData;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * {@code linear} on the PyTorch engine for inputs of rank 2, 3 and 4, contiguous or not, with and
 * without bias, against x W^T + b computed in double: the lowering flattens inputs of rank above 2 to
 * rows so the bias is fused into the product, and this checks that the rows and the shape come back
 * as they went in.
 */
class LinearOpTest {
    static final int IN = 4;
    static final int OUT = 5;

    static final class Probe extends ProbeModel {
        final Parameter w = Scope.root(params).child("dense").param("weight", Init.zeros(), true, OUT, IN);
        final Parameter b = Scope.root(params).child("dense").param("bias", Init.zeros(), false, OUT);

        Probe() {
            super("Probe");
        }

        @Override
        public List<InputSpec> inputs() {
            return List.of(new InputSpec("x", DType.FLOAT32, 3, false));
        }

        @Override
        public List<String> outputs() {
            return List.of("rank3", "transposed", "rank4", "rank2", "noBias");
        }

        @Override
        public Map<String, Tensor> forward(Ops ops, Map<String, Tensor> in) {
            Tensor x = in.get("x"); // [2, 3, IN]
            Tensor w = ops.parameter(this.w);
            Tensor b = ops.parameter(this.b);
            Map<String, Tensor> out = new LinkedHashMap<>();
            out.put("rank3", ops.linear(x, w, b));
            out.put("transposed", ops.linear(ops.transpose(x, 1, 0, 2), w, b)); // [3, 2, IN], not contiguous
            out.put("rank4", ops.linear(ops.reshape(x, 1, 2, 3, IN), w, b));
            out.put("rank2", ops.linear(ops.reshape(x, 6, IN), w, b));
            out.put("noBias", ops.linear(x, w, null));
            return out;
        }
    }

    @Test
    void everyRankGivesRowsTimesWeightPlusBiasInItsOwnShape() {
        float[] x = new float[2 * 3 * IN];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) Math.sin(1.3 * i + 0.2);
        }
        float[] w = new float[OUT * IN];
        for (int i = 0; i < w.length; i++) {
            w[i] = (float) Math.cos(0.7 * i) * 0.5f;
        }
        float[] b = {0.1f, -0.2f, 0.3f, -0.4f, 0.5f};
        Probe probe = new Probe();
        try (LoweredModel m = new PyTorchEngineProvider().create().lower(probe,
                p -> TensorData.ofFloats(p.shape(), p.name().endsWith("weight") ? w : b), EngineOptions.defaults())) {
            Map<String, TensorData> out = m.predict(new Batch(Map.of(
                    "x", TensorData.ofFloats(new long[] {2, 3, IN}, x)), 2));

            assertThat(out.get("rank3").shape()).containsExactly(2, 3, OUT);
            assertThat(out.get("transposed").shape()).containsExactly(3, 2, OUT);
            assertThat(out.get("rank4").shape()).containsExactly(1, 2, 3, OUT);
            assertThat(out.get("rank2").shape()).containsExactly(6, OUT);
            assertThat(out.get("noBias").shape()).containsExactly(2, 3, OUT);

            float[] rank3 = out.get("rank3").toFloatArray();
            float[] transposed = out.get("transposed").toFloatArray();
            float[] noBias = out.get("noBias").toFloatArray();
            for (int i = 0; i < 2; i++) {
                for (int j = 0; j < 3; j++) {
                    int row = i * 3 + j;
                    int transposedRow = j * 2 + i;
                    for (int o = 0; o < OUT; o++) {
                        double dot = 0;
                        for (int k = 0; k < IN; k++) {
                            dot += (double) x[row * IN + k] * w[o * IN + k];
                        }
                        assertThat(rank3[row * OUT + o]).isCloseTo((float) (dot + b[o]), within(1e-5f));
                        assertThat(transposed[transposedRow * OUT + o]).isCloseTo((float) (dot + b[o]), within(1e-5f));
                        assertThat(noBias[row * OUT + o]).isCloseTo((float) dot, within(1e-5f));
                    }
                }
            }
            assertThat(out.get("rank4").toFloatArray()).containsExactly(rank3);
            assertThat(out.get("rank2").toFloatArray()).containsExactly(rank3);
        }
    }
}
