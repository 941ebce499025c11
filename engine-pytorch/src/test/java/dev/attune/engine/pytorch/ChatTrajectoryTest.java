package dev.attune.engine.pytorch;

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
import dev.attune.model.FineTunedModel;
import dev.attune.model.PretrainedModel;
import dev.attune.model.TextTokenizer.ChatEncoding;
import dev.attune.model.TextTokenizer.ChatMessage;
import dev.attune.ops.TensorData;
import dev.attune.task.Dataset;
import dev.attune.task.Features;
import dev.attune.task.Task;
import dev.attune.testing.SharedFiles;
import dev.attune.testing.Tolerance;
import dev.attune.train.TrainingConfig;
import dev.attune.train.TrainingControl;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * Twelve steps of the {@code chat} task on {@code fixtures/hf/llama-lm} (Llama 3 chat template,
 * loss on assistant tokens) through {@link Attune#fineTune}, held to the hand-written PyTorch loop of
 * {@code src/test/python/make_chat_trajectory_reference.py} (reference {@value #REFERENCE}): the
 * rendered ids and assistant masks, then per step the loss, the gradient norm before clipping and
 * the learning rate, then the logits and every parameter's norm and displacement.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ChatTrajectoryTest {
    static final String REFERENCE = "llama-chat-trajectory.json";
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Tolerance LOSS = Tolerance.of(1e-4, 1e-4);
    private static final Tolerance GRAD_NORM = Tolerance.of(1e-4, 1e-4);
    private static final Tolerance LOGITS = Tolerance.absolute(1e-4);
    private static final Tolerance PARAMETERS = Tolerance.of(1e-5, 1e-4);

    private JsonNode ref;
    private Attune attune;

    @BeforeAll
    void start() throws IOException {
        try (InputStream in = ChatTrajectoryTest.class.getResourceAsStream(REFERENCE)) {
            ref = JSON.readTree(in);
        }
        attune = Attune.builder().engine("pytorch").device(DeviceSpec.CPU).numThreads(2).build();
    }

    @AfterAll
    void stop() {
        WORST.forEach((k, v) -> System.out.printf("chat trajectory max |Attune - HF| %-14s %.3g%n", k, v));
        attune.close();
    }

    private PretrainedModel open() {
        return attune.load(HfSources.folder(SharedFiles.path(ref.get("fixture").asText())), Map.of());
    }

    private Path writeConversations(Path file) throws IOException {
        StringBuilder lines = new StringBuilder();
        for (JsonNode c : ref.get("conversations")) {
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

    private static final Map<String, Double> WORST = new java.util.TreeMap<>();

    private static void check(String what, double actual, double expected, Tolerance t) {
        String kind = what.replaceAll("^step \\d+ |^final logit \\d+$|^.* (?=norm$|displacement$)", "");
        WORST.merge(kind.isEmpty() ? "final logits" : kind, Math.abs(actual - expected), Math::max);
        assertThat(t.allows(actual, expected)).as("%s: Attune %s, HuggingFace %s (%s)", what, actual, expected, t).isTrue();
    }

    @Test
    void conversationsEncodeAsTheReference(@TempDir Path dir) throws IOException {
        Task task = attune.task("chat", Map.of());
        Dataset data = task.read(writeConversations(dir.resolve("train.jsonl")));
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

    @Test
    void twelveStepsFollowTheReferenceLoop(@TempDir Path dir) throws IOException {
        JsonNode s = ref.get("settings");
        TrainingConfig config = dev.attune.testing.TrainingTrajectorySuite.configOf(s);
        List<Map<String, Object>> log = new ArrayList<>();
        TrainingControl control = new TrainingControl().addListener(log::add);
        Task task = attune.task("chat", Map.of());
        Dataset train = task.read(writeConversations(dir.resolve("train.jsonl")));
        try (PretrainedModel base = open();
                FineTunedModel model = attune.fineTune(base, task, train, null, config, control).model()) {
            List<String> noDecay = new ArrayList<>();
            model.lowered().definition().parameters().all().forEach(p -> {
                if (!p.decay()) {
                    noDecay.add(p.name());
                }
            });
            List<String> want = new ArrayList<>();
            ref.get("no_decay").forEach(n -> want.add(n.asText()));
            assertThat(noDecay).containsExactlyInAnyOrderElementsOf(want);

            List<Map<String, Object>> steps = log.stream().filter(r -> r.containsKey("loss")).toList();
            assertThat(steps).hasSize(ref.get("steps").size());
            for (int i = 0; i < steps.size(); i++) {
                JsonNode w = ref.get("steps").get(i);
                Map<String, Object> got = steps.get(i);
                String at = "step " + w.get("step") + " ";
                check(at + "learning rate", ((Number) got.get("learning_rate")).doubleValue(),
                        w.get("learning_rate").asDouble(), Tolerance.of(1e-12, 1e-9));
                check(at + "loss", ((Number) got.get("loss")).doubleValue(), w.get("loss").asDouble(), LOSS);
                check(at + "grad norm", ((Number) got.get("grad_norm")).doubleValue(), w.get("grad_norm").asDouble(),
                        GRAD_NORM);
            }
            long[] ids = longs(ref.get("encoded").get(0).get("input_ids"));
            TensorData logits = model.lowered().predict(new Batch(
                    Map.of("input_ids", TensorData.ofLongs(new long[] {1, ids.length}, ids)), 1)).get("logits");
            float[] all = logits.toFloatArray();
            JsonNode last = ref.get("final").get("logits_first");
            int vocab = last.get(0).size();
            float[] tail = Arrays.copyOfRange(all, all.length - last.size() * vocab, all.length);
            for (int i = 0; i < tail.length; i++) {
                check("final logit " + i, tail[i], last.get(i / vocab).get(i % vocab).asDouble(), LOGITS);
            }
            Map<String, TensorData> state = model.stateDict();
            ref.get("final").get("parameters").fields().forEachRemaining(e -> {
                float[] now = state.get(e.getKey()).toFloatArray();
                float[] before = base.weights().read(e.getKey()).toFloatArray();
                double norm = 0;
                double moved = 0;
                for (int j = 0; j < now.length; j++) {
                    norm += (double) now[j] * now[j];
                    moved += ((double) now[j] - before[j]) * ((double) now[j] - before[j]);
                }
                check(e.getKey() + " norm", Math.sqrt(norm), e.getValue().get("norm").asDouble(), PARAMETERS);
                check(e.getKey() + " displacement", Math.sqrt(moved), e.getValue().get("displacement").asDouble(),
                        PARAMETERS);
            });
        }
    }

    @Test
    void aConversationWhoseRepliesLieBeyondTheMaximumLengthNamesItsLine(@TempDir Path dir) throws IOException {
        Task task = attune.task("chat", Map.of());
        Dataset data = task.read(writeConversations(dir.resolve("train.jsonl")));
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
