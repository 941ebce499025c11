package dev.attune.engine.pytorch;

import dev.attune.formats.hf.HfSources;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.attune.engine.Batch;
import dev.attune.engine.EngineOptions;
import dev.attune.engine.LoweredModel;
import dev.attune.core.internal.WeightBinder;
import dev.attune.model.Encoding;
import dev.attune.model.HeadKind;
import dev.attune.model.HeadSpec;
import dev.attune.model.ModelDefinition;
import dev.attune.model.ModelSource;
import dev.attune.model.PretrainedModel;
import dev.attune.models.Bert;
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
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** BERT on the PyTorch engine against HuggingFace's reference outputs (fixtures/hf/bert-seqcls). */
class BertFidelityTest {
    private static final double TOLERANCE = 1e-5;
    static final Path FIXTURE = SharedFiles.path("fixtures/hf/bert-seqcls");

    private static PretrainedModel base;
    private static LoweredModel model;

    @BeforeAll
    static void lower() {
        base = HfSources.folder(FIXTURE).open(Map.of());
        ModelDefinition def = new Bert().define(base.config(), new HeadSpec(HeadKind.SEQUENCE_CLASSIFICATION, 2));
        WeightBinder binder = new WeightBinder(def, base.weights(), 42);
        assertThat(binder.report().missing()).isEmpty();
        assertThat(binder.report().unused()).isEmpty();
        model = new PyTorchEngineProvider().create().lower(def, binder, EngineOptions.defaults());
    }

    @AfterAll
    static void close() {
        model.close();
        base.close();
    }

    static Stream<Named<JsonNode>> cases() throws Exception {
        JsonNode ref = new ObjectMapper().readTree(FIXTURE.resolve("reference.json").toFile());
        Stream.Builder<Named<JsonNode>> out = Stream.builder();
        for (JsonNode c : ref.get("cases")) {
            String name = c.get("text").asText() + (c.get("text_pair").isNull() ? "" : " | " + c.get("text_pair").asText());
            out.add(Named.of(name, c));
        }
        return out.build();
    }

    static long[] longs(JsonNode array) {
        long[] out = new long[array.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = array.get(i).asLong();
        }
        return out;
    }

    @ParameterizedTest
    @MethodSource("cases")
    void tokenIdsAndLogitsMatchHuggingFace(JsonNode c) {
        String pair = c.get("text_pair").isNull() ? null : c.get("text_pair").asText();
        Encoding enc = base.tokenizer().encode(c.get("text").asText(), pair, 512);
        assertThat(enc.ids()).containsExactly(longs(c.get("input_ids")));
        assertThat(enc.typeIds()).containsExactly(longs(c.get("token_type_ids")));
        assertThat(enc.attentionMask()).containsExactly(longs(c.get("attention_mask")));

        long[] shape = {1, enc.length()};
        Map<String, TensorData> inputs = new LinkedHashMap<>();
        inputs.put("input_ids", TensorData.ofLongs(shape, enc.ids()));
        inputs.put("attention_mask", TensorData.ofLongs(shape, enc.attentionMask()));
        inputs.put("token_type_ids", TensorData.ofLongs(shape, enc.typeIds()));
        float[] logits = model.predict(new Batch(inputs, 1)).get("logits").toFloatArray();
        JsonNode expected = c.get("logits");
        assertThat(logits).hasSize(expected.size());
        for (int i = 0; i < logits.length; i++) {
            assertThat((double) logits[i]).as("logit %d", i).isCloseTo(expected.get(i).asDouble(), within(TOLERANCE));
        }
    }

    @Test
    void paddedBatchMatchesHuggingFace() throws Exception {
        JsonNode batch = new ObjectMapper().readTree(FIXTURE.resolve("reference.json").toFile()).get("batch");
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
        TensorData logits = model.predict(new Batch(inputs, b)).get("logits");
        assertThat(logits.shape()).containsExactly(b, 2);
        float[] got = logits.toFloatArray();
        for (int i = 0; i < b; i++) {
            for (int j = 0; j < 2; j++) {
                assertThat((double) got[i * 2 + j]).as("row %d logit %d", i, j)
                        .isCloseTo(batch.get("logits").get(i).get(j).asDouble(), within(TOLERANCE));
            }
        }
    }

    @Test
    void parameterNamesAreTheCheckpointsNames() {
        List<String> declared = model.definition().parameters().all().stream().map(p -> p.name()).sorted().toList();
        List<String> stored = base.weights().names().stream().sorted().toList();
        assertThat(declared).isEqualTo(stored);
    }
    /**
     * The fixture's {@code pytorch_model.bin} (torch.save zip + pickle, the layout older Hub checkpoints
     * ship) alone in a folder: read by the restricted unpickler, the model gives the same logits as its
     * safetensors twin, bit for bit, and the HuggingFace reference within tolerance.
     */
    @Test
    void pytorchModelBinAloneGivesTheSafetensorsLogits(@org.junit.jupiter.api.io.TempDir Path dir) throws Exception {
        for (String f : List.of("config.json", "pytorch_model.bin", "tokenizer.json", "tokenizer_config.json")) {
            java.nio.file.Files.copy(FIXTURE.resolve(f), dir.resolve(f));
        }
        try (PretrainedModel bin = HfSources.folder(dir).open(Map.of())) {
            ModelDefinition def = new Bert().define(bin.config(), new HeadSpec(HeadKind.SEQUENCE_CLASSIFICATION, 2));
            WeightBinder binder = new WeightBinder(def, bin.weights(), 42);
            assertThat(binder.report().missing()).isEmpty();
            try (LoweredModel fromBin = new PyTorchEngineProvider().create().lower(def, binder, EngineOptions.defaults())) {
                int checked = 0;
                for (Named<JsonNode> named : cases().toList()) {
                    JsonNode c = named.getPayload();
                    long[] ids = longs(c.get("input_ids"));
                    long[] shape = {1, ids.length};
                    Map<String, TensorData> inputs = new java.util.LinkedHashMap<>();
                    inputs.put("input_ids", TensorData.ofLongs(shape, ids));
                    inputs.put("attention_mask", TensorData.ofLongs(shape, longs(c.get("attention_mask"))));
                    inputs.put("token_type_ids", TensorData.ofLongs(shape, longs(c.get("token_type_ids"))));
                    float[] a = fromBin.predict(new Batch(inputs, 1)).get("logits").toFloatArray();
                    float[] b = model.predict(new Batch(inputs, 1)).get("logits").toFloatArray();
                    assertThat(a).as(named.getName()).containsExactly(b);
                    for (int i = 0; i < a.length; i++) {
                        assertThat((double) a[i]).isCloseTo(c.get("logits").get(i).asDouble(), within(TOLERANCE));
                    }
                    checked++;
                }
                assertThat(checked).isGreaterThanOrEqualTo(4);
            }
        }
    }
}
