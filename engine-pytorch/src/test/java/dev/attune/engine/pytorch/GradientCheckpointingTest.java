package dev.attune.engine.pytorch;

import static org.assertj.core.api.Assertions.assertThat;

import dev.attune.Attune;
import dev.attune.engine.Batch;
import dev.attune.engine.EngineOptions.DeviceSpec;
import dev.attune.engine.TrainingSession;
import dev.attune.model.FineTunedModel;
import dev.attune.model.PretrainedModel;
import dev.attune.ops.Parameter;
import dev.attune.ops.TensorData;
import dev.attune.task.Task;
import dev.attune.testing.SharedFiles;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Gradient checkpointing recomputes each layer in the backward pass and gives the same gradients,
 * bit for bit, as keeping every activation, with dropout active: the recomputation replays the
 * masks of the forward pass. Each family's fixture (dropout 0.1 in its config but Llama's) trains one batch
 * both ways from the same weights and seed; every parameter's gradient is compared exactly.
 */
class GradientCheckpointingTest {
    static Attune attune;

    @BeforeAll
    static void start() {
        attune = Attune.builder().engine("pytorch").device(DeviceSpec.CPU).numThreads(1).build();
    }

    @AfterAll
    static void stop() {
        attune.close();
    }

    static Stream<Arguments> families() {
        // Llama's fixture has no dropout (attention_dropout 0, as Llama checkpoints ship)
        return Stream.of(Arguments.of("bert-seqcls", true), Arguments.of("distilbert-seqcls", true),
                Arguments.of("gpt2-seqcls", true), Arguments.of("llama-seqcls", false), Arguments.of("roberta-seqcls", true));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("families")
    void gradientsAreBitIdenticalWithAndWithoutRecomputation(String fixture, boolean dropout) {
        try (PretrainedModel base = attune.load(SharedFiles.path("fixtures/hf/" + fixture))) {
            Batch batch = batch(base.config().requireInt("vocab_size"), 3, 12);
            Map<String, float[]> kept = gradients(base, batch, false, 7);
            Map<String, float[]> recomputed = gradients(base, batch, true, 7);
            assertThat(recomputed.keySet()).containsExactlyElementsOf(kept.keySet());
            assertThat(kept).hasSizeGreaterThan(4);
            for (String name : kept.keySet()) {
                assertThat(recomputed.get(name)).as(fixture + " gradient of " + name).containsExactly(kept.get(name));
            }
            if (dropout) {
                // dropout was active: another seed draws other masks and so another loss
                assertThat(gradients(base, batch, true, 8).get("loss")).isNotEqualTo(kept.get("loss"));
            }
        }
    }

    static Stream<Arguments> languageModels() {
        return Stream.of(Arguments.of("gpt2-lm", "n_layer"), Arguments.of("llama-lm", "num_hidden_layers"));
    }

    /**
     * A causal language model's head asks its layers for their keys and values (the cache that
     * generation feeds back) only outside training: asking kept every layer out of checkpointing, so
     * {@code --gradient-checkpointing} did nothing for GPT-2, Llama, Qwen or Mistral language models.
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource("languageModels")
    void languageModelsRecomputeEveryLayer(String fixture, String layersKey) {
        try (PretrainedModel base = attune.load(SharedFiles.path("fixtures/hf/" + fixture))) {
            int vocab = base.config().requireInt("vocab_size");
            Task task = attune.task("causal-lm", Map.of());
            Batch batch = lmBatch(vocab, 2, 10);
            Map<String, float[]> kept = gradients(base, task, batch, false, 7);
            long before = EagerOps.RECOMPUTED_SEGMENTS.get();
            Map<String, float[]> recomputed = gradients(base, task, batch, true, 7);
            assertThat(EagerOps.RECOMPUTED_SEGMENTS.get() - before).as("layers recomputed")
                    .isEqualTo(base.config().requireInt(layersKey));
            assertThat(recomputed.keySet()).containsExactlyElementsOf(kept.keySet());
            for (String name : kept.keySet()) {
                assertThat(recomputed.get(name)).as(fixture + " gradient of " + name).containsExactly(kept.get(name));
            }
        }
    }

    /** One forward and backward pass from the base weights; every parameter's gradient, by name. */
    private static Map<String, float[]> gradients(PretrainedModel base, Batch batch, boolean checkpointing, long seed) {
        Task task = attune.task("text-classification", Map.of())
                .withLabels(base.config().labels().orElse(List.of("a", "b")));
        return gradients(base, task, batch, checkpointing, seed);
    }

    private static Map<String, float[]> gradients(PretrainedModel base, Task task, Batch batch, boolean checkpointing,
            long seed) {
        try (FineTunedModel m = attune.prepare(base, task, 16, 3);
                TrainingSession s = m.lowered().startTraining(Set.of(), List.of())) {
            assertThat(s.setGradientCheckpointing(checkpointing)).isTrue();
            s.reseed(seed);
            float loss = s.forwardBackward(batch, 1f);
            assertThat(loss).isFinite();
            // the value becomes the gradient (0 * value + gradient), which is then read back exactly
            s.compile((ops, p) -> {
                ops.mulInPlace(ops.parameter(p), ops.scalar(0f));
                ops.addInPlace(ops.parameter(p), ops.gradient(p));
                return null;
            }).run(Map.of());
            Map<String, float[]> out = new LinkedHashMap<>();
            for (Parameter p : s.parameters()) {
                TensorData g = m.lowered().read(p);
                out.put(p.name(), g.toFloatArray());
            }
            out.put("loss", new float[] {loss});
            return out;
        }
    }

    /** Next-token targets as the causal-lm task's collator makes them: the last position predicts nothing. */
    private static Batch lmBatch(int vocab, int rows, int length) {
        Random rnd = new Random(9);
        long[] ids = new long[rows * length];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = 3 + rnd.nextInt(vocab - 3);
        }
        long[] next = new long[ids.length];
        long[] targets = new long[ids.length];
        for (int r = 0; r < rows; r++) {
            for (int t = 0; t < length; t++) {
                int at = r * length + t;
                next[at] = t + 1 < length ? ids[at + 1] : 0;
                targets[at] = t + 1 < length ? ids[at + 1] : -100;
            }
        }
        Map<String, TensorData> m = new LinkedHashMap<>();
        m.put("input_ids", TensorData.ofLongs(new long[] {rows, length}, ids));
        m.put("next_ids", TensorData.ofLongs(new long[] {rows, length}, next));
        m.put("labels", TensorData.ofLongs(new long[] {rows, length}, targets));
        return new Batch(m, rows);
    }

    private static Batch batch(int vocab, int rows, int length) {
        Random rnd = new Random(5);
        long[] ids = new long[rows * length];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = 3 + rnd.nextInt(vocab - 3);
        }
        Map<String, TensorData> t = new LinkedHashMap<>();
        t.put("input_ids", TensorData.ofLongs(new long[] {rows, length}, ids));
        t.put("labels", TensorData.ofLongs(new long[] {rows}, new long[] {0, 1, 1}));
        return new Batch(t, rows);
    }
}
