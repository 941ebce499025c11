package dev.attune.engine.onnx;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.attune.PluginRegistry;
import dev.attune.core.internal.WeightBinder;
import dev.attune.engine.EngineOptions;
import dev.attune.engine.LoweredModel;
import dev.attune.engine.onnx.OnnxExportOptions.Operators;
import dev.attune.engine.onnx.OnnxExportOptions.Quantization;
import dev.attune.engine.onnx.proto.OnnxProto.ModelProto;
import dev.attune.engine.onnx.proto.OnnxProto.NodeProto;
import dev.attune.engine.onnx.proto.OnnxProto.TensorProto;
import dev.attune.error.ConfigurationException;
import dev.attune.error.InvalidCheckpointException;
import dev.attune.formats.hf.HfSources;
import dev.attune.model.ModelDefinition;
import dev.attune.model.PretrainedModel;
import dev.attune.ops.TensorData;
import dev.attune.testing.SharedFiles;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The two operator sets of the ONNX export and its int8 quantization. {@code ort} (the default;
 * {@link OnnxExportParityTest} holds every family of it to HuggingFace within 1e-4) must actually
 * contain ONNX Runtime's fused kernels where the model has the composite, {@code plain} none of them
 * and still match HuggingFace; an int8 export must be about a quarter of the float32 file, run on
 * ONNX Runtime with the float model's predictions, and be refused where its float weights would be
 * needed.
 */
class OnnxFusedKernelsTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path tmp;

    /** Exports a fixture with its head; @return the export folder. */
    private static Path export(String fixture, OnnxExportOptions options, Path out) throws IOException {
        Path folder = SharedFiles.path("fixtures/hf/" + fixture);
        PluginRegistry registry = PluginRegistry.discover();
        try (PretrainedModel base = HfSources.folder(folder).open(Map.of());
                var torch = registry.engine("pytorch").create()) {
            ModelDefinition def = registry.family(base.config().modelType())
                    .define(base.config(), OnnxExportParityTest.headOf(fixture, base));
            WeightBinder binder = new WeightBinder(def, base.weights(), 42);
            try (LoweredModel pt = torch.lower(def, binder, EngineOptions.defaults())) {
                OnnxExporter.export(pt, base.config(), base.tokenizer(), Map.of(), out, options);
            }
        }
        return out;
    }

    private static ModelProto read(Path folder) throws IOException {
        try (InputStream in = Files.newInputStream(folder.resolve(OnnxExporter.MODEL_FILE))) {
            return ModelProto.parseFrom(in);
        }
    }

    private static Map<String, Integer> opCounts(ModelProto m) {
        Map<String, Integer> counts = new HashMap<>();
        for (NodeProto n : m.getGraph().getNodeList()) {
            counts.merge((n.getDomain().isEmpty() ? "" : n.getDomain() + ":") + n.getOpType(), 1, Integer::sum);
        }
        return counts;
    }

    /** @return the batch logits of an exported folder run in ONNX Runtime on the fixture's padded batch */
    private static float[] batchLogits(Path folder, JsonNode reference) {
        OnnxExportParityTest.Input batch = OnnxExportParityTest.inputs(reference).stream()
                .filter(i -> i.label().equals("batch")).findFirst().orElseThrow();
        try (LoweredModel ort = OnnxModels.load(folder, new EngineOptions(EngineOptions.DeviceSpec.CPU, 2, 0))) {
            return ort.predict(batch.batch()).get("logits").toFloatArray();
        }
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource({
        // fixture, layers; fused attention, skip layer norms, bias-gelu, fast-gelu
        "bert-seqcls, 2, 2, 5, 2, 0",
        "distilbert-seqcls, 2, 2, 4, 2, 0",
        "roberta-seqcls, 2, 2, 4, 2, 0",
        "gpt2-lm, 2, 0, 0, 0, 2"})
    void theOrtExportHasTheFusedKernelsAndThePlainExportOnlyStandardOps(String fixture, int layers, int attention,
            int skipNorms, int biasGelu, int fastGelu) throws IOException {
        ModelProto ort = read(export(fixture, OnnxExportOptions.defaults(), tmp.resolve("ort")));
        Map<String, Integer> ops = opCounts(ort);
        assertThat(ops.getOrDefault("com.microsoft:MultiHeadAttention", 0)).as("%s attention kernels", fixture)
                .isEqualTo(attention);
        assertThat(ops.getOrDefault("com.microsoft:SkipLayerNormalization", 0)).as("%s skip layer norms", fixture)
                .isGreaterThanOrEqualTo(skipNorms);
        assertThat(ops.getOrDefault("com.microsoft:BiasGelu", 0)).as("%s bias-gelu", fixture).isEqualTo(biasGelu);
        assertThat(ops.getOrDefault("com.microsoft:FastGelu", 0)).as("%s fast gelu", fixture).isEqualTo(fastGelu);
        if (attention == layers) {
            assertThat(ops).as("%s: no softmax left outside the fused attention", fixture).doesNotContainKey("Softmax");
        }
        assertThat(ort.getOpsetImportList()).anyMatch(o -> o.getDomain().equals("com.microsoft"));
        assertThat(ort.getMetadataPropsList()).anyMatch(e -> e.getKey().equals("attune.operators")
                && e.getValue().equals("ort"));

        ModelProto plain = read(export(fixture, OnnxExportOptions.defaults().withOperators(Operators.PLAIN),
                tmp.resolve("plain")));
        assertThat(plain.getGraph().getNodeList()).as("%s plain export: standard ONNX only", fixture)
                .allMatch(n -> n.getDomain().isEmpty());
        assertThat(plain.getOpsetImportList()).noneMatch(o -> o.getDomain().equals("com.microsoft"));
        // the same weights under the same HuggingFace names in both
        assertThat(names(ort)).containsAll(names(plain).stream().filter(n -> !n.startsWith("const_")).toList());
    }

    private static List<String> names(ModelProto m) {
        return m.getGraph().getInitializerList().stream().map(TensorProto::getName).toList();
    }

    @Test
    void thePlainExportMatchesHuggingFaceToo() throws IOException {
        JsonNode reference = JSON.readTree(SharedFiles.path("fixtures/hf/bert-seqcls/reference.json").toFile());
        Path plain = export("bert-seqcls", OnnxExportOptions.defaults().withOperators(Operators.PLAIN), tmp.resolve("p"));
        Path ort = export("bert-seqcls", OnnxExportOptions.defaults(), tmp.resolve("o"));
        double[] hf = OnnxExportParityTest.doubles(reference.get("batch").get("logits"));
        for (Path folder : List.of(plain, ort)) {
            float[] got = batchLogits(folder, reference);
            assertThat(got).hasSize(hf.length);
            for (int i = 0; i < hf.length; i++) {
                assertThat((double) got[i]).as("%s logit %d vs HF", folder.getFileName(), i)
                        .isCloseTo(hf[i], org.assertj.core.data.Offset.offset(1e-4));
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource({
        // operators, int8 product op, QAttention nodes (each the q, k, v products of a layer), float MatMuls
        // left (plain attention's q k^T and p v: activations only), tanh GELUs (the fused export's erf GELU
        // before a quantized product)
        "ORT, com.microsoft:MatMulIntegerToFloat, 2, 0, 2",
        "PLAIN, MatMulInteger, 0, 4, 0"})
    void anInt8ExportIsAQuarterOfTheFileAndPredictsAsTheFloatModel(Operators operators, String product,
            int qAttentions, int floatProducts, int fastGelus) throws IOException {
        JsonNode reference = JSON.readTree(SharedFiles.path("fixtures/hf/bert-seqcls/reference.json").toFile());
        OnnxExportOptions fp32 = OnnxExportOptions.defaults().withOperators(operators);
        Path floatFolder = export("bert-seqcls", fp32, tmp.resolve("fp32"));
        Path int8Folder = export("bert-seqcls", fp32.withQuantize(Quantization.INT8), tmp.resolve("int8"));
        ModelProto m = read(int8Folder);
        Map<String, Integer> ops = opCounts(m);
        // 2 layers x (q, k, v, attention output, intermediate, output) + pooler + classifier
        assertThat(ops.getOrDefault("com.microsoft:QAttention", 0)).as("QAttention").isEqualTo(qAttentions);
        assertThat(ops.getOrDefault(product, 0) + 3 * qAttentions).as("int8 products").isEqualTo(14);
        assertThat(ops).as("no float attention left beside QAttention").doesNotContainKey(
                qAttentions > 0 ? "com.microsoft:MultiHeadAttention" : "com.microsoft:QAttention");
        assertThat(ops.getOrDefault("MatMul", 0)).as("float products left").isEqualTo(floatProducts);
        assertThat(ops.getOrDefault("com.microsoft:FastGelu", 0)).as("tanh GELU").isEqualTo(fastGelus);
        assertThat(ops).as("no erf GELU kernel left").doesNotContainKeys("com.microsoft:BiasGelu", "com.microsoft:Gelu");
        for (NodeProto n : m.getGraph().getNodeList()) {
            if (n.getOpType().equals("MatMul")) {
                assertThat(n.getInputList()).as("a float product of two activations")
                        .noneMatch(i -> m.getGraph().getInitializerList().stream().anyMatch(t -> t.getName().equals(i)));
            }
        }
        assertThat(ops.get("DynamicQuantizeLinear")).as("one activation quantization per distinct input: q/k/v share")
                .isEqualTo(10);
        for (TensorProto t : m.getGraph().getInitializerList()) {
            long elements = t.getDimsList().stream().mapToLong(Long::longValue).reduce(1, (a, b) -> a * b);
            if (t.getDataType() == TensorProto.DataType.FLOAT_VALUE) {
                assertThat(elements).as("float initializer %s", t.getName()).isLessThan(4096);
            }
        }
        assertThat(m.getMetadataPropsList()).anyMatch(e -> e.getKey().equals("attune.quantize")
                && e.getValue().equals("int8"));
        long floatBytes = Files.size(floatFolder.resolve(OnnxExporter.MODEL_FILE));
        long int8Bytes = Files.size(int8Folder.resolve(OnnxExporter.MODEL_FILE));
        // this tiny fixture (hidden 32) carries relatively more float LayerNorm/bias/scales/graph than a real model
        // (BERT-mini's int8 file is 25.5% of its float32 file)
        assertThat((double) int8Bytes / floatBytes).as("int8 / float32 file size").isLessThanOrEqualTo(0.36);

        float[] want = batchLogits(floatFolder, reference);
        float[] got = batchLogits(int8Folder, reference);
        double max = 0;
        for (int i = 0; i < want.length; i++) {
            max = Math.max(max, Math.abs(got[i] - want[i]));
        }
        assertThat(max).as("max |int8 - float32| logit").isLessThan(1e-2).isGreaterThan(0);
        for (int r = 0; r < want.length / 2; r++) {
            assertThat(OnnxExportParityTest.argmax(got, 2 * r, 2)).as("row %d label", r)
                    .isEqualTo(OnnxExportParityTest.argmax(want, 2 * r, 2));
        }
        // its weights are not float initializers under HuggingFace names: other engines are refused, typed
        OnnxWeights weights = new OnnxWeights(int8Folder.resolve(OnnxExporter.MODEL_FILE));
        assertThat(weights.names()).as("quantized weights listed under their HuggingFace names")
                .contains("bert.encoder.layer.0.attention.self.query.weight",
                        "bert.encoder.layer.0.attention.self.value.weight", "bert.embeddings.word_embeddings.weight");
        assertThatThrownBy(() -> weights.read("bert.encoder.layer.0.attention.self.query.weight"))
                .isInstanceOf(InvalidCheckpointException.class).hasMessageContaining("int8-quantized")
                .hasMessageContaining("--engine onnx");
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource({
        // fixture, RMSNorms: 2 per layer + the final one
        "llama-lm, 5",
        "qwen2-lm, 5",
        "llama-seqcls, 5"})
    void llamaRmsNormIsSimplifiedLayerNormalizationAndBothFormsMatchHuggingFace(String fixture, int norms)
            throws IOException {
        JsonNode reference = JSON.readTree(SharedFiles.path("fixtures/hf/" + fixture + "/reference.json").toFile());
        Path ort = export(fixture, OnnxExportOptions.defaults(), tmp.resolve("ort"));
        Path plain = export(fixture, OnnxExportOptions.defaults().withOperators(Operators.PLAIN), tmp.resolve("plain"));
        Map<String, Integer> fused = opCounts(read(ort));
        assertThat(fused.getOrDefault("SimplifiedLayerNormalization", 0)).as("fused RMSNorms").isEqualTo(norms);
        assertThat(fused).as("no RMSNorm composite left").doesNotContainKeys("ReduceMean", "Pow");
        Map<String, Integer> standard = opCounts(read(plain));
        assertThat(standard).as("plain export: the composite").doesNotContainKey("SimplifiedLayerNormalization");
        assertThat(standard.getOrDefault("ReduceMean", 0)).as("plain RMSNorms' means").isEqualTo(norms);
        for (Path folder : List.of(ort, plain)) {
            try (LoweredModel m = OnnxModels.load(folder, new EngineOptions(EngineOptions.DeviceSpec.CPU, 2, 0))) {
                for (OnnxExportParityTest.Input in : OnnxExportParityTest.inputs(reference)) {
                    if (!in.expected().has("logits")) {
                        continue;
                    }
                    double[] hf = OnnxExportParityTest.doubles(in.expected().get("logits"));
                    float[] got = m.predict(in.batch()).get("logits").toFloatArray();
                    assertThat(got).as("%s %s logits", folder.getFileName(), in.label()).hasSize(hf.length);
                    for (int i = 0; i < hf.length; i++) {
                        assertThat((double) got[i]).as("%s %s %s logit %d vs HF", fixture, folder.getFileName(),
                                in.label(), i).isCloseTo(hf[i], org.assertj.core.data.Offset.offset(1e-4));
                    }
                }
            }
        }
    }

    @Test
    void optimizeSavesOnnxRuntimesOptimizedGraphBesideTheExportWithItsLogits() throws IOException {
        JsonNode reference = JSON.readTree(SharedFiles.path("fixtures/hf/bert-seqcls/reference.json").toFile());
        Path folder = export("bert-seqcls", OnnxExportOptions.defaults().withOptimize(true), tmp.resolve("opt"));
        Path optimized = folder.resolve("model_optimized.onnx");
        assertThat(optimized).isRegularFile();
        ModelProto exported = read(folder);
        ModelProto ortGraph;
        try (InputStream in = Files.newInputStream(optimized)) {
            ortGraph = ModelProto.parseFrom(in);
        }
        // ONNX Runtime's graph, not a copy: linear's Transpose of each weight is folded into a constant
        assertThat(opCounts(exported).getOrDefault("Transpose", 0)).as("exported weight transposes").isPositive();
        assertThat(ortGraph.getGraph().getNodeCount()).as("optimized nodes")
                .isLessThan(exported.getGraph().getNodeCount());
        float[] want = batchLogits(folder, reference);
        float[] got = batchLogits(optimized, reference);
        assertThat(got).hasSize(want.length);
        for (int i = 0; i < want.length; i++) {
            assertThat(got[i]).as("logit %d of the optimized graph", i)
                    .isCloseTo(want[i], org.assertj.core.data.Offset.offset(1e-5f));
        }
        // without the option there is no optimized file
        assertThat(export("bert-seqcls", OnnxExportOptions.defaults(), tmp.resolve("plain")).resolve(
                "model_optimized.onnx")).doesNotExist();
        assertThat(OnnxExportOptions.fromMap(Map.of("optimize", "true")).optimize()).isTrue();
        assertThatThrownBy(() -> OnnxExportOptions.fromMap(Map.of("optimize", "yes")))
                .isInstanceOf(ConfigurationException.class).hasMessageContaining("optimize=yes");
    }

    @Test
    void exportOptionsNameTheirValuesAndRefuseBadOnes() {
        OnnxExportOptions o = OnnxExportOptions.fromMap(Map.of("ops", "plain", "quantize", "int8"));
        assertThat(o.operators()).isEqualTo(Operators.PLAIN);
        assertThat(o.quantize()).isEqualTo(Quantization.INT8);
        assertThat(OnnxExportOptions.fromMap(o.toMap())).isEqualTo(o);
        assertThat(OnnxExportOptions.defaults().operators()).isEqualTo(Operators.ORT);
        assertThatThrownBy(() -> OnnxExportOptions.fromMap(Map.of("quantize", "int4")))
                .isInstanceOf(ConfigurationException.class).hasMessageContaining("quantize=int4")
                .hasMessageContaining("[none, int8]");
        assertThatThrownBy(() -> OnnxExportOptions.fromMap(Map.of("ops", "tensorrt")))
                .isInstanceOf(ConfigurationException.class).hasMessageContaining("ops=tensorrt")
                .hasMessageContaining("[ort, plain]");
        assertThatThrownBy(() -> OnnxExportOptions.fromMap(Map.of("quantize", "int8", "fp16", "true")))
                .isInstanceOf(ConfigurationException.class).hasMessageContaining("do not combine");
    }
}
