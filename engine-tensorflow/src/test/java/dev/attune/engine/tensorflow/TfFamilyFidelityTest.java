package dev.attune.engine.tensorflow;

import dev.attune.formats.hf.HfSources;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Named.named;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.attune.engine.Batch;
import dev.attune.engine.Engine;
import dev.attune.engine.EngineOptions;
import dev.attune.engine.LoweredModel;
import dev.attune.core.internal.WeightBinder;
import dev.attune.model.Encoding;
import dev.attune.model.HeadKind;
import dev.attune.model.HeadSpec;
import dev.attune.model.ModelDefinition;
import dev.attune.model.ModelFamily;
import dev.attune.model.ModelSource;
import dev.attune.model.PretrainedModel;
import dev.attune.models.Bert;
import dev.attune.models.DistilBert;
import dev.attune.models.Gpt2;
import dev.attune.models.Roberta;
import dev.attune.ops.TensorData;
import dev.attune.testing.SharedFiles;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Named;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every family and head of {@code fixtures/hf} (the ones the PyTorch engine's fidelity tests cover)
 * lowered to a TensorFlow graph against HuggingFace's reference outputs: every output within
 * {@value #TOLERANCE}, single cases and padded batches.
 */
class TfFamilyFidelityTest {
    static final double TOLERANCE = 1e-4;
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
            new Fixture("bert-seqcls", new Bert(), new HeadSpec(HeadKind.SEQUENCE_CLASSIFICATION, 2), List.of("logits")),
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

    private record Loaded(PretrainedModel base, LoweredModel model) {}

    private static Engine engine;
    private static final Map<String, Loaded> LOADED = new LinkedHashMap<>();
    static final Map<String, Double> MAX_DIFF = new TreeMap<>();

    private static synchronized Loaded load(Fixture f) {
        if (engine == null) {
            engine = new TensorFlowEngineProvider().create();
        }
        return LOADED.computeIfAbsent(f.name(), n -> {
            PretrainedModel base = HfSources.folder(f.path()).open(Map.of());
            ModelDefinition def = f.family().define(base.config(), f.head());
            WeightBinder binder = new WeightBinder(def, base.weights(), 42);
            assertThat(binder.report().missing()).as("missing").isEmpty();
            return new Loaded(base, engine.lower(def, binder, EngineOptions.defaults()));
        });
    }

    @AfterAll
    static void close() {
        for (Loaded l : LOADED.values()) {
            l.model().close();
            l.base().close();
        }
        LOADED.clear();
        MAX_DIFF.forEach((name, d) -> System.out.printf("TF max |output - HF| %-26s %.3g%n", name, d));
    }

    static Stream<Arguments> cases() {
        List<Arguments> out = new ArrayList<>();
        for (Fixture f : FIXTURES) {
            for (JsonNode c : f.reference().get("cases")) {
                boolean pair = !(c.path("text_pair").isNull() || c.path("text_pair").isMissingNode());
                String text = c.get("text").asText() + (pair ? " | " + c.get("text_pair").asText() : "");
                out.add(Arguments.of(named(f.name(), f), named(text, c)));
            }
        }
        return out.stream();
    }

    static Stream<Named<Fixture>> batchedFixtures() {
        return FIXTURES.stream().filter(f -> f.reference().has("batch")).map(f -> named(f.name(), f));
    }

    static long[] longs(JsonNode array) {
        long[] out = new long[array.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = array.get(i).asLong();
        }
        return out;
    }

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

    /** Compares one output with reference values (shape and every element); returns the max |diff|. */
    static double assertClose(String what, TensorData actual, JsonNode expected, double tolerance) {
        List<Double> values = new ArrayList<>();
        List<Long> shape = new ArrayList<>();
        flatten(expected, values, shape, 0);
        long[] actualShape = actual.shape();
        long[] expectedShape = shape.stream().mapToLong(Long::longValue).toArray();
        if (actualShape.length == expectedShape.length + 1 && actualShape[0] == 1) {
            actualShape = Arrays.copyOfRange(actualShape, 1, actualShape.length);
        }
        assertThat(actualShape).as("%s shape", what).containsExactly(expectedShape);
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
        assertThat(max).as("%s: max abs difference (at flat index %d: got %s, expected %s)", what, worst,
                worst < 0 ? "-" : got[worst], worst < 0 ? "-" : values.get(worst)).isLessThanOrEqualTo(tolerance);
        return max;
    }

    private static void record(String fixture, double max) {
        synchronized (MAX_DIFF) {
            MAX_DIFF.merge(fixture, max, Math::max);
        }
    }

    @ParameterizedTest(name = "{0}: {1}")
    @MethodSource("cases")
    void outputsMatchHuggingFace(Fixture f, JsonNode c) {
        Loaded l = load(f);
        String pair = c.path("text_pair").isNull() || c.path("text_pair").isMissingNode() ? null : c.get("text_pair").asText();
        Encoding enc = l.base().tokenizer().encode(c.get("text").asText(), pair, 512);
        assertThat(enc.ids()).as("input_ids").containsExactly(longs(c.get("input_ids")));
        long[] shape = {1, enc.length()};
        Map<String, TensorData> inputs = new LinkedHashMap<>();
        inputs.put("input_ids", TensorData.ofLongs(shape, enc.ids()));
        inputs.put("attention_mask", TensorData.ofLongs(shape, enc.attentionMask()));
        inputs.put("token_type_ids", TensorData.ofLongs(shape, enc.typeIds()));
        Map<String, TensorData> out = l.model().predict(new Batch(inputs, 1));
        assertThat(out.keySet()).containsExactlyElementsOf(l.model().definition().outputs()).containsAll(f.outputs());
        for (String name : f.outputs()) {
            record(f.name(), assertClose(f.name() + " " + name, out.get(name), c.get(name), TOLERANCE));
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
        record(f.name() + " (batch)", assertClose(f.name() + " batch logits", out.get("logits"), batch.get("logits"),
                TOLERANCE));
    }
}
