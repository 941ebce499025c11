package dev.attune.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.attune.Attune;
import dev.attune.engine.Batch;
import dev.attune.engine.EngineOptions.DeviceSpec;
import dev.attune.error.InvalidDataException;
import dev.attune.formats.hf.HfSources;
import dev.attune.formats.hf.SafetensorsStore;
import dev.attune.formats.hf.SafetensorsWriter;
import dev.attune.model.FineTunedModel;
import dev.attune.model.PretrainedModel;
import dev.attune.model.TextTokenizer.ChatEncoding;
import dev.attune.model.TextTokenizer.ChatMessage;
import dev.attune.ops.TensorData;
import dev.attune.task.Dataset;
import dev.attune.task.Features;
import dev.attune.task.Task;
import dev.attune.train.TrainingConfig;
import dev.attune.train.TrainingConfig.LoraConfig;
import dev.attune.train.TrainingControl;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Function;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * Twelve steps of the {@code chat} task on {@code fixtures/hf/llama-lm} (Llama 3 chat template,
 * loss on assistant tokens) through {@link Attune#fineTune}, held to hand-written PyTorch loops:
 * the full fine-tune to {@value #REFERENCE} ({@code core/src/test/python/make_chat_trajectory_reference.py}),
 * and a PEFT LoRA adapter (r 4, all-linear, from the start adapter the reference carries) to
 * {@value #LORA_REFERENCE} ({@code make_chat_lora_trajectory_reference.py}). Checked: the rendered
 * ids and assistant masks, then per step the loss, the gradient norm before clipping and the
 * learning rate, then the last logits of the first conversation and every trained parameter's norm
 * and displacement. Written once; each engine runs it through a one-class subclass, PyTorch and
 * TensorFlow with the same tolerances. (TensorFlow's gradient of a rank-3 log-softmax was wrong
 * until its lowering flattened the logits to 2-D; {@link GradientConformanceSuite} now checks it.)
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
public abstract class ChatTrajectorySuite {
    /** The full fine-tune's reference, a resource next to this class. */
    public static final String REFERENCE = "llama-chat-trajectory.json";
    /** The LoRA reference, a resource next to this class. */
    public static final String LORA_REFERENCE = "llama-chat-lora-trajectory.json";
    private static final ObjectMapper JSON = new ObjectMapper();

    private JsonNode ref;
    private JsonNode loraRef;
    private Attune attune;
    /** Per kind of value: the largest difference from the reference seen. */
    private final Map<String, Double> worst = new TreeMap<>();

    /** @return the engine's name, as {@code Attune.builder().engine(name)} takes it */
    protected abstract String engineName();

    /** @return how far each step's loss and gradient norm may be from the reference (default 1e-4 + 1e-4 relative) */
    protected Tolerance stepTolerance() {
        return Tolerance.of(1e-4, 1e-4);
    }

    /** @return how far the final logits may be from the reference (default absolute 1e-4) */
    protected Tolerance logitsTolerance() {
        return Tolerance.absolute(1e-4);
    }

    /** @return how far each parameter's final norm and displacement may be (default 1e-5 + 1e-4 relative) */
    protected Tolerance parameterTolerance() {
        return Tolerance.of(1e-5, 1e-4);
    }

    @BeforeAll
    void start() {
        ref = read(REFERENCE);
        loraRef = read(LORA_REFERENCE);
        attune = Attune.builder().engine(engineName()).device(DeviceSpec.CPU).numThreads(2).build();
    }

    @AfterAll
    void stop() {
        worst.forEach((k, v) -> System.out.printf("chat trajectory on %s: max |Attune - reference| %-24s %.3g%n",
                engineName(), k, v));
        if (attune != null) {
            attune.close();
        }
    }

    private static JsonNode read(String resource) {
        try (InputStream in = ChatTrajectorySuite.class.getResourceAsStream(resource)) {
            if (in == null) {
                throw new IllegalStateException("missing test resource " + resource);
            }
            return JSON.readTree(in);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private PretrainedModel open() {
        return attune.load(HfSources.folder(SharedFiles.path(ref.get("fixture").asText())), Map.of());
    }

    private Path writeConversations(JsonNode reference, Path file) throws IOException {
        StringBuilder lines = new StringBuilder();
        for (JsonNode c : reference.get("conversations")) {
            ObjectNode row = JSON.createObjectNode();
            row.set("messages", c);
            lines.append(JSON.writeValueAsString(row)).append('\n');
        }
        return Files.writeString(file, lines);
    }

    private static long[] longs(JsonNode a) {
        long[] out = new long[a.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = a.get(i).asLong();
        }
        return out;
    }

    private void check(String kind, String what, double actual, double expected, Tolerance t) {
        worst.merge(kind, Math.abs(actual - expected), Math::max);
        assertThat(t.allows(actual, expected)).as("%s on %s: Attune %s, reference %s (%s)", what, engineName(), actual,
                expected, t).isTrue();
    }

    @Test
    void conversationsEncodeAsTheReference(@TempDir Path dir) throws IOException {
        Task task = attune.task("chat", Map.of());
        Dataset data = task.read(writeConversations(ref, dir.resolve("train.jsonl")));
        try (PretrainedModel base = open()) {
            for (int i = 0; i < data.examples().size(); i++) {
                JsonNode want = ref.get("encoded").get(i);
                Features f = task.encode(data.examples().get(i), i, base.tokenizer(), 256).get(0);
                long[] ids = f.fields().get("input_ids");
                assertThat(ids).as("ids of conversation %d", i).containsExactly(longs(want.get("input_ids")));
                long[] labels = f.fields().get("labels");
                long[] mask = longs(want.get("assistant_mask"));
                for (int t = 0; t + 1 < ids.length; t++) {
                    assertThat(labels[t]).as("label of position %d of conversation %d", t, i)
                            .isEqualTo(mask[t + 1] == 1 ? ids[t + 1] : -100);
                }
            }
        }
    }

    /** Runs the 12 steps of a reference and checks the steps and the final logits; returns the model. */
    private void follow(String label, JsonNode reference, TrainingConfig config, Path dir,
            ModelCheck parameters) throws IOException {
        List<Map<String, Object>> log = new ArrayList<>();
        TrainingControl control = new TrainingControl().addListener(log::add);
        Task task = attune.task("chat", Map.of());
        Dataset train = task.read(writeConversations(reference, dir.resolve("train.jsonl")));
        try (PretrainedModel base = open();
                FineTunedModel model = attune.fineTune(base, task, train, null, config, control).model()) {
            List<Map<String, Object>> steps = log.stream().filter(r -> r.containsKey("loss")).toList();
            assertThat(steps).hasSize(reference.get("steps").size());
            for (int i = 0; i < steps.size(); i++) {
                JsonNode w = reference.get("steps").get(i);
                Map<String, Object> got = steps.get(i);
                String at = label + " step " + w.get("step") + " ";
                check(label + " learning rate", at + "learning rate", ((Number) got.get("learning_rate")).doubleValue(),
                        w.get("learning_rate").asDouble(), Tolerance.of(1e-12, 1e-9));
                check(label + " loss", at + "loss", ((Number) got.get("loss")).doubleValue(), w.get("loss").asDouble(),
                        stepTolerance());
                check(label + " grad norm", at + "grad norm", ((Number) got.get("grad_norm")).doubleValue(),
                        w.get("grad_norm").asDouble(), stepTolerance());
            }
            long[] ids = longs(ref.get("encoded").get(0).get("input_ids"));
            TensorData logits = model.lowered().predict(new Batch(
                    Map.of("input_ids", TensorData.ofLongs(new long[] {1, ids.length}, ids)), 1)).get("logits");
            float[] all = logits.toFloatArray();
            JsonNode last = reference.get("final").get("logits_first");
            int vocab = last.get(0).size();
            float[] tail = Arrays.copyOfRange(all, all.length - last.size() * vocab, all.length);
            for (int i = 0; i < tail.length; i++) {
                check(label + " final logits", label + " final logit " + i, tail[i],
                        last.get(i / vocab).get(i % vocab).asDouble(), logitsTolerance());
            }
            parameters.check(base, model);
        }
    }

    /** The final parameters' check of one run. */
    private interface ModelCheck {
        void check(PretrainedModel base, FineTunedModel model) throws IOException;
    }

    private void checkNorms(String label, JsonNode want, Function<String, float[]> now, Function<String, float[]> before) {
        assertThat(want.size()).isPositive();
        want.fields().forEachRemaining(e -> {
            float[] a = now.apply(e.getKey());
            float[] b = before.apply(e.getKey());
            assertThat(a).as("%s: parameter %s", label, e.getKey()).isNotNull().hasSameSizeAs(b);
            double norm = 0;
            double moved = 0;
            for (int j = 0; j < a.length; j++) {
                norm += (double) a[j] * a[j];
                moved += ((double) a[j] - b[j]) * ((double) a[j] - b[j]);
            }
            check(label + " parameter norms", e.getKey() + " norm", Math.sqrt(norm), e.getValue().get("norm").asDouble(),
                    parameterTolerance());
            check(label + " parameter displacements", e.getKey() + " displacement", Math.sqrt(moved),
                    e.getValue().get("displacement").asDouble(), parameterTolerance());
        });
    }

    @Test
    void twelveStepsFollowTheReferenceLoop(@TempDir Path dir) throws IOException {
        TrainingConfig config = TrainingTrajectorySuite.configOf(ref.get("settings"));
        follow("full", ref, config, dir, (base, model) -> {
            List<String> noDecay = new ArrayList<>();
            model.lowered().definition().parameters().all().forEach(p -> {
                if (!p.decay()) {
                    noDecay.add(p.name());
                }
            });
            List<String> want = new ArrayList<>();
            ref.get("no_decay").forEach(n -> want.add(n.asText()));
            assertThat(noDecay).containsExactlyInAnyOrderElementsOf(want);
            Map<String, TensorData> state = model.stateDict();
            checkNorms("full", ref.get("final").get("parameters"), n -> state.get(n).toFloatArray(),
                    n -> base.weights().read(n).toFloatArray());
        });
    }

    /**
     * Writes the reference's start adapter as the PEFT folder {@code save_pretrained} wrote, its
     * base named by absolute path.
     */
    private Path writeStartAdapter(Path folder) throws IOException {
        Files.createDirectories(folder);
        JsonNode start = loraRef.get("start_adapter");
        ObjectNode config = start.get("config").deepCopy();
        config.put("base_model_name_or_path", SharedFiles.path(loraRef.get("fixture").asText()).toString());
        Files.writeString(folder.resolve("adapter_config.json"), JSON.writeValueAsString(config));
        Map<String, TensorData> tensors = new LinkedHashMap<>();
        start.get("tensors").fields().forEachRemaining(e -> tensors.put(e.getKey(), floats(e.getValue())));
        SafetensorsWriter.write(folder.resolve("adapter_model.safetensors"), tensors);
        return folder;
    }

    private static TensorData floats(JsonNode t) {
        long[] shape = longs(t.get("shape"));
        JsonNode v = t.get("values");
        float[] values = new float[v.size()];
        for (int i = 0; i < values.length; i++) {
            values[i] = (float) v.get(i).asDouble();
        }
        return TensorData.ofFloats(shape, values);
    }

    private static Map<String, float[]> adapterTensors(Path folder) {
        Map<String, float[]> out = new TreeMap<>();
        try (SafetensorsStore store = SafetensorsStore.openFile(folder.resolve("adapter_model.safetensors"))) {
            for (String name : store.names()) {
                out.put(name, store.read(name).toFloatArray());
            }
        }
        return out;
    }

    @Test
    void twelveLoraStepsFollowPeftsLoop(@TempDir Path dir) throws IOException {
        Path start = writeStartAdapter(dir.resolve("start-adapter"));
        TrainingConfig config = TrainingTrajectorySuite.configOf(loraRef.get("settings"))
                .withPeft(LoraConfig.builder().adapter(start).build());
        Map<String, float[]> before = adapterTensors(start);
        follow("lora", loraRef, config, dir, (base, model) -> {
            Path saved = dir.resolve("trained-adapter");
            model.saveAdapter(saved);
            Map<String, float[]> after = adapterTensors(saved);
            // what trained and was saved is PEFT's adapter, tensor for tensor
            assertThat(after.keySet()).isEqualTo(before.keySet());
            assertThat(after).hasSize(loraRef.get("trainable").size());
            checkNorms("lora", loraRef.get("final").get("parameters"), after::get, before::get);
        });
    }

    @Test
    void aConversationWhoseRepliesLieBeyondTheMaximumLengthNamesItsLine(@TempDir Path dir) throws IOException {
        Task task = attune.task("chat", Map.of());
        Dataset data = task.read(writeConversations(ref, dir.resolve("train.jsonl")));
        try (PretrainedModel base = open()) {
            ChatEncoding enc = base.tokenizer().applyChatTemplate(
                    List.of(new ChatMessage("user", "I want to book a table for two tonight."),
                            new ChatMessage("assistant", "Sure, which restaurant would you like?")), false);
            int firstReply = 0;
            while (enc.assistantMask()[firstReply] == 0) {
                firstReply++;
            }
            // cut just before the first reply: nothing left to learn
            int cut = firstReply;
            assertThatThrownBy(() -> task.encode(data.examples().get(0), 0, base.tokenizer(), cut))
                    .isInstanceOf(InvalidDataException.class)
                    .hasMessageContaining("train.jsonl:1")
                    .hasMessageContaining("no assistant token");
            // a longer cut keeps some reply tokens: cut, not refused
            Features f = task.encode(data.examples().get(0), 0, base.tokenizer(), cut + 3).get(0);
            assertThat(f.fields().get("input_ids")).hasSize(cut + 3);
        }
    }
}
