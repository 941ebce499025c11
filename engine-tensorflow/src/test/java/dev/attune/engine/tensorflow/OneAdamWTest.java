package dev.attune.engine.tensorflow;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import dev.attune.core.train.AdamW;
import dev.attune.core.train.OptimizerSettings;
import dev.attune.core.train.OptimizerState;
import dev.attune.engine.Batch;
import dev.attune.engine.EngineOptions;
import dev.attune.engine.EngineProvider;
import dev.attune.engine.LoweredModel;
import dev.attune.engine.TrainingSession;
import dev.attune.engine.pytorch.PyTorchEngineProvider;
import dev.attune.error.InvalidCheckpointException;
import dev.attune.model.ModelDefinition.InputSpec;
import dev.attune.model.ModelConfig;
import dev.attune.model.ModelDefinition;
import dev.attune.ops.DType;
import dev.attune.ops.Parameter.Init;
import dev.attune.ops.Ops;
import dev.attune.ops.Parameter;
import dev.attune.ops.ParameterSet;
import dev.attune.ops.ParameterSet.Scope;
import dev.attune.ops.Tensor;
import dev.attune.ops.TensorData;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * AdamW is written once ({@link AdamW}) and run by both engines: PyTorch calls its update eagerly,
 * TensorFlow traces it into the graph once. With decay and no-decay parameters, two learning-rate
 * groups, clipping, a parameter frozen from the start, one paused for two steps (gradual
 * unfreezing), one the loss never reaches, and gradient accumulation, both engines take the same
 * steps within float32 rounding; the optimizer state of one engine resumes on the other; and the
 * TensorFlow graph does not grow with the steps.
 */
class OneAdamWTest {
    static final float[] X = {0.5f, -1f, 2f, 1.5f, 0.25f, -0.75f, -0.3f, 0.8f, 1.1f, 0.9f, -1.4f, 0.2f}; // [4, 3]
    static final float[] TARGET = {1f, -2f, 0.5f, 3f, -1f, 0.25f, 2f, -0.5f}; // [4, 2]

    /** Two linear layers, y = W2 tanh(W1 x + b1) + b2, mean squared error; one parameter unused. */
    static final class TwoLayers implements ModelDefinition {
        final ParameterSet params = new ParameterSet();
        final Parameter w1 = Scope.root(params).child("l1").param("weight", Init.zeros(), true, 3, 3);
        final Parameter b1 = Scope.root(params).child("l1").param("bias", Init.zeros(), false, 3);
        final Parameter w2 = Scope.root(params).child("l2").param("weight", Init.zeros(), true, 2, 3);
        final Parameter b2 = Scope.root(params).child("l2").param("bias", Init.zeros(), false, 2);
        final Parameter spare = Scope.root(params).child("spare").param("weight", Init.zeros(), true, 2);

        @Override
        public ModelConfig config() {
            return ModelConfig.of(Map.of("model_type", "two_layers"), "test");
        }

        @Override
        public String architecture() {
            return "TwoLayers";
        }

        @Override
        public String baseModelPrefix() {
            return "";
        }

        @Override
        public ParameterSet parameters() {
            return params;
        }

        @Override
        public List<InputSpec> inputs() {
            return List.of(new InputSpec("x", DType.FLOAT32, 2, false), new InputSpec("t", DType.FLOAT32, 2, true));
        }

        @Override
        public List<String> outputs() {
            return List.of("y", "loss");
        }

        @Override
        public Map<String, Tensor> forward(Ops ops, Map<String, Tensor> in) {
            Tensor h = ops.tanh(ops.linear(in.get("x"), ops.parameter(w1), ops.parameter(b1)));
            Tensor y = ops.linear(h, ops.parameter(w2), ops.parameter(b2));
            return Map.of("y", y, "loss", ops.meanSquaredError(y, in.get("t")));
        }
    }

    static TensorData initial(Parameter p) {
        float[] v = new float[Math.toIntExact(p.size())];
        int seed = p.name().hashCode();
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) Math.sin(seed * 0.001 + i * 1.3) * 0.6f;
        }
        return TensorData.ofFloats(p.shape(), v);
    }

    /** Rows [from, from + 2) of the data. */
    static Batch half(int from) {
        float[] x = new float[6];
        float[] t = new float[4];
        System.arraycopy(X, from * 3, x, 0, 6);
        System.arraycopy(TARGET, from * 2, t, 0, 4);
        return new Batch(Map.of("x", TensorData.ofFloats(new long[] {2, 3}, x),
                "t", TensorData.ofFloats(new long[] {2, 2}, t)), 2);
    }

    static OptimizerSettings settings(TwoLayers def) {
        // layer 1 at half the learning rate (layer-wise decay), l1.bias frozen from the start, clipping active
        return new OptimizerSettings(0.9, 0.999, 1e-8, 0.1, 0.5, Set.of(def.b1.name()),
                Map.of(def.w1.name(), 0.5, def.b1.name(), 0.5));
    }

    static LoweredModel lower(EngineProvider engine, TwoLayers def) {
        return engine.create().lower(def, OneAdamWTest::initial, new EngineOptions(dev.attune.engine.EngineOptions.DeviceSpec.CPU, 1, 42));
    }

    /** One step: two accumulated half batches, l2.weight paused during steps 3 and 4. */
    static float step(AdamW adam, TwoLayers def, int step) {
        adam.setFrozen(step == 3 || step == 4 ? Set.of(def.w2.name()) : Set.of());
        adam.session().forwardBackward(half(0), 0.5f);
        adam.session().forwardBackward(half(2), 0.5f);
        return adam.step(0.05 * (1 - step / 10.0));
    }

    static Map<String, float[]> values(LoweredModel m, TwoLayers def) {
        Map<String, float[]> out = new LinkedHashMap<>();
        for (Parameter p : def.parameters().all()) {
            out.put(p.name(), m.read(p).toFloatArray());
        }
        return out;
    }

    /** Float32 rounding of values near 1 after a few steps: the engines' kernels sum in other orders. */
    static void assertClose(Map<String, float[]> actual, Map<String, float[]> expected, String when) {
        assertThat(actual.keySet()).containsExactlyElementsOf(expected.keySet());
        for (String k : expected.keySet()) {
            float[] a = actual.get(k);
            float[] e = expected.get(k);
            assertThat(a).as("%s %s", k, when).hasSameSizeAs(e);
            for (int i = 0; i < e.length; i++) {
                assertThat(a[i]).as("%s[%d] %s", k, i, when).isCloseTo(e[i], within(2e-6f * (1 + Math.abs(e[i]))));
            }
        }
    }

    @Test
    void bothEnginesTakeTheSameStepsAndResumeEachOthersState() {
        TwoLayers def = new TwoLayers();
        try (LoweredModel pt = lower(new PyTorchEngineProvider(), def);
                LoweredModel tf = lower(new TensorFlowEngineProvider(), def);
                AdamW onPt = new AdamW(pt, settings(def));
                AdamW onTf = new AdamW(tf, settings(def))) {
            assertThat(onTf.session().parameters()).containsExactlyElementsOf(onPt.session().parameters())
                    .doesNotContain(def.b1).contains(def.spare);
            Map<String, float[]> start = values(pt, def);
            Map<String, float[]> before = start;
            for (int step = 1; step <= 6; step++) {
                float normPt = step(onPt, def, step);
                float normTf = step(onTf, def, step);
                assertThat(normTf).as("gradient norm at step %d", step).isCloseTo(normPt, within(1e-6f * (1 + normPt)));
                Map<String, float[]> now = values(pt, def);
                assertClose(values(tf, def), now, "after step " + step);
                // frozen from the start, never reached by the loss, or paused: left exactly as they were
                assertThat(now.get(def.b1.name())).containsExactly(start.get(def.b1.name()));
                assertThat(now.get(def.spare.name())).containsExactly(start.get(def.spare.name()));
                if (step == 3 || step == 4) {
                    assertThat(now.get(def.w2.name())).containsExactly(before.get(def.w2.name()));
                } else {
                    assertThat(now.get(def.w2.name())).isNotEqualTo(before.get(def.w2.name()));
                }
                assertThat(now.get(def.w1.name())).isNotEqualTo(before.get(def.w1.name()));
                before = now;
            }
            assertThat(onPt.steps()).isEqualTo(6);
            assertThat(onTf.steps()).isEqualTo(6);
            OptimizerState fromTf = onTf.state();
            OptimizerState fromPt = onPt.state();
            assertThat(fromTf.tensors().keySet()).containsExactlyElementsOf(fromPt.tensors().keySet())
                    .contains("exp_avg/l2.weight", "exp_avg_sq/l1.weight").doesNotContain("exp_avg/l1.bias");
            for (String k : fromPt.tensors().keySet()) {
                float[] e = fromPt.tensors().get(k).toFloatArray();
                float[] a = fromTf.tensors().get(k).toFloatArray();
                for (int i = 0; i < e.length; i++) {
                    assertThat(a[i]).as("%s[%d]", k, i).isCloseTo(e[i], within(2e-6f * (1 + Math.abs(e[i]))));
                }
            }

            // each engine resumes the other's checkpoint and both continue alike
            Map<String, TensorData> ptParams = new HashMap<>();
            Map<String, TensorData> tfParams = new HashMap<>();
            for (Parameter p : def.parameters().all()) {
                ptParams.put(p.name(), pt.read(p));
                tfParams.put(p.name(), tf.read(p));
            }
            onPt.restore(tfParams, fromTf);
            onTf.restore(ptParams, fromPt);
            for (int step = 7; step <= 9; step++) {
                step(onPt, def, step);
                step(onTf, def, step);
                assertClose(values(tf, def), values(pt, def), "after resumed step " + step);
            }
            assertThat(onTf.steps()).isEqualTo(9);
        }
    }

    static int nodes(LoweredModel tf) {
        int n = 0;
        for (Iterator<?> it = ((TfLoweredModel) tf).graph().operations(); it.hasNext(); it.next()) {
            n++;
        }
        return n;
    }

    @Test
    void theTensorFlowGraphIsBuiltOnceAndDoesNotGrowWithTheSteps() {
        TwoLayers def = new TwoLayers();
        try (LoweredModel tf = lower(new TensorFlowEngineProvider(), def);
                AdamW adam = new AdamW(tf, settings(def))) {
            step(adam, def, 1);
            int afterFirst = nodes(tf);
            List<Float> norms = new ArrayList<>();
            for (int step = 2; step <= 8; step++) {
                norms.add(step(adam, def, step));
                adam.restore(values(tf, def).entrySet().stream().collect(java.util.stream.Collectors.toMap(
                        Map.Entry::getKey, e -> TensorData.ofFloats(def.parameters().get(e.getKey()).orElseThrow().shape(),
                                e.getValue()))), adam.state());
                assertThat(nodes(tf)).as("graph nodes after step %d", step).isEqualTo(afterFirst);
            }
            assertThat(norms).allMatch(n -> n > 0 && Float.isFinite(n));
        }
    }

    @Test
    void aBadCheckpointOrHyperIsRefusedAndChangesNothing() {
        TwoLayers def = new TwoLayers();
        for (EngineProvider engine : List.of(new PyTorchEngineProvider(), new TensorFlowEngineProvider())) {
            try (LoweredModel m = lower(engine, def); AdamW adam = new AdamW(m, settings(def))) {
                step(adam, def, 1);
                Map<String, float[]> before = values(m, def);
                OptimizerState state = adam.state();
                Map<String, TensorData> params = new HashMap<>();
                for (Parameter p : def.parameters().all()) {
                    params.put(p.name(), TensorData.ofFloats(p.shape(), new float[Math.toIntExact(p.size())]));
                }
                Map<String, TensorData> missing = new LinkedHashMap<>(state.tensors());
                missing.remove("exp_avg_sq/l2.bias");
                assertThatThrownBy(() -> adam.restore(params, new OptimizerState(1, missing)))
                        .as(engine.name()).isInstanceOf(InvalidCheckpointException.class)
                        .hasMessageContaining("exp_avg_sq/l2.bias");
                assertThat(values(m, def).get(def.w1.name())).as(engine.name()).containsExactly(before.get(def.w1.name()));

                TrainingSession.Program reads = adam.session().compile((ops, p) -> {
                    ops.mulInPlace(ops.slot(AdamW.FIRST_MOMENT, p), ops.hyper("factor"));
                    return null;
                });
                adam.session().forwardBackward(half(0), 1f);
                assertThatThrownBy(() -> reads.run(Map.of("other", 1.0))).as(engine.name())
                        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("factor");
                assertThatThrownBy(() -> adam.session().compile((ops, p) -> {
                    ops.addInPlace(ops.hyper("h"), ops.parameter(p));
                    return null;
                }).run(Map.of("h", 1.0))).as(engine.name()).isInstanceOf(IllegalArgumentException.class);
                // a program that does run: moments scaled in place, on active parameters only
                float[] m1 = adam.state().tensors().get("exp_avg/l1.weight").toFloatArray();
                assertThat(reads.run(Map.of("factor", 2.0))).isZero();
                float[] m2 = adam.state().tensors().get("exp_avg/l1.weight").toFloatArray();
                for (int i = 0; i < m1.length; i++) {
                    assertThat(m2[i]).as(engine.name()).isEqualTo(m1[i] * 2);
                }
            }
        }
    }
}
