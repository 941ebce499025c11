package dev.attune.engine.pytorch;

import dev.attune.formats.hf.HfSources;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Named.named;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.attune.engine.Batch;
import dev.attune.engine.EngineOptions;
import dev.attune.engine.LoweredModel;
import dev.attune.core.internal.WeightBinder;
import dev.attune.formats.hf.SafetensorsWriter;
import dev.attune.model.Encoding;
import dev.attune.model.HeadKind;
import dev.attune.model.HeadSpec;
import dev.attune.model.LoadReport;
import dev.attune.model.ModelDefinition;
import dev.attune.model.ModelFamily;
import dev.attune.model.ModelSource;
import dev.attune.model.PretrainedModel;
import dev.attune.models.Bert;
import dev.attune.models.DistilBert;
import dev.attune.models.Gpt2;
import dev.attune.models.Roberta;
import dev.attune.ops.Parameter;
import dev.attune.ops.TensorData;
import dev.attune.testing.SharedFiles;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Named;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every family and head other than BERT sequence classification (see {@link BertFidelityTest}) on
 * the PyTorch engine against HuggingFace's reference outputs in {@code fixtures/hf/<name>}: token ids
 * equal, every output within {@value #TOLERANCE}, padded batches included, and the declared
 * parameter names equal to the checkpoint's.
 */
class FamilyFidelityTest {
    private static final double TOLERANCE = 1e-5;
    private static final ObjectMapper JSON = new ObjectMapper();

    /** One fixture: the folder, the family and head that built it, and the outputs to compare. */
    record Fixture(String name, ModelFamily family, HeadSpec head, List<String> outputs) {
        Path path() {
            return SharedFiles.path("fixtures/hf/" + name);
        }

        JsonNode reference() {
            try {
                return JSON.readTree(path().resolve("reference.json").toFile());
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }

        @Override
        public String toString() {
            return name;
        }
    }

    static final List<Fixture> FIXTURES = List.of(
            new Fixture("bert-tokcls", new Bert(), new HeadSpec(HeadKind.TOKEN_CLASSIFICATION, 5), List.of("logits")),
            new Fixture("bert-qa", new Bert(), new HeadSpec(HeadKind.QUESTION_ANSWERING, 0),
                    List.of("start_logits", "end_logits")),
            new Fixture("bert-mlm", new Bert(), new HeadSpec(HeadKind.MASKED_LM, 0), List.of("logits")),
            new Fixture("distilbert-seqcls", new DistilBert(), new HeadSpec(HeadKind.SEQUENCE_CLASSIFICATION, 2),
                    List.of("logits")),
            new Fixture("roberta-seqcls", new Roberta(), new HeadSpec(HeadKind.SEQUENCE_CLASSIFICATION, 2),
                    List.of("logits")),
            new Fixture("gpt2-seqcls", new Gpt2(), new HeadSpec(HeadKind.SEQUENCE_CLASSIFICATION, 2), List.of("logits")),
            new Fixture("gpt2-lm", new Gpt2(), new HeadSpec(HeadKind.CAUSAL_LM, 0), List.of("logits")));

    /** Checkpoint tensors that are buffers, not parameters (GPT-2's causal masks in older files). */
    private static boolean isBuffer(String name) {
        return name.endsWith(".attn.bias") || name.endsWith(".attn.masked_bias");
    }

    private record Loaded(PretrainedModel base, LoweredModel model, LoadReport report) {}

    private static final Map<String, Loaded> LOADED = new LinkedHashMap<>();
    private static final Map<String, Double> MAX_DIFF = new TreeMap<>();

    private static synchronized Loaded load(Fixture f) {
        return LOADED.computeIfAbsent(f.name(), n -> {
            PretrainedModel base = HfSources.folder(f.path()).open(Map.of());
            ModelDefinition def = f.family().define(base.config(), f.head());
            WeightBinder binder = new WeightBinder(def, base.weights(), 42);
            LoweredModel model = new PyTorchEngineProvider().create().lower(def, binder, EngineOptions.defaults());
            return new Loaded(base, model, binder.report());
        });
    }

    @AfterAll
    static void close() {
        for (Loaded l : LOADED.values()) {
            l.model().close();
            l.base().close();
        }
        LOADED.clear();
        MAX_DIFF.forEach((name, d) -> System.out.printf("max |logit - HF| %-20s %.3g%n", name, d));
    }

    static Stream<Named<Fixture>> fixtures() {
        return FIXTURES.stream().map(f -> named(f.name(), f));
    }

    static Stream<Arguments> cases() {
        List<Arguments> out = new ArrayList<>();
        for (Fixture f : FIXTURES) {
            for (JsonNode c : f.reference().get("cases")) {
                String text = c.get("text").asText() + (c.path("text_pair").isNull() || c.path("text_pair").isMissingNode()
                        ? "" : " | " + c.get("text_pair").asText());
                out.add(Arguments.of(named(f.name(), f), named(text, c)));
            }
        }
        return out.stream();
    }

    static Stream<Named<Fixture>> batchedFixtures() {
        return fixtures().filter(n -> n.getPayload().reference().has("batch"));
    }

    static long[] longs(JsonNode array) {
        long[] out = new long[array.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = array.get(i).asLong();
        }
        return out;
    }

    /** Flattens nested JSON arrays row-major, recording the shape. */
    static void flatten(JsonNode node, List<Double> values, List<Long> shape, int depth) {
        if (node.isArray()) {
            if (shape.size() == depth) {
                shape.add((long) node.size());
            }
            for (JsonNode child : node) {
                flatten(child, values, shape, depth + 1);
            }
        } else {
            values.add(node.asDouble());
        }
    }

    /** Compares one output with HuggingFace's values (shape and every element). */
    static void assertClose(String fixture, String output, TensorData actual, JsonNode expected) {
        List<Double> values = new ArrayList<>();
        List<Long> shape = new ArrayList<>();
        flatten(expected, values, shape, 0);
        long[] actualShape = actual.shape();
        long[] expectedShape = shape.stream().mapToLong(Long::longValue).toArray();
        if (actualShape.length == expectedShape.length + 1 && actualShape[0] == 1) { // single case: batch of 1
            actualShape = java.util.Arrays.copyOfRange(actualShape, 1, actualShape.length);
        }
        assertThat(actualShape).as("%s %s shape", fixture, output).containsExactly(expectedShape);
        float[] got = actual.toFloatArray();
        double max = 0;
        int worst = -1;
        for (int i = 0; i < got.length; i++) {
            double d = Math.abs(got[i] - values.get(i));
            if (d > max || Double.isNaN(d)) {
                max = Double.isNaN(d) ? Double.POSITIVE_INFINITY : d;
                worst = i;
            }
        }
        synchronized (MAX_DIFF) {
            MAX_DIFF.merge(fixture, max, Math::max);
        }
        assertThat(max).as("%s %s: max abs difference (at flat index %d: got %s, HF %s)", fixture, output, worst,
                worst < 0 ? "-" : got[worst], worst < 0 ? "-" : values.get(worst)).isLessThanOrEqualTo(TOLERANCE);
    }

    @ParameterizedTest(name = "{0}: {1}")
    @MethodSource("cases")
    void tokenIdsAndOutputsMatchHuggingFace(Fixture f, JsonNode c) {
        Loaded l = load(f);
        String pair = c.path("text_pair").isNull() || c.path("text_pair").isMissingNode() ? null : c.get("text_pair").asText();
        Encoding enc = l.base().tokenizer().encode(c.get("text").asText(), pair, 512);
        assertThat(enc.ids()).as("input_ids").containsExactly(longs(c.get("input_ids")));
        assertThat(enc.attentionMask()).as("attention_mask").containsExactly(longs(c.get("attention_mask")));
        if (c.has("token_type_ids")) {
            assertThat(enc.typeIds()).as("token_type_ids").containsExactly(longs(c.get("token_type_ids")));
        }
        long[] shape = {1, enc.length()};
        Map<String, TensorData> inputs = new LinkedHashMap<>();
        inputs.put("input_ids", TensorData.ofLongs(shape, enc.ids()));
        inputs.put("attention_mask", TensorData.ofLongs(shape, enc.attentionMask()));
        // always present, as a task's batches carry it; families that do not declare it must ignore it
        inputs.put("token_type_ids", TensorData.ofLongs(shape, enc.typeIds()));
        Map<String, TensorData> out = l.model().predict(new Batch(inputs, 1));
        // every declared output (GPT-2's LM head adds its key/value cache), the compared ones among them
        assertThat(out.keySet()).containsExactlyElementsOf(l.model().definition().outputs()).containsAll(f.outputs());
        for (String name : f.outputs()) {
            assertClose(f.name(), name, out.get(name), c.get(name));
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("batchedFixtures")
    void paddedBatchMatchesHuggingFace(Fixture f) {
        Loaded l = load(f);
        JsonNode batch = f.reference().get("batch");
        int b = batch.get("input_ids").size();
        int t = batch.get("input_ids").get(0).size();
        long[] ids = new long[b * t];
        long[] mask = new long[b * t];
        for (int i = 0; i < b; i++) {
            System.arraycopy(longs(batch.get("input_ids").get(i)), 0, ids, i * t, t);
            System.arraycopy(longs(batch.get("attention_mask").get(i)), 0, mask, i * t, t);
        }
        Map<String, TensorData> inputs = new LinkedHashMap<>();
        inputs.put("input_ids", TensorData.ofLongs(new long[] {b, t}, ids));
        inputs.put("attention_mask", TensorData.ofLongs(new long[] {b, t}, mask));
        Map<String, TensorData> out = l.model().predict(new Batch(inputs, b));
        assertClose(f.name() + " (batch)", "logits", out.get("logits"), batch.get("logits"));
    }

    /**
     * GPT-2 without {@code pad_token_id}: HuggingFace refuses padded batches, Attune reads the last
     * token the attention mask keeps, which is the token HuggingFace reads with the pad id set.
     */
    @Test
    void gpt2ClassifierWithoutPadTokenReadsTheLastAttendedToken() {
        Fixture f = FIXTURES.stream().filter(x -> x.name().equals("gpt2-seqcls")).findFirst().orElseThrow();
        JsonNode batch = f.reference().get("batch");
        int b = batch.get("input_ids").size();
        int t = batch.get("input_ids").get(0).size();
        long[] ids = new long[b * t];
        long[] mask = new long[b * t];
        for (int i = 0; i < b; i++) {
            System.arraycopy(longs(batch.get("input_ids").get(i)), 0, ids, i * t, t);
            System.arraycopy(longs(batch.get("attention_mask").get(i)), 0, mask, i * t, t);
        }
        try (PretrainedModel base = HfSources.folder(f.path()).open(Map.of())) {
            ModelDefinition def = new Gpt2().define(base.config().with("pad_token_id", null), f.head());
            try (LoweredModel model = new PyTorchEngineProvider().create()
                    .lower(def, new WeightBinder(def, base.weights(), 42), EngineOptions.defaults())) {
                Map<String, TensorData> inputs = new LinkedHashMap<>();
                inputs.put("input_ids", TensorData.ofLongs(new long[] {b, t}, ids));
                inputs.put("attention_mask", TensorData.ofLongs(new long[] {b, t}, mask));
                assertClose("gpt2-seqcls (no pad_token_id)", "logits",
                        model.predict(new Batch(inputs, b)).get("logits"), batch.get("logits"));
            }
        }
    }

    /**
     * Saving writes the declared parameters only (as FineTunedModel.stateDict does), so tied aliases
     * are left out as HuggingFace leaves them out; the saved folder binds completely and gives the
     * same outputs.
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource("fixtures")
    void savedWeightsReloadWithoutMissingOrUnusedTensors(Fixture f, @TempDir Path dir) throws IOException {
        Loaded l = load(f);
        ModelDefinition def = l.model().definition();
        Map<String, TensorData> state = new LinkedHashMap<>();
        for (Parameter p : def.parameters().all()) {
            state.put(p.name(), l.model().read(p));
        }
        for (String file : List.of("config.json", "tokenizer.json", "tokenizer_config.json")) {
            Files.copy(f.path().resolve(file), dir.resolve(file));
        }
        SafetensorsWriter.write(dir.resolve("model.safetensors"), state);
        try (PretrainedModel saved = HfSources.folder(dir).open(Map.of())) {
            assertThat(saved.weights().names().stream().filter(def.parameters().tiedNames()::containsKey))
                    .as("tied aliases saved").isEmpty();
            ModelDefinition again = f.family().define(saved.config(), f.head());
            WeightBinder binder = new WeightBinder(again, saved.weights(), 7);
            assertThat(binder.report().missing()).as("missing").isEmpty();
            assertThat(binder.report().unused()).as("unused").isEmpty();
            try (LoweredModel model = new PyTorchEngineProvider().create().lower(again, binder, EngineOptions.defaults())) {
                JsonNode c = f.reference().get("cases").get(0);
                long[] ids = longs(c.get("input_ids"));
                Batch batch = new Batch(Map.of("input_ids", TensorData.ofLongs(new long[] {1, ids.length}, ids)), 1);
                for (String out : f.outputs()) {
                    assertClose(f.name() + " (saved)", out, model.predict(batch).get(out), c.get(out));
                }
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("fixtures")
    void bindsEveryParameterFromTheCheckpoint(Fixture f) {
        LoadReport report = load(f).report();
        assertThat(report.missing()).as("missing").isEmpty();
        assertThat(report.unused().stream().filter(n -> !isBuffer(n)).toList()).as("unused").isEmpty();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("fixtures")
    void parameterNamesAreTheCheckpointsNames(Fixture f) {
        Loaded l = load(f);
        ModelDefinition def = l.model().definition();
        Set<String> aliases = new HashSet<>(def.parameters().tiedNames().keySet());
        List<String> declared = def.parameters().all().stream().map(p -> p.name()).sorted().toList();
        List<String> stored = l.base().weights().names().stream()
                .filter(n -> !aliases.contains(n) && !isBuffer(n))
                .sorted()
                .toList();
        assertThat(declared).isEqualTo(stored);
    }
}
