package dev.attune.engine.pytorch;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.attune.Attune;
import dev.attune.core.train.AdamW;
import dev.attune.core.train.Checkpoints;
import dev.attune.core.train.DefaultTrainer;
import dev.attune.core.train.GradScaler;
import dev.attune.core.train.OptimizerSettings;
import dev.attune.engine.Batch;
import dev.attune.engine.EngineOptions;
import dev.attune.engine.EngineOptions.DeviceSpec;
import dev.attune.engine.LoweredModel;
import dev.attune.error.ConfigurationException;
import dev.attune.model.FineTunedModel;
import dev.attune.model.PretrainedModel;
import dev.attune.ops.DType;
import dev.attune.ops.Tensor;
import dev.attune.ops.ParameterSet.Scope;
import dev.attune.ops.Parameter.Init;
import dev.attune.ops.Parameter;
import dev.attune.ops.Ops;
import dev.attune.model.ModelDefinition.InputSpec;
import dev.attune.ops.TensorData;
import dev.attune.task.Dataset;
import dev.attune.task.Task;
import dev.attune.train.TrainingConfig;
import dev.attune.train.TrainingConfig.EvalStrategy;
import dev.attune.train.TrainingControl;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Mixed precision on the PyTorch engine (autocast in bf16 and fp16, fp16's loss scaling) on the tiny
 * fixture BERT: training follows float32's losses, an overflowing step is skipped and halves the
 * scale, the scaler survives a checkpoint so a resumed fp16 run is bit-identical, and inference in a
 * low precision stays near float32's logits with float32 outputs (no bfloat16 reaches Java).
 */
class MixedPrecisionTest {
    static Attune attune;
    static PretrainedModel base;

    @TempDir
    Path tmp;
    Task task;
    Dataset train;

    @BeforeAll
    static void start() {
        attune = Attune.builder().device(DeviceSpec.CPU).build();
        base = attune.load(FineTuneTest.FIXTURE);
    }

    @AfterAll
    static void stop() {
        base.close();
        attune.close();
    }

    @BeforeEach
    void data() throws IOException {
        Task t = attune.task("text-classification", Map.of("positive_label", "spam"));
        train = t.read(FineTuneTest.spamData(tmp, "train.tsv", 40, 1));
        task = t.withLabels(t.inferLabels(train));
    }

    TrainingConfig.Builder common(Path out, DType precision) {
        return TrainingConfig.builder().outputDir(out).learningRate(1e-3).maxSteps(50).perDeviceTrainBatchSize(8)
                .loggingSteps(1).maxLength(16).disableTqdm(true).evalStrategy(EvalStrategy.NO).tensorboard(false)
                .mixedPrecision(precision);
    }

    List<Double> losses(Path out) throws IOException {
        ObjectMapper json = new ObjectMapper();
        List<Double> losses = new ArrayList<>();
        for (String line : Files.readAllLines(out.resolve(DefaultTrainer.LOG_FILE))) {
            JsonNode n = json.readTree(line);
            if (n.has("loss") && n.has("step")) {
                losses.add(n.get("loss").asDouble());
            }
        }
        return losses;
    }

    Map<String, float[]> fit(TrainingConfig config) {
        try (FineTunedModel m = attune.prepare(base, task, 16, 3)) {
            new DefaultTrainer(config, new TrainingControl()).train(m, train, null);
            assertThat(m.lowered().computeType()).as("autocast ends with the run").isEqualTo(DType.FLOAT32);
            Map<String, float[]> w = new LinkedHashMap<>();
            m.stateDict().forEach((k, v) -> w.put(k, v.toFloatArray()));
            return w;
        }
    }

    @Test
    void fiftyStepsInFp16AndBf16FollowFloat32() throws IOException {
        fit(common(tmp.resolve("fp32"), DType.FLOAT32).build());
        fit(common(tmp.resolve("fp16"), DType.FLOAT16).build());
        fit(common(tmp.resolve("bf16"), DType.BFLOAT16).build());
        List<Double> full = losses(tmp.resolve("fp32"));
        List<Double> half = losses(tmp.resolve("fp16"));
        List<Double> brain = losses(tmp.resolve("bf16"));
        assertThat(full).hasSize(50);
        assertThat(half).hasSize(50);
        assertThat(brain).hasSize(50);
        double worstHalf = 0;
        double worstBrain = 0;
        for (int i = 0; i < 50; i++) {
            worstHalf = Math.max(worstHalf, Math.abs(half.get(i) - full.get(i)));
            worstBrain = Math.max(worstBrain, Math.abs(brain.get(i) - full.get(i)));
        }
        assertThat(worstHalf).as("fp16 vs fp32, largest per-step loss difference").isLessThan(1e-2);
        // bfloat16 keeps 8 significant bits (float16 11): its products are 8x coarser
        assertThat(worstBrain).as("bf16 vs fp32, largest per-step loss difference").isLessThan(5e-2);
        assertThat(full.get(49)).isLessThan(full.get(0)); // the run learns at all
        // the low-precision runs computed something else: autocast was on
        assertThat(half).isNotEqualTo(full);
        assertThat(brain).isNotEqualTo(full);
        // fp16 logs its loss scale; nothing overflowed here, so it stayed at GradScaler's initial scale
        String last = Files.readAllLines(tmp.resolve("fp16").resolve(DefaultTrainer.LOG_FILE)).stream()
                .filter(l -> l.contains("\"step\":50")).findFirst().orElseThrow();
        assertThat(new ObjectMapper().readTree(last).get("loss_scale").asDouble()).isEqualTo(GradScaler.INIT_SCALE);
    }

    @Test
    void anOverflowingStepIsSkippedAndHalvesTheScale() {
        AdamWTest.Tiny def = new AdamWTest.Tiny();
        try (LoweredModel m = new PyTorchEngineProvider().create().lower(def,
                p -> TensorData.ofFloats(p.shape(), p.name().endsWith("weight") ? AdamWTest.W0 : AdamWTest.B0),
                EngineOptions.defaults());
                AdamW adamW = new AdamW(m, new OptimizerSettings(0.9, 0.999, 1e-8, 0.01, 1.0, Set.of()))) {
            m.setComputeType(DType.FLOAT16);
            Batch batch = new Batch(Map.of(
                    "x", TensorData.ofFloats(new long[] {2, 3}, AdamWTest.X),
                    "t", TensorData.ofFloats(new long[] {2, 2}, AdamWTest.TARGET)), 2);
            GradScaler scaler = new GradScaler(Math.pow(2, 126), 7); // a scale that overflows float32 gradients
            float[] before = m.read(def.w).toFloatArray();

            float loss = adamW.session().forwardBackward(batch, (float) scaler.scale());
            float norm = adamW.stepScaled(1e-2, scaler.scale());
            scaler.update(!Float.isFinite(norm));

            assertThat(loss).isFinite(); // the loss itself is reported unscaled
            assertThat(Float.isFinite(norm)).as("the gradients overflowed").isFalse();
            assertThat(m.read(def.w).toFloatArray()).as("skipped: weights unchanged").isEqualTo(before);
            assertThat(adamW.steps()).as("a skipped step does not count for bias correction").isZero();
            assertThat(scaler.scale()).isEqualTo(Math.pow(2, 125));
            assertThat(scaler.growthTracker()).isZero();
            assertThat(scaler.skipped()).isEqualTo(1);

            // the next step at a scale float16 holds goes through and counts (at GradScaler's initial 65536
            // this model's float16 gradients overflow too: 2 (y - t) / 4 * 65536 > 65504)
            adamW.session().forwardBackward(batch, 1024f);
            float ok = adamW.stepScaled(1e-2, 1024);
            assertThat(ok).isFinite().isPositive();
            assertThat(adamW.steps()).isEqualTo(1);
            assertThat(m.read(def.w).toFloatArray()).isNotEqualTo(before);
        }
    }

    @Test
    void scalerGrowsAfterTwoThousandGoodStepsAndSurvivesItsState() {
        GradScaler s = new GradScaler();
        for (int i = 0; i < GradScaler.GROWTH_INTERVAL - 1; i++) {
            s.update(false);
        }
        assertThat(s.scale()).isEqualTo(65536.0);
        s.update(false);
        assertThat(s.scale()).isEqualTo(131072.0);
        assertThat(s.growthTracker()).isZero();
        s.update(false);
        GradScaler back = GradScaler.fromState(s.state()).orElseThrow();
        assertThat(back.scale()).isEqualTo(131072.0);
        assertThat(back.growthTracker()).isEqualTo(1);
        assertThat(GradScaler.fromState(Map.of())).isEmpty();
    }

    @Test
    void aResumedFp16RunIsBitIdenticalAndKeepsTheScaler() throws IOException {
        Path outA = tmp.resolve("a");
        Map<String, float[]> a = fit(common(outA, DType.FLOAT16).maxSteps(10).saveSteps(5).build());
        Path ckpt = outA.resolve("checkpoint-5");
        Map<String, TensorData> optimizer = Checkpoints.readTensors(ckpt, Checkpoints.OPTIMIZER_FILE);
        assertThat(optimizer).containsKeys(GradScaler.SCALE_KEY, GradScaler.GROWTH_TRACKER_KEY);
        assertThat(optimizer.get(GradScaler.GROWTH_TRACKER_KEY).toFloatArray()[0]).isEqualTo(5f);

        Map<String, float[]> b = fit(common(tmp.resolve("b"), DType.FLOAT16).maxSteps(10).saveSteps(5)
                .resumeFromCheckpoint(ckpt).build());
        TrainerCheckpointTest.assertBitIdentical(b, a);

        // resuming an fp16 checkpoint in float32 is refused, naming the setting
        assertThatThrownBy(() -> fit(common(tmp.resolve("c"), DType.FLOAT32).maxSteps(10).saveSteps(5)
                .resumeFromCheckpoint(ckpt).build())).hasMessageContaining("mixed_precision")
                .hasMessageContaining("FLOAT16");
    }

    @Test
    void inferenceInBf16AndFp16StaysNearFloat32WithFloat32Outputs() {
        try (FineTunedModel m = attune.prepare(base, task, 16, 3)) {
            long[] ids = {2, 17, 23, 41, 9, 3, 2, 55, 61, 3, 0, 0};
            long[] mask = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0};
            Map<String, TensorData> in = new LinkedHashMap<>();
            in.put("input_ids", TensorData.ofLongs(new long[] {2, 6}, ids));
            in.put("attention_mask", TensorData.ofLongs(new long[] {2, 6}, mask));
            Batch batch = new Batch(in, 2);
            float[] full = m.lowered().predict(batch).get("logits").toFloatArray();
            for (DType low : List.of(DType.BFLOAT16, DType.FLOAT16)) {
                m.lowered().setComputeType(low);
                TensorData logits = m.lowered().predict(batch).get("logits");
                assertThat(logits.dtype()).as(low + " outputs reach Java as float32").isEqualTo(DType.FLOAT32);
                float[] got = logits.toFloatArray();
                double worst = 0;
                for (int i = 0; i < full.length; i++) {
                    worst = Math.max(worst, Math.abs(got[i] - full[i]));
                }
                assertThat(worst).as(low + " logits vs float32").isLessThan(low == DType.FLOAT16 ? 5e-3 : 3e-2);
                assertThat(got).as(low + " computed in another precision").isNotEqualTo(full);
            }
            m.lowered().setComputeType(DType.FLOAT32);
            assertThat(m.lowered().predict(batch).get("logits").toFloatArray()).isEqualTo(full);
            assertThatThrownBy(() -> m.lowered().setComputeType(DType.INT64)).isInstanceOf(ConfigurationException.class);
        }
    }

    @org.junit.jupiter.params.ParameterizedTest(name = "{0}")
    @org.junit.jupiter.params.provider.ValueSource(strings = {"llama-lm", "gpt2-lm"})
    void generationCarriesTheKeyValueCacheInTheComputeType(String fixture) throws IOException {
        JsonNode g = new ObjectMapper().readTree(dev.attune.testing.SharedFiles.path("fixtures/hf/" + fixture
                + "/reference.json").toFile()).get("generate");
        long[] prompt = new ObjectMapper().convertValue(g.get("prompt_ids"), long[].class);
        long[] hfGreedy = new ObjectMapper().convertValue(g.get("greedy_ids"), long[].class);
        var settings = dev.attune.generate.GenerationConfig.builder().maxNewTokens(g.get("max_new_tokens").asInt())
                .build();
        try (PretrainedModel lm = attune.load(dev.attune.testing.SharedFiles.path("fixtures/hf/" + fixture));
                LoweredModel m = attune.lower(lm, new dev.attune.model.HeadSpec(dev.attune.model.HeadSpec.HeadKind.CAUSAL_LM, 0))) {
            Batch first = new Batch(Map.of("input_ids", TensorData.ofLongs(new long[] {1, prompt.length}, prompt)), 1);
            Map<String, TensorData> fp32 = m.predict(first);
            assertThat(fp32.keySet()).as("a decoder with a cache").anyMatch(k -> k.startsWith("present."));
            fp32.forEach((k, v) -> assertThat(v.dtype()).as("float32 run: %s", k).isEqualTo(DType.FLOAT32));
            List<Double> margins = new ArrayList<>(); // top-1 minus top-2 logit of each float32 step
            long[] greedy = new dev.attune.core.generate.Generator(m).generate(prompt, settings, (i, logits, token) -> {
                float[] sorted = logits.clone();
                java.util.Arrays.sort(sorted);
                margins.add((double) sorted[sorted.length - 1] - sorted[sorted.length - 2]);
            }, null);
            // random weights leave some steps near a tie, which any rounding may flip: the ids must agree
            // up to the first step whose float32 margin is below what bfloat16 moves a logit by here
            int sure = 0;
            while (sure < margins.size() && margins.get(sure) > 0.05) {
                sure++;
            }
            assertThat(sure).as("%s steps with a clear winner (the cache is read from the second)", fixture)
                    .isGreaterThanOrEqualTo(4);
            long[] sureIds = java.util.Arrays.copyOf(greedy, prompt.length + sure);
            // transformers stops at the end token, which these settings do not name: its ids are a prefix
            assertThat(greedy).as("float32 greedy ids").startsWith(hfGreedy);
            for (DType low : List.of(DType.BFLOAT16, DType.FLOAT16)) {
                m.setComputeType(low);
                Map<String, TensorData> step = m.predict(first);
                assertThat(step.get("logits").dtype()).as("%s logits reach Java as float32", low).isEqualTo(DType.FLOAT32);
                Map<String, TensorData> next = new LinkedHashMap<>();
                next.put("input_ids", TensorData.ofLongs(new long[] {1, 1}, new long[] {hfGreedy[prompt.length]}));
                step.forEach((k, v) -> {
                    if (k.startsWith("present.")) {
                        assertThat(v.dtype()).as("%s cache %s", low, k).isEqualTo(low);
                        // the cached values are the float32 run's to the precision's rounding
                        float[] want = fp32.get(k).toFloatArray();
                        float[] got = v.toFloatArray();
                        for (int i = 0; i < want.length; i++) {
                            assertThat((double) Math.abs(got[i] - want[i])).as("%s %s [%d]", low, k, i)
                                    .isLessThanOrEqualTo(Math.abs(want[i]) * (low == DType.FLOAT16 ? 2e-3 : 1.6e-2) + 2e-2);
                        }
                        next.put("past_key_values." + k.substring("present.".length()), v);
                    }
                });
                // the cache goes back in its own type, and comes out one position longer, still in it
                Map<String, TensorData> second = m.predict(new Batch(next, 1));
                second.forEach((k, v) -> {
                    if (k.startsWith("present.")) {
                        assertThat(v.dtype()).as("%s second-step cache %s", low, k).isEqualTo(low);
                        assertThat(v.shape()[2]).as("%s cached positions", k).isEqualTo(prompt.length + 1L);
                    }
                });
                assertThat(new dev.attune.core.generate.Generator(m).generate(prompt, settings))
                        .as("%s greedy ids, cache carried in %s", fixture, low).startsWith(sureIds);
            }
        }
    }

    /** y = x W^T + b carried through bfloat16 and back: a bfloat16 output, a bfloat16 value in the loss. */
    static class ThroughBf16 extends ProbeModel {
        final Parameter w = Scope.root(params).child("dense").param("weight", Init.zeros(), true, 2, 3);
        final Parameter b = Scope.root(params).child("dense").param("bias", Init.zeros(), false, 2);

        ThroughBf16() {
            super("ThroughBf16");
        }

        @Override
        public List<InputSpec> inputs() {
            return List.of(new InputSpec("x", DType.FLOAT32, 2, false), new InputSpec("t", DType.FLOAT32, 2, true));
        }

        @Override
        public List<String> outputs() {
            return List.of("y_bf16", "loss");
        }

        @Override
        public Map<String, Tensor> forward(Ops ops, Map<String, Tensor> in) {
            Tensor y = ops.linear(in.get("x"), ops.parameter(w), ops.parameter(b));
            Tensor low = ops.cast(y, DType.BFLOAT16);
            Tensor dropped = ops.dropout(low, 0.1f); // a mask drawn for a bfloat16 input
            Map<String, Tensor> out = new LinkedHashMap<>();
            out.put("y_bf16", low);
            if (in.containsKey("t")) {
                out.put("loss", ops.meanSquaredError(ops.cast(dropped, DType.FLOAT32), in.get("t")));
            }
            return out;
        }
    }

    /** bfloat16 bits of a float (round toward zero, as a stored checkpoint may hold them). */
    static TensorData bf16(long[] shape, float[] values) {
        java.nio.ByteBuffer bytes = java.nio.ByteBuffer.allocate(values.length * 2).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        for (float v : values) {
            bytes.putShort((short) (Float.floatToRawIntBits(v) >>> 16));
        }
        bytes.flip();
        return new TensorData(DType.BFLOAT16, shape, bytes);
    }

    @Test
    void bfloat16CrossesEveryJavaLibtorchPathWithoutCrashingTheJvm() {
        ThroughBf16 def = new ThroughBf16();
        // a bfloat16 checkpoint: widened in Java before it reaches the engine
        try (LoweredModel m = new PyTorchEngineProvider().create().lower(def,
                p -> bf16(p.shape(), p.name().endsWith("weight") ? AdamWTest.W0 : AdamWTest.B0), EngineOptions.defaults());
                AdamW adamW = new AdamW(m, new OptimizerSettings(0.9, 0.999, 1e-8, 0.0, 1.0, Set.of()))) {
            float[] w = m.read(def.w).toFloatArray();
            assertThat(m.read(def.w).dtype()).isEqualTo(DType.FLOAT32);
            assertThat(w[0]).isEqualTo(Float.intBitsToFloat(Float.floatToRawIntBits(0.1f) & 0xFFFF0000));
            Batch batch = new Batch(Map.of(
                    "x", TensorData.ofFloats(new long[] {2, 3}, AdamWTest.X),
                    "t", TensorData.ofFloats(new long[] {2, 2}, AdamWTest.TARGET)), 2);
            // a bfloat16 result to the host: widened to float32 natively, near the float32 product
            TensorData y = m.predict(new Batch(Map.of("x", batch.get("x")), 2)).get("y_bf16");
            assertThat(y.dtype()).isEqualTo(DType.FLOAT32);
            float[] yv = y.toFloatArray();
            for (int r = 0; r < 2; r++) {
                for (int o = 0; o < 2; o++) {
                    double exact = m.read(def.b).toFloatArray()[o];
                    for (int i = 0; i < 3; i++) {
                        exact += AdamWTest.X[r * 3 + i] * w[o * 3 + i];
                    }
                    assertThat(Math.abs(yv[r * 2 + o] - exact)).isLessThan(1e-2);
                }
            }
            // training through a bfloat16 value: the casts are differentiable, the gradient reaches the weights
            float loss = adamW.session().forwardBackward(batch, 1f);
            assertThat(loss).isFinite().isPositive();
            float norm = adamW.step(1e-2);
            assertThat(norm).isFinite().isPositive();
            assertThat(m.read(def.w).toFloatArray()).isNotEqualTo(w);
            // optimizer state to the host (a checkpoint) is float32
            assertThat(adamW.state().tensors().values()).allMatch(t -> t.dtype() == DType.FLOAT32);
        }
    }
}
