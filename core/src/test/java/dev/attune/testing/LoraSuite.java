package dev.attune.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.attune.Attune;
import dev.attune.engine.Batch;
import dev.attune.engine.EngineOptions.DeviceSpec;
import dev.attune.error.ConfigurationException;
import dev.attune.error.InvalidCheckpointException;
import dev.attune.formats.hf.HfSources;
import dev.attune.formats.hf.SafetensorsStore;
import dev.attune.model.FineTunedModel;
import dev.attune.model.PretrainedModel;
import dev.attune.model.TextTokenizer.Encoding;
import dev.attune.ops.TensorData;
import dev.attune.task.Dataset;
import dev.attune.task.Task;
import dev.attune.train.TrainingConfig;
import dev.attune.train.TrainingConfig.EvalStrategy;
import dev.attune.train.TrainingConfig.LoraConfig;
import dev.attune.train.TrainingConfig.SchedulerType;
import dev.attune.train.TrainingControl;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * LoRA adapters in PEFT's format on an engine, held to what Python's PEFT 0.21 computed: the adapter
 * {@code fixtures/hf/peft-lora-bert-seqcls} over {@code bert-seqcls} gives PEFT's logits, merged
 * ({@code merge_and_unload}) too; twelve AdamW steps from {@code trajectory-lora-bert/start-adapter}
 * follow PEFT's losses and end at its logits; a trained adapter saves in PEFT's layout and opens again
 * unchanged; and adapters that do not fit are refused, naming the file and key, before any step.
 * Written once; each engine runs it through a one-class subclass with its tolerances.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
public abstract class LoraSuite {
    private static final ObjectMapper JSON = new ObjectMapper();
    private Attune attune;

    /** @return the engine's name */
    protected abstract String engineName();

    /** @return how far logits may be from PEFT's (the issue: 1e-5 on PyTorch, 1e-4 on TensorFlow) */
    protected abstract Tolerance logitsTolerance();

    /** @return how far each step's loss and the final logits of the trajectory may be from PEFT's */
    protected Tolerance trajectoryTolerance() {
        return Tolerance.absolute(1e-4);
    }

    @BeforeAll
    void start() {
        attune = Attune.builder().engine(engineName()).device(DeviceSpec.CPU).numThreads(2).build();
    }

    @AfterAll
    void stop() {
        if (attune != null) {
            attune.close();
        }
    }

    public static Path fixture(String name) {
        return SharedFiles.path("fixtures/hf/" + name);
    }

    public static JsonNode json(Path file) {
        try {
            return JSON.readTree(file.toFile());
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    private PretrainedModel base(Map<String, String> overrides) {
        return attune.load(HfSources.folder(fixture("bert-seqcls")), overrides);
    }

    private Task task() {
        return attune.task("text-classification", Map.of("labels", "0,1"));
    }

    public static float[] logits(FineTunedModel model, long[] ids) {
        long[] shape = {1, ids.length};
        Map<String, TensorData> inputs = new LinkedHashMap<>();
        inputs.put("input_ids", TensorData.ofLongs(shape, ids));
        inputs.put("attention_mask", TensorData.ofLongs(shape, filled(ids.length, 1)));
        inputs.put("token_type_ids", TensorData.ofLongs(shape, filled(ids.length, 0)));
        return model.lowered().predict(new Batch(inputs, 1)).get("logits").toFloatArray();
    }

    static long[] filled(int n, long v) {
        long[] out = new long[n];
        java.util.Arrays.fill(out, v);
        return out;
    }

    public static long[] longs(JsonNode array) {
        long[] out = new long[array.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = array.get(i).asLong();
        }
        return out;
    }

    private void assertClose(float[] got, JsonNode want, Tolerance tolerance, String what) {
        assertThat(got).as(what).hasSize(want.size());
        for (int j = 0; j < got.length; j++) {
            assertThat(tolerance.allows(got[j], want.get(j).asDouble()))
                    .as("%s on %s [%d]: Attune %s, PEFT %s (%s)", what, engineName(), j, got[j], want.get(j).asDouble(),
                            tolerance)
                    .isTrue();
        }
    }

    // ---------------------------------------------------------------- PEFT's adapter, as is and merged

    @Test
    void pythonsAdapterGivesPeftsLogits() {
        Path adapter = fixture("peft-lora-bert-seqcls");
        JsonNode ref = json(adapter.resolve("reference.json"));
        try (PretrainedModel base = base(Map.of()); FineTunedModel model = attune.open(base, task(), 128, adapter)) {
            assertThat(model.adapter()).isPresent();
            assertThat(model.adapter().get().r()).isEqualTo(4);
            for (JsonNode c : ref.get("cases")) {
                assertClose(logits(model, longs(c.get("input_ids"))), c.get("logits"), logitsTolerance(),
                        "logits of '" + c.get("text").asText() + "'");
            }
            // the adapter changes the output: the base alone is not within the tolerance of PEFT's logits
            try (FineTunedModel plain = attune.prepare(base, task().withLabels(List.of("0", "1")), 128)) {
                float[] before = logits(plain, longs(ref.get("cases").get(0).get("input_ids")));
                float[] after = logits(model, longs(ref.get("cases").get(0).get("input_ids")));
                assertThat(Math.abs(before[0] - after[0]) + Math.abs(before[1] - after[1])).isGreaterThan(1e-4f);
            }
        }
    }

    @Test
    void mergedAdapterGivesPeftsMergedLogits() {
        Path adapter = fixture("peft-lora-bert-seqcls");
        JsonNode ref = json(adapter.resolve("reference.json"));
        try (PretrainedModel base = base(Map.of()); FineTunedModel model = attune.open(base, task(), 128, adapter);
                FineTunedModel merged = model.mergeAdapter()) {
            assertThat(merged.adapter()).isEmpty();
            assertThat(merged.stateDict().keySet()).noneMatch(k -> k.contains("lora_"));
            assertClose(logits(merged, longs(ref.get("cases").get(0).get("input_ids"))),
                    ref.get("merged_logits_first_case"), logitsTolerance(), "merged logits");
            for (JsonNode c : ref.get("cases")) {
                assertClose(logits(merged, longs(c.get("input_ids"))), c.get("logits"), logitsTolerance(),
                        "merged logits of '" + c.get("text").asText() + "'");
            }
        }
    }

    /**
     * PEFT's all-linear adapter over the Llama fixture (q/k/v/o and the SwiGLU projections, the
     * untied lm_head left out): the family declares nothing for LoRA, so this shows the layers are
     * found in a family added after LoRA was written. Logits per token, as is and merged.
     */
    @Test
    void pythonsAllLinearAdapterOverLlamaGivesPeftsLogits() {
        Path adapter = fixture("peft-lora-llama-lm");
        JsonNode ref = json(adapter.resolve("reference.json"));
        try (PretrainedModel base = attune.load(HfSources.folder(fixture("llama-lm")), Map.of());
                FineTunedModel model = attune.open(base, attune.task("causal-lm", Map.of()), 64, adapter);
                FineTunedModel merged = model.mergeAdapter();
                FineTunedModel plain = attune.prepare(base, attune.task("causal-lm", Map.of()), 64)) {
            assertThat(model.adapter()).isPresent();
            for (JsonNode c : ref.get("cases")) {
                long[] ids = longs(c.get("input_ids"));
                JsonNode want = flat(c.get("logits"));
                assertClose(causalLogits(model, ids), want, logitsTolerance(), "logits of '" + c.get("text").asText() + "'");
            }
            long[] first = longs(ref.get("cases").get(0).get("input_ids"));
            assertClose(causalLogits(merged, first), flat(ref.get("merged_logits_first_case")), logitsTolerance(),
                    "merged logits, first case");
            // the adapter changes the output: the base alone is far from PEFT's logits
            float[] before = causalLogits(plain, first);
            JsonNode want = flat(ref.get("cases").get(0).get("logits"));
            double far = 0;
            for (int j = 0; j < before.length; j++) {
                far = Math.max(far, Math.abs(before[j] - want.get(j).asDouble()));
            }
            assertThat(far).isGreaterThan(1e-2);
        }
    }

    /** @return a nested JSON array's numbers in row-major order */
    private static JsonNode flat(JsonNode nested) {
        com.fasterxml.jackson.databind.node.ArrayNode out = JSON.createArrayNode();
        java.util.List<JsonNode> order = new java.util.ArrayList<>();
        flatten(nested, order);
        order.forEach(out::add);
        return out;
    }

    private static void flatten(JsonNode n, java.util.List<JsonNode> out) {
        if (n.isArray()) {
            for (JsonNode e : n) {
                flatten(e, out);
            }
        } else {
            out.add(n);
        }
    }

    // ---------------------------------------------------------------- training

    @Test
    void twelveStepsFromTheStartAdapterFollowPeft(@TempDir Path dir) throws IOException {
        Path fixture = fixture("trajectory-lora-bert");
        JsonNode ref = json(fixture.resolve("trajectory.json"));
        TrainingConfig config = TrainingConfig.builder()
                .learningRate(ref.get("lr").asDouble())
                .lrSchedulerType(SchedulerType.LINEAR)
                .warmupSteps(ref.get("warmup_steps").asLong())
                .weightDecay(ref.get("weight_decay").asDouble())
                .adamEpsilon(ref.get("eps").asDouble())
                .maxGradNorm(ref.get("max_grad_norm").asDouble())
                .perDeviceTrainBatchSize(ref.get("batch_size").asInt())
                .maxSteps(ref.get("steps").asLong())
                .shuffle(false)
                .loggingSteps(1)
                .evalStrategy(EvalStrategy.NO)
                .tensorboard(false)
                .disableTqdm(true)
                .build()
                .withPeft(LoraConfig.builder().adapter(fixture.resolve("start-adapter")).build());
        assertThat(config.adamBeta1()).isEqualTo(ref.get("betas").get(0).asDouble());
        assertThat(config.adamBeta2()).isEqualTo(ref.get("betas").get(1).asDouble());
        List<Map<String, Object>> log = new ArrayList<>();
        TrainingControl control = new TrainingControl().addListener(log::add);
        Task task = task();
        Dataset train = task.read(writeExamples(ref, dir.resolve("train.jsonl")));
        Map<String, String> noDropout = Map.of("hidden_dropout_prob", "0", "attention_probs_dropout_prob", "0");
        try (PretrainedModel base = base(noDropout);
                FineTunedModel model = attune.fineTune(base, task, train, null, config, control).model()) {
            List<Map<String, Object>> steps = log.stream().filter(r -> r.containsKey("loss")).toList();
            JsonNode losses = ref.get("losses");
            assertThat(steps).hasSize(losses.size());
            for (int i = 0; i < losses.size(); i++) {
                double got = ((Number) steps.get(i).get("loss")).doubleValue();
                assertThat(trajectoryTolerance().allows(got, losses.get(i).asDouble()))
                        .as("loss of step %d on %s: Attune %s, PEFT %s", i + 1, engineName(), got, losses.get(i))
                        .isTrue();
            }
            for (int i = 0; i < ref.get("texts").size(); i++) {
                Encoding enc = model.tokenizer().encode(ref.get("texts").get(i).asText(), null, 128);
                assertClose(logits(model, enc.ids()), ref.get("final_logits").get(i), trajectoryTolerance(),
                        "final logits of text " + i);
            }
            // what trained is PEFT's list: the adapter of every layer and the classifier, nothing else
            Set<String> peftTrainable = new TreeSet<>();
            ref.get("trainable").forEach(n -> peftTrainable.add(n.asText().replace("base_model.model.", "")
                    .replace(".default", "").replace(".modules_to_save", "")));

            // saved in PEFT's layout: the same keys as PEFT's start adapter, and it opens again unchanged
            Path saved = dir.resolve("adapter");
            model.saveAdapter(saved);
            Set<String> keys = new TreeSet<>();
            try (SafetensorsStore store = SafetensorsStore.openFile(saved.resolve("adapter_model.safetensors"))) {
                keys.addAll(store.names());
            }
            Set<String> peftKeys = new TreeSet<>();
            try (SafetensorsStore store = SafetensorsStore.openFile(
                    fixture.resolve("start-adapter/adapter_model.safetensors"))) {
                peftKeys.addAll(store.names());
            }
            assertThat(keys).isEqualTo(peftKeys);
            Set<String> savedNames = new TreeSet<>();
            keys.forEach(k -> savedNames.add(k.replace("base_model.model.", "")));
            assertThat(savedNames).isEqualTo(peftTrainable);
            JsonNode written = json(saved.resolve("adapter_config.json"));
            assertThat(written.get("peft_type").asText()).isEqualTo("LORA");
            assertThat(written.get("task_type").asText()).isEqualTo("SEQ_CLS");
            assertThat(written.get("r").asInt()).isEqualTo(4);
            assertThat(written.get("base_model_name_or_path").asText()).isNotBlank();
            assertThat(Files.exists(saved.resolve("tokenizer.json"))).isTrue();
            long[] ids = model.tokenizer().encode(ref.get("texts").get(0).asText(), null, 128).ids();
            float[] trained = logits(model, ids);
            try (FineTunedModel reopened = attune.open(base, saved);
                    FineTunedModel byFolder = attune.open(saved)) { // the base from base_model_name_or_path
                float[] again = logits(reopened, ids);
                float[] alone = logits(byFolder, ids);
                for (int j = 0; j < trained.length; j++) {
                    assertThat(again[j]).isCloseTo(trained[j], org.assertj.core.data.Offset.offset(1e-6f));
                    assertThat(alone[j]).isCloseTo(trained[j], org.assertj.core.data.Offset.offset(1e-6f));
                }
                assertThat(byFolder.task().labels()).containsExactly("0", "1");
            }
        }
    }

    @Test
    void aNewAdapterStartsAtTheBaseModelAndTrainsOnlyItselfAndTheHead(@TempDir Path dir) throws IOException {
        JsonNode ref = json(fixture("trajectory-lora-bert").resolve("trajectory.json"));
        Task task = task();
        Dataset train = task.read(writeExamples(ref, dir.resolve("train.jsonl")));
        TrainingConfig config = TrainingConfig.builder().learningRate(1e-2).maxSteps(3).perDeviceTrainBatchSize(4)
                .evalStrategy(EvalStrategy.NO).tensorboard(false).disableTqdm(true).seed(7).build()
                .withPeft(LoraConfig.builder().r(2).loraAlpha(4).targetModules(LoraConfig.ALL_LINEAR).build());
        try (PretrainedModel base = base(Map.of("hidden_dropout_prob", "0", "attention_probs_dropout_prob", "0"));
                FineTunedModel plain = attune.prepare(base, task.withLabels(List.of("0", "1")), 128, 7);
                FineTunedModel fresh = attune.prepare(base, task.withLabels(List.of("0", "1")), 128, 7, config.peft())) {
            // B is zero: the adapter leaves the model's output as it was
            long[] ids = plain.tokenizer().encode("a first text", null, 128).ids();
            float[] a = logits(plain, ids);
            float[] b = logits(fresh, ids);
            for (int j = 0; j < a.length; j++) {
                assertThat(b[j]).isCloseTo(a[j], org.assertj.core.data.Offset.offset(1e-6f));
            }
            Map<String, TensorData> before = plain.stateDict();
            try (FineTunedModel trained = attune.fineTune(base, task, train, null, config).model()) {
                Map<String, TensorData> after = trained.stateDict();
                List<String> moved = new ArrayList<>();
                for (Map.Entry<String, TensorData> e : after.entrySet()) {
                    TensorData old = before.get(e.getKey());
                    if (old == null || !java.util.Arrays.equals(old.toFloatArray(), e.getValue().toFloatArray())) {
                        moved.add(e.getKey());
                    }
                }
                assertThat(moved).isNotEmpty().allMatch(n -> n.contains(".lora_") || n.startsWith("classifier."));
                // all-linear: every linear layer but the output layer (the classifier trains in full instead)
                assertThat(moved.stream().filter(n -> n.endsWith("lora_A.weight")).count()).isEqualTo(13);
                assertThat(moved).contains("bert.pooler.dense.lora_B.weight", "classifier.weight");
            }
        }
    }

    /**
     * A LoRA run resumed from a checkpoint on this engine: the checkpoint holds only what trains (the
     * adapter, the classifier, their optimizer state), so the resumed run restores those in part and
     * takes everything else from the base model; it ends with the adapter of the uninterrupted run, bit
     * for bit, dropout on the adapter's input included, and leaves the base weights as they were.
     */
    @Test
    void anAdapterRunResumedFromItsCheckpointEndsAsTheUninterruptedRun(@TempDir Path dir) throws IOException {
        JsonNode ref = json(fixture("trajectory-lora-bert").resolve("trajectory.json"));
        Task task = task();
        Dataset train = task.read(writeExamples(ref, dir.resolve("train.jsonl")));
        LoraConfig lora = LoraConfig.builder().r(2).loraAlpha(4).loraDropout(0.1).targetModules("query", "value")
                .build();
        java.util.function.Function<Path, TrainingConfig.Builder> common = out -> TrainingConfig.builder()
                .learningRate(1e-2).maxSteps(6).perDeviceTrainBatchSize(2).saveSteps(3).outputDir(out)
                .evalStrategy(EvalStrategy.NO).tensorboard(false).disableTqdm(true).seed(7);
        Path whole = dir.resolve("whole");
        try (PretrainedModel base = base(Map.of());
                FineTunedModel plain = attune.prepare(base, task.withLabels(List.of("0", "1")), 128, 7);
                FineTunedModel a = attune.fineTune(base, task, train, null, common.apply(whole).build().withPeft(lora))
                        .model()) {
            Path checkpoint = whole.resolve("checkpoint-3");
            assertThat(checkpoint.resolve("adapter_model.safetensors")).isRegularFile();
            assertThat(checkpoint.resolve("model.safetensors")).as("the frozen model is not checkpointed").doesNotExist();
            try (FineTunedModel b = attune.fineTune(base, task, train, null,
                    common.apply(dir.resolve("resumed")).resumeFromCheckpoint(checkpoint).build().withPeft(lora)).model()) {
                Map<String, TensorData> want = a.stateDict();
                Map<String, TensorData> got = b.stateDict();
                Map<String, TensorData> before = plain.stateDict();
                assertThat(got.keySet()).isEqualTo(want.keySet());
                int trained = 0;
                for (Map.Entry<String, TensorData> e : want.entrySet()) {
                    String name = e.getKey();
                    assertThat(got.get(name).toFloatArray()).as("%s after the resumed run on %s", name, engineName())
                            .isEqualTo(e.getValue().toFloatArray());
                    boolean trains = name.contains(".lora_") || name.startsWith("classifier.");
                    if (trains) {
                        trained++;
                    } else if (before.containsKey(name)) {
                        assertThat(got.get(name).toFloatArray()).as("frozen %s", name)
                                .isEqualTo(before.get(name).toFloatArray());
                    }
                }
                assertThat(trained).isEqualTo(2 * 2 * 2 + 2); // query and value of two layers, A and B; the classifier
            }
        }
    }

    /**
     * GPT-2's {@code Conv1D} layers (weights {@code [in, out]}) on this engine: an adapter with random
     * B on every linear layer changes the logits, and merging it ({@code W + scaling (B A)^T}) gives the
     * same logits as the unmerged forward pass.
     */
    @Test
    void gpt2ConvOneDAdapterGivesTheSameLogitsUnmergedAndMerged() {
        JsonNode ref = json(fixture("gpt2-lm").resolve("reference.json"));
        long[] ids = longs(ref.get("cases").get(0).get("input_ids"));
        LoraConfig lora = LoraConfig.builder().r(2).loraAlpha(4).targetModules(LoraConfig.ALL_LINEAR)
                .initLoraWeights(false).build();
        try (PretrainedModel base = attune.load(HfSources.folder(fixture("gpt2-lm")), Map.of());
                FineTunedModel plain = attune.prepare(base, attune.task("causal-lm", Map.of()), 64, 3);
                FineTunedModel adapted = attune.prepare(base, attune.task("causal-lm", Map.of()), 64, 3, lora);
                FineTunedModel merged = adapted.mergeAdapter()) {
            assertThat(adapted.lowered().definition().parameters().all())
                    .anyMatch(p -> p.name().endsWith("attn.c_attn.lora_A.weight"));
            float[] before = causalLogits(plain, ids);
            float[] lo = causalLogits(adapted, ids);
            float[] me = causalLogits(merged, ids);
            double moved = 0;
            for (int j = 0; j < lo.length; j++) {
                moved = Math.max(moved, Math.abs(lo[j] - before[j]));
                assertThat(logitsTolerance().allows(me[j], lo[j]))
                        .as("merged vs adapted GPT-2 logit %d on %s: %s vs %s", j, engineName(), me[j], lo[j]).isTrue();
            }
            assertThat(moved).as("the adapter changes GPT-2's logits").isGreaterThan(1e-3);
        }
    }

    private static float[] causalLogits(FineTunedModel model, long[] ids) {
        long[] shape = {1, ids.length};
        Map<String, TensorData> inputs = new LinkedHashMap<>();
        inputs.put("input_ids", TensorData.ofLongs(shape, ids));
        inputs.put("attention_mask", TensorData.ofLongs(shape, filled(ids.length, 1)));
        return model.lowered().predict(new Batch(inputs, 1)).get("logits").toFloatArray();
    }

    // ---------------------------------------------------------------- refusals

    @Test
    void adaptersThatDoNotFitAreRefusedNamingTheFileAndKey(@TempDir Path dir) throws IOException {
        Path good = fixture("peft-lora-bert-seqcls");
        try (PretrainedModel base = base(Map.of())) {
            Path ia3 = copyWith(good, dir.resolve("ia3"), c -> c.put("peft_type", "IA3"));
            assertThatThrownBy(() -> attune.open(base, task(), 128, ia3))
                    .isInstanceOf(InvalidCheckpointException.class)
                    .hasMessageContainingAll("adapter_config.json", "peft_type 'IA3'", "LoRA");
            Path dora = copyWith(good, dir.resolve("dora"), c -> c.put("use_dora", true));
            assertThatThrownBy(() -> attune.open(base, task(), 128, dora))
                    .isInstanceOf(InvalidCheckpointException.class).hasMessageContainingAll("adapter_config.json", "use_dora");
            Path rank0 = copyWith(good, dir.resolve("r0"), c -> c.put("r", 0));
            assertThatThrownBy(() -> attune.open(base, task(), 128, rank0))
                    .isInstanceOf(InvalidCheckpointException.class).hasMessageContainingAll("adapter_config.json", "r must be > 0");
            Path rank8 = copyWith(good, dir.resolve("r8"), c -> c.put("r", 8));
            assertThatThrownBy(() -> attune.open(base, task(), 128, rank8))
                    .isInstanceOf(InvalidCheckpointException.class)
                    .hasMessageContainingAll("adapter_model.safetensors",
                            "base_model.model.bert.encoder.layer.0.attention.self.query.lora_A.weight", "shape");
            Path other = copyWith(good, dir.resolve("other"), c -> c.putArray("target_modules").add("query").add("key"));
            assertThatThrownBy(() -> attune.open(base, task(), 128, other))
                    .isInstanceOf(InvalidCheckpointException.class)
                    .hasMessageContainingAll("adapter_model.safetensors", "value.lora_A.weight");
            assertThatThrownBy(() -> attune.open(base, task(), 128, dir))
                    .isInstanceOf(InvalidCheckpointException.class).hasMessageContaining("adapter_config.json");
        }
        try (PretrainedModel distil = attune.load(HfSources.folder(fixture("distilbert-seqcls")), Map.of())) {
            assertThatThrownBy(() -> attune.open(distil, task(), 128, good))
                    .isInstanceOf(ConfigurationException.class)
                    .hasMessageContainingAll("adapter_config.json", "[query, value]", "q_lin");
        }
    }

    @Test
    void badSettingsAreRefusedBeforeAnyStep(@TempDir Path dir) throws IOException {
        assertThatThrownBy(() -> LoraConfig.builder().r(0).build())
                .isInstanceOf(ConfigurationException.class).hasMessageContaining("r must be > 0");
        assertThatThrownBy(() -> LoraConfig.builder().bias("all").build())
                .isInstanceOf(ConfigurationException.class).hasMessageContaining("bias");
        JsonNode ref = json(fixture("trajectory-lora-bert").resolve("trajectory.json"));
        Task task = task();
        Dataset train = task.read(writeExamples(ref, dir.resolve("train.jsonl")));
        List<Map<String, Object>> log = new ArrayList<>();
        TrainingConfig config = TrainingConfig.builder().maxSteps(2).evalStrategy(EvalStrategy.NO).tensorboard(false)
                .disableTqdm(true).build().withPeft(LoraConfig.builder().targetModules("c_attn").build());
        try (PretrainedModel base = base(Map.of())) {
            assertThatThrownBy(() -> attune.fineTune(base, task, train, null, config,
                    new TrainingControl().addListener(log::add)))
                    .isInstanceOf(ConfigurationException.class)
                    .hasMessageContainingAll("[c_attn]", "match no linear layer", "query", "all-linear");
        }
        assertThat(log).isEmpty();
    }

    // ---------------------------------------------------------------- helpers

    private static Path copyWith(Path from, Path to, java.util.function.Consumer<ObjectNode> change) throws IOException {
        Files.createDirectories(to);
        Files.copy(from.resolve("adapter_model.safetensors"), to.resolve("adapter_model.safetensors"));
        ObjectNode c = (ObjectNode) json(from.resolve("adapter_config.json"));
        change.accept(c);
        Files.writeString(to.resolve("adapter_config.json"), JSON.writeValueAsString(c));
        return to;
    }

    static Path writeExamples(JsonNode ref, Path file) throws IOException {
        StringBuilder lines = new StringBuilder();
        for (int i = 0; i < ref.get("texts").size(); i++) {
            ObjectNode row = JSON.createObjectNode();
            row.put("text", ref.get("texts").get(i).asText());
            row.put("label", ref.get("labels").get(i).asText());
            lines.append(JSON.writeValueAsString(row)).append('\n');
        }
        return Files.writeString(file, lines);
    }
}
