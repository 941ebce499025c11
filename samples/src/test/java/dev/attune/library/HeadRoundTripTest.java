package dev.attune.library;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Named.named;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.attune.Attune;
import dev.attune.engine.Batch;
import dev.attune.formats.hf.SafetensorsStore;
import dev.attune.model.FineTunedModel;
import dev.attune.model.PretrainedModel;
import dev.attune.ops.TensorData;
import dev.attune.testing.SharedFiles;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Named;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The heads added for transformers parity, put on their fixtures by the task that uses them and
 * saved through the HuggingFace exporter: config.json names the fixture's architecture, the saved
 * tensors are exactly the checkpoint's (HuggingFace's head names, tied aliases left out as
 * transformers leaves them out), and the saved folder, opened again, gives the same outputs.
 */
class HeadRoundTripTest {
    static Attune attune;

    @TempDir
    Path tmp;

    @BeforeAll
    static void start() {
        attune = Attune.builder().engine("pytorch").numThreads(1).build();
    }

    @AfterAll
    static void stop() {
        attune.close();
    }

    record Case(String fixture, String task, Map<String, String> options) {}

    static Stream<Named<Case>> cases() {
        Map<String, String> none = Map.of();
        return Stream.of(
                new Case("roberta-tokcls", "token-classification", none),
                new Case("roberta-qa", "question-answering", none),
                new Case("roberta-mlm", "masked-lm", none),
                new Case("distilbert-tokcls", "token-classification", none),
                new Case("distilbert-qa", "question-answering", none),
                new Case("gpt2-tokcls", "token-classification", none),
                new Case("bert-multiple-choice", "multiple-choice", none)).map(c -> named(c.fixture(), c));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void savesTheFixturesArchitectureAndTensorNamesAndReloadsWithTheSameOutputs(Case c) throws Exception {
        Path fixture = SharedFiles.path("fixtures/hf/" + c.fixture());
        JsonNode reference = new ObjectMapper().readTree(fixture.resolve("reference.json").toFile());
        JsonNode first = reference.get("cases").get(0);
        Batch batch = batchOf(first);
        Path saved = tmp.resolve("saved");
        Map<String, TensorData> before;
        try (PretrainedModel base = attune.load(fixture);
                FineTunedModel model = attune.open(base, attune.task(c.task(), c.options()), 64)) {
            assertThat(model.loadReport().missing()).as("weights the head lacks").isEmpty();
            before = model.lowered().predict(batch);
            model.save(saved);
        }
        JsonNode config = new ObjectMapper().readTree(saved.resolve("config.json").toFile());
        JsonNode original = new ObjectMapper().readTree(fixture.resolve("config.json").toFile());
        assertThat(config.get("architectures")).isEqualTo(original.get("architectures"));
        try (SafetensorsStore s = SafetensorsStore.open(saved); SafetensorsStore o = SafetensorsStore.open(fixture)) {
            assertThat(s.names()).containsExactlyInAnyOrderElementsOf(o.names());
        }
        try (FineTunedModel again = attune.open(saved)) {
            assertThat(again.loadReport().missing()).isEmpty();
            Map<String, TensorData> after = again.lowered().predict(batch);
            for (String name : List.of("logits", "start_logits", "end_logits")) {
                if (before.containsKey(name)) {
                    assertThat(after.get(name).toFloatArray()).as(name).containsExactly(before.get(name).toFloatArray());
                }
            }
        }
    }

    /** A reference case's inputs: [1, T], or [1, C, T] for multiple choice. */
    static Batch batchOf(JsonNode c) {
        Map<String, TensorData> inputs = new LinkedHashMap<>();
        for (String name : List.of("input_ids", "attention_mask", "token_type_ids")) {
            JsonNode v = c.get(name);
            if (v == null) {
                continue;
            }
            if (v.get(0).isArray()) {
                int rows = v.size();
                int t = v.get(0).size();
                long[] flat = new long[rows * t];
                for (int i = 0; i < rows; i++) {
                    for (int j = 0; j < t; j++) {
                        flat[i * t + j] = v.get(i).get(j).asLong();
                    }
                }
                inputs.put(name, TensorData.ofLongs(new long[] {1, rows, t}, flat));
            } else {
                long[] flat = new long[v.size()];
                for (int j = 0; j < flat.length; j++) {
                    flat[j] = v.get(j).asLong();
                }
                inputs.put(name, TensorData.ofLongs(new long[] {1, flat.length}, flat));
            }
        }
        return new Batch(inputs, 1);
    }
}
