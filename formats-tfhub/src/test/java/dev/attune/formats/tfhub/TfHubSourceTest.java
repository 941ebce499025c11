package dev.attune.formats.tfhub;

import dev.attune.formats.hf.HfSources;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.attune.Attune;
import dev.attune.PluginRegistry;
import dev.attune.engine.Batch;
import dev.attune.engine.EngineOptions;
import dev.attune.engine.LoweredModel;
import dev.attune.engine.Engine.ParameterSource;
import dev.attune.engine.tensorflow.TensorFlowEngineProvider;
import dev.attune.error.InvalidCheckpointException;
import dev.attune.core.internal.WeightBinder;
import dev.attune.model.HeadSpec.HeadKind;
import dev.attune.model.HeadSpec;
import dev.attune.model.ModelDefinition;
import dev.attune.model.ModelSource;
import dev.attune.model.PretrainedModel;
import dev.attune.models.Bert;
import dev.attune.ops.TensorData;
import dev.attune.testing.SharedFiles;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * TF Hub BERT SavedModels: the fixture written by TensorFlow in the TF Hub layout imports to the
 * HuggingFace checkpoint it was made from and computes its reference outputs; the names of a real
 * TF Hub small BERT graph all resolve.
 */
class TfHubSourceTest {
    static final Path LAYOUT = SharedFiles.path("fixtures/tfhub/bert-encoder-tfhub-layout");
    static final Path REAL_GRAPH = SharedFiles.path("fixtures/tfhub/small_bert_L-2_H-128_A-2_graph_only/saved_model.pb");
    static final Path HF = SharedFiles.path("fixtures/hf/bert-seqcls");

    static long[] longs(JsonNode array) {
        long[] out = new long[array.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = array.get(i).asLong();
        }
        return out;
    }

    static float[] floats(JsonNode node) {
        List<Float> values = new java.util.ArrayList<>();
        flatten(node, values);
        float[] out = new float[values.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = values.get(i);
        }
        return out;
    }

    private static void flatten(JsonNode node, List<Float> out) {
        if (node.isArray()) {
            node.forEach(n -> flatten(n, out));
        } else {
            out.add((float) node.asDouble());
        }
    }

    @Test
    void importedWeightsEqualTheHuggingFaceCheckpointTheyWereMadeFrom() {
        try (PretrainedModel tfhub = new TfHubSource(LAYOUT).open(Map.of());
                PretrainedModel hf = HfSources.folder(HF).open(Map.of())) {
            assertThat(tfhub.weights().names()).hasSize(39);
            for (String name : tfhub.weights().names()) {
                TensorData mine = tfhub.weights().read(name);
                TensorData theirs = hf.weights().read("bert." + name).toFloat32();
                assertThat(mine.shape()).as(name).isEqualTo(theirs.shape());
                assertThat(tfhub.weights().info(name).shape()).as(name).isEqualTo(theirs.shape());
                assertThat(mine.toFloatArray()).as(name).containsExactly(theirs.toFloatArray());
            }
            assertThat(tfhub.config().getString("hidden_act", "?")).isEqualTo("gelu");
            assertThat(tfhub.config().requireInt("num_attention_heads")).isEqualTo(hf.config().requireInt("num_attention_heads"));
            assertThat(tfhub.config().requireInt("num_hidden_layers")).isEqualTo(hf.config().requireInt("num_hidden_layers"));
        }
    }

    @Test
    void importedModelComputesTheReferenceOutputsOnTensorFlow() throws IOException {
        JsonNode ref = new ObjectMapper().readTree(LAYOUT.resolve("reference.json").toFile());
        float[] classifierW = floats(ref.get("classifier").get("weight"));
        float[] classifierB = floats(ref.get("classifier").get("bias"));
        double worst = 0;
        try (PretrainedModel tfhub = new TfHubSource(LAYOUT).open(Map.of())) {
            ModelDefinition def = new Bert().define(tfhub.config(), new HeadSpec(HeadKind.SEQUENCE_CLASSIFICATION, 2));
            WeightBinder binder = new WeightBinder(def, tfhub.weights(), 42);
            assertThat(binder.report().missing()).containsExactlyInAnyOrder("classifier.weight", "classifier.bias");
            ParameterSource withClassifier = p -> switch (p.name()) {
                case "classifier.weight" -> TensorData.ofFloats(p.shape(), classifierW);
                case "classifier.bias" -> TensorData.ofFloats(p.shape(), classifierB);
                default -> binder.valueOf(p);
            };
            try (LoweredModel model = new TensorFlowEngineProvider().create().lower(def, withClassifier,
                    EngineOptions.defaults())) {
                for (JsonNode c : ref.get("cases")) {
                    long[] ids = longs(c.get("input_word_ids"));
                    String pair = c.path("text_pair").isNull() || c.path("text_pair").isMissingNode() ? null
                            : c.get("text_pair").asText();
                    assertThat(tfhub.tokenizer().encode(c.get("text").asText(), pair, 512).ids()).containsExactly(ids);
                    long[] shape = {1, ids.length};
                    Map<String, TensorData> in = new LinkedHashMap<>();
                    in.put("input_ids", TensorData.ofLongs(shape, ids));
                    in.put("attention_mask", TensorData.ofLongs(shape, longs(c.get("input_mask"))));
                    in.put("token_type_ids", TensorData.ofLongs(shape, longs(c.get("input_type_ids"))));
                    float[] logits = model.predict(new Batch(in, 1)).get("logits").toFloatArray();
                    float[] expected = floats(c.get("hf_classifier_logits"));
                    for (int i = 0; i < expected.length; i++) {
                        worst = Math.max(worst, Math.abs(logits[i] - expected[i]));
                    }
                }
            }
        }
        System.out.printf("TF Hub import: max |logit - reference| = %.3g%n", worst);
        assertThat(worst).isLessThanOrEqualTo(1e-4);
    }

    @Test
    void resolvesEveryEncoderVariableOfARealTfHubGraph() {
        List<String> names = TfHubSource.savedVariableNames(REAL_GRAPH);
        Map<String, String> mapped = TfHubBertLayout.resolveAll(names, REAL_GRAPH.toString());
        TreeSet<String> expected = new TreeSet<>(List.of("embeddings.word_embeddings.weight",
                "embeddings.position_embeddings.weight", "embeddings.token_type_embeddings.weight",
                "embeddings.LayerNorm.weight", "embeddings.LayerNorm.bias", "pooler.dense.weight", "pooler.dense.bias"));
        for (int l = 0; l < 2; l++) {
            String p = "encoder.layer." + l + ".";
            for (String qkv : List.of("query", "key", "value")) {
                expected.add(p + "attention.self." + qkv + ".weight");
                expected.add(p + "attention.self." + qkv + ".bias");
            }
            for (String m : List.of("attention.output.dense", "attention.output.LayerNorm", "intermediate.dense",
                    "output.dense", "output.LayerNorm")) {
                expected.add(p + m + ".weight");
                expected.add(p + m + ".bias");
            }
        }
        System.out.println("real TF Hub variable names: " + names);
        assertThat(new TreeSet<>(mapped.keySet())).isEqualTo(expected);
        assertThat(TfHubSource.graphActivation(REAL_GRAPH)).isEqualTo("gelu_new");
    }

    @Test
    void theSourceProviderTakesSavedModelFoldersForAttuneLoad(@TempDir Path dir) throws IOException {
        PluginRegistry registry = PluginRegistry.discover();
        assertThat(registry.source(LAYOUT).describe()).isEqualTo(LAYOUT + " (TF Hub SavedModel)");
        try (Attune attune = Attune.builder().engine("tensorflow").registry(registry).build();
                PretrainedModel loaded = attune.load(LAYOUT.toString());
                PretrainedModel direct = new TfHubSource(LAYOUT).open(Map.of())) {
            assertThat(loaded.weights().names()).isEqualTo(direct.weights().names());
            assertThat(loaded.config().toJson()).isEqualTo(direct.config().toJson());
        }
        // a SavedModel folder whose variables are incomplete is still read as one: the error says what it lacks
        Files.copy(REAL_GRAPH, dir.resolve("saved_model.pb"));
        Files.createDirectories(dir.resolve("variables"));
        assertThatThrownBy(() -> registry.source(dir).open(Map.of())).isInstanceOf(InvalidCheckpointException.class)
                .hasMessageContaining("variables/variables.index");
    }

    @Test
    void aFolderWithoutVariablesIsATypedErrorSayingWhatToDo(@TempDir Path dir) throws IOException {
        Files.copy(REAL_GRAPH, dir.resolve("saved_model.pb"));
        assertThatThrownBy(() -> new TfHubSource(dir).open(Map.of()))
                .isInstanceOf(InvalidCheckpointException.class)
                .hasMessageContaining("variables/variables.index").hasMessageContaining("download");
        Files.createDirectories(dir.resolve("variables"));
        Files.write(dir.resolve("variables").resolve("variables.index"), new byte[] {1, 2, 3});
        assertThatThrownBy(() -> new TfHubSource(dir).open(Map.of()))
                .isInstanceOf(InvalidCheckpointException.class)
                .hasMessageContaining("variables.index");
    }
}
