package dev.attune.engine.onnx;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.attune.Attune;
import dev.attune.model.FineTunedModel;
import dev.attune.engine.Batch;
import dev.attune.engine.EngineOptions.DeviceSpec;
import dev.attune.engine.EngineOptions;
import dev.attune.engine.LoweredModel;
import dev.attune.error.EngineException;
import dev.attune.error.InvalidCheckpointException;
import dev.attune.generate.GenerationConfig;
import dev.attune.core.generate.Generator;
import dev.attune.model.HeadSpec.HeadKind;
import dev.attune.model.HeadSpec;
import dev.attune.model.PretrainedModel;
import dev.attune.ops.TensorData;
import dev.attune.task.Prediction;
import dev.attune.testing.SharedFiles;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The ONNX Runtime backend behind the SDK's own API: a file made by {@code torch.onnx.export}
 * reproduces HuggingFace's logits; a fine-tuned model exported by Attune predicts the same labels
 * through ONNX Runtime as on PyTorch; the {@code onnx} engine lowers definitions directly; GPT-2
 * exported with past key/values generates through the cache exactly as without it and as
 * HuggingFace; float16 weights and external data load and stay close.
 */
class OnnxRuntimeServingTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final EngineOptions TWO_THREADS = new EngineOptions(DeviceSpec.CPU, 2, 0);

    private static JsonNode reference(String fixture) throws IOException {
        return JSON.readTree(SharedFiles.path("fixtures/hf/" + fixture + "/reference.json").toFile());
    }

    @Test
    void torchExportedFileReproducesItsReferenceLogits() throws IOException {
        Path file = SharedFiles.path("fixtures/hf/bert-seqcls/torch_export.onnx");
        JsonNode ref = reference("bert-seqcls");
        try (Attune attune = Attune.builder().engine("onnx").device(DeviceSpec.CPU).numThreads(2).build();
                PretrainedModel base = attune.load(file);
                FineTunedModel m = attune.open(base, attune.task("text-classification", Map.of())
                        .withLabels(List.of("LABEL_0", "LABEL_1")), 128)) {
            assertThat(m.engineName()).isEqualTo("onnx");
            // the file's own graph runs: its initializers are not HuggingFace-named, nothing was rebuilt
            assertThat(m.lowered().definition().parameters().all()).isEmpty();
            int checked = 0;
            int predicted = 0;
            for (JsonNode c : ref.get("cases")) {
                long[] ids = OnnxExportParityTest.longs(c.get("input_ids"));
                long[] shape = {1, ids.length};
                Map<String, TensorData> in = new LinkedHashMap<>();
                in.put("input_ids", TensorData.ofLongs(shape, ids));
                in.put("attention_mask", TensorData.ofLongs(shape, OnnxExportParityTest.longs(c.get("attention_mask"))));
                in.put("token_type_ids", TensorData.ofLongs(shape, OnnxExportParityTest.longs(c.get("token_type_ids"))));
                float[] got = m.lowered().predict(new Batch(in, 1)).get("logits").toFloatArray();
                double[] want = OnnxExportParityTest.doubles(c.get("logits"));
                assertThat(got).hasSize(want.length);
                for (int i = 0; i < want.length; i++) {
                    assertThat((double) got[i]).as("case %d logit %d", checked, i)
                            .isCloseTo(want[i], org.assertj.core.data.Offset.offset(1e-4));
                }
                // the predictor tokenises the text itself with the folder's tokenizer: same label (the folder
                // declares no task, so it serves single-text classification; pair cases are checked above)
                if (c.path("text_pair").isNull() || c.path("text_pair").isMissingNode()) {
                    Prediction p = m.predictor().predict(Map.of("text", c.get("text").asText()));
                    assertThat(p.toMap().get("label")).as("predicted label of %s", c.get("text"))
                            .isEqualTo("LABEL_" + OnnxExportParityTest.argmax(got, 0, got.length));
                    predicted++;
                }
                checked++;
            }
            assertThat(checked).isGreaterThanOrEqualTo(4);
            assertThat(predicted).isGreaterThanOrEqualTo(2);
        }
    }

    @Test
    void fineTunedModelExportsAndServesTheSameLabels(@TempDir Path tmp) {
        List<String> labels = List.of("negative", "positive");
        List<Map<String, String>> texts = List.of(Map.of("text", "I loved this movie, the acting was wonderful."),
                Map.of("text", "Terrible plot and boring characters!"), Map.of("text", "WINNER!! Claim your free prize now"),
                Map.of("text", "The cat sat on the mat."));
        Path folder = tmp.resolve("onnx");
        List<Prediction> onTorch;
        try (Attune attune = Attune.builder().engine("pytorch").build();
                PretrainedModel base = attune.load(SharedFiles.path("fixtures/hf/bert-seqcls"));
                FineTunedModel m = attune.prepare(base,
                        attune.task("text-classification", Map.of()).withLabels(labels), 64)) {
            onTorch = m.predictor().predictAll(texts);
            OnnxExporter.export(m, folder, OnnxExportOptions.defaults());
        }
        assertThat(folder.resolve("model.onnx")).isRegularFile();
        assertThat(folder.resolve("tokenizer.json")).isRegularFile();
        assertThat(folder.resolve("config.json")).isRegularFile();
        try (Attune attune = Attune.builder().engine("onnx").build(); FineTunedModel served = attune.open(folder)) {
            assertThat(served.engineName()).isEqualTo("onnx");
            assertThat(served.task().name()).isEqualTo("text-classification");
            assertThat(served.task().labels()).containsExactlyElementsOf(labels);
            assertThat(served.maxLength()).isEqualTo(64);
            List<Prediction> onOrt = served.predictor().predictAll(texts);
            for (int i = 0; i < texts.size(); i++) {
                assertThat(onOrt.get(i).toMap().get("label")).as("label of %s", texts.get(i))
                        .isEqualTo(onTorch.get(i).toMap().get("label"));
                assertThat(((Number) onOrt.get(i).toMap().get("score")).doubleValue()).isCloseTo(
                        ((Number) onTorch.get(i).toMap().get("score")).doubleValue(), org.assertj.core.data.Offset.offset(1e-4));
            }
            assertThatThrownBy(() -> served.lowered().startTraining(java.util.Set.of(), java.util.List.of())).isInstanceOf(EngineException.class)
                    .hasMessageContaining("inference only");
        }
    }

    @Test
    void onnxEngineLowersDefinitionsLikeThePyTorchEngine() {
        float[] torch;
        float[] onnx;
        Map<String, String> input = Map.of("text", "Are we still meeting for lunch tomorrow?");
        try (Attune attune = Attune.builder().engine("pytorch").build();
                PretrainedModel base = attune.load(SharedFiles.path("fixtures/hf/roberta-seqcls"));
                FineTunedModel m = attune.prepare(base, attune.task("text-classification", Map.of())
                        .withLabels(List.of("a", "b")), 64)) {
            torch = logits(m, input);
        }
        try (Attune attune = Attune.builder().engine("onnx").numThreads(2).build();
                PretrainedModel base = attune.load(SharedFiles.path("fixtures/hf/roberta-seqcls"));
                FineTunedModel m = attune.prepare(base, attune.task("text-classification", Map.of())
                        .withLabels(List.of("a", "b")), 64)) {
            assertThat(attune.engine().describe()).contains("onnxruntime");
            onnx = logits(m, input);
            // parameters stay readable, so a model lowered on onnx can still be saved
            assertThat(m.stateDict()).containsKey("classifier.out_proj.weight");
        }
        assertThat(onnx).hasSize(2);
        for (int i = 0; i < torch.length; i++) {
            assertThat((double) onnx[i]).isCloseTo(torch[i], org.assertj.core.data.Offset.offset(1e-4));
        }
    }

    private static float[] logits(FineTunedModel m, Map<String, String> input) {
        List<float[]> out = new ArrayList<>();
        m.run(m.task().encode(m.task().parseInput(input), 0, m.tokenizer(), 64), 1, 0,
                (f, o) -> out.add(o.get("logits")));
        return out.get(0);
    }

    @Test
    void gpt2WithPastGeneratesThroughTheCacheAsHuggingFace(@TempDir Path tmp) throws IOException {
        JsonNode gen = reference("gpt2-lm").get("generate");
        long[] prompt = OnnxExportParityTest.longs(gen.get("prompt_ids"));
        long[] expected = OnnxExportParityTest.longs(gen.get("greedy_ids"));
        Path folder = tmp.resolve("gpt2");
        try (Attune attune = Attune.builder().engine("pytorch").build();
                PretrainedModel base = attune.load(SharedFiles.path("fixtures/hf/gpt2-lm"));
                LoweredModel lm = attune.lower(base, new HeadSpec(HeadKind.CAUSAL_LM, 0))) {
            OnnxExporter.export(lm, base.config(), base.tokenizer(), Map.of(), folder, OnnxExportOptions.defaults());
        }
        try (LoweredModel ort = OnnxModels.load(folder, TWO_THREADS)) {
            Generator generator = new Generator(ort);
            assertThat(generator.supportsCache()).isTrue();
            GenerationConfig greedy = GenerationConfig.builder().maxNewTokens(gen.get("max_new_tokens").asInt()).build();
            List<Integer> runLengths = new ArrayList<>();
            long[] cached = new Generator(new CountingModel(ort, runLengths)).generate(prompt, greedy);
            assertThat(cached).containsExactly(expected);
            // after the prompt, every step ran one token: the cache was used
            assertThat(runLengths.get(0)).isEqualTo(prompt.length);
            assertThat(runLengths.subList(1, runLengths.size())).allMatch(n -> n == 1);
            long[] uncached = generator.generate(prompt, greedy.toBuilder().useCache(false).build());
            assertThat(uncached).containsExactly(expected);
        }
    }

    /** Records how many tokens each step feeds. */
    private record CountingModel(LoweredModel inner, List<Integer> lengths) implements LoweredModel {
        @Override
        public dev.attune.model.ModelDefinition definition() {
            return inner.definition();
        }

        @Override
        public String device() {
            return inner.device();
        }

        @Override
        public Map<String, TensorData> predict(Batch batch) {
            lengths.add((int) batch.get("input_ids").shape()[1]);
            return inner.predict(batch);
        }

        @Override
        public dev.attune.engine.TrainingSession startTraining(java.util.Set<String> frozen, java.util.List<String> slots) {
            throw new UnsupportedOperationException();
        }

        @Override
        public TensorData read(dev.attune.ops.Parameter parameter) {
            return inner.read(parameter);
        }

        @Override
        public void close() {}
    }

    @Test
    void float16WeightsAndExternalDataLoadAndStayClose(@TempDir Path tmp) throws IOException {
        Path fp32 = tmp.resolve("fp32");
        Path fp16 = tmp.resolve("fp16");
        Path external = tmp.resolve("external");
        try (Attune attune = Attune.builder().engine("pytorch").build();
                PretrainedModel base = attune.load(SharedFiles.path("fixtures/hf/bert-mlm"));
                LoweredModel mlm = attune.lower(base, new HeadSpec(HeadKind.MASKED_LM, 0))) {
            OnnxExporter.export(mlm, base.config(), base.tokenizer(), Map.of(), fp32, OnnxExportOptions.defaults());
            OnnxExporter.export(mlm, base.config(), base.tokenizer(), Map.of(), fp16,
                    OnnxExportOptions.defaults().withFloat16Weights(true));
            OnnxExporter.export(mlm, base.config(), base.tokenizer(), Map.of(), external,
                    OnnxExportOptions.defaults().withExternalDataThreshold(0));
        }
        long size32 = Files.size(fp32.resolve("model.onnx"));
        long size16 = Files.size(fp16.resolve("model.onnx"));
        assertThat((double) size16 / size32).as("float16 file size ratio").isBetween(0.4, 0.6);
        assertThat(external.resolve("model.onnx_data")).isRegularFile();
        assertThat(Files.size(external.resolve("model.onnx"))).isLessThan(size32 / 4);

        JsonNode c = reference("bert-mlm").get("cases").get(0);
        long[] ids = OnnxExportParityTest.longs(c.get("input_ids"));
        Batch batch = new Batch(Map.of("input_ids", TensorData.ofLongs(new long[] {1, ids.length}, ids)), 1);
        float[] a;
        float[] b;
        float[] e;
        try (LoweredModel m32 = OnnxModels.load(fp32, TWO_THREADS);
                LoweredModel m16 = OnnxModels.load(fp16, TWO_THREADS);
                LoweredModel mx = OnnxModels.load(external, TWO_THREADS)) {
            a = m32.predict(batch).get("logits").toFloatArray();
            b = m16.predict(batch).get("logits").toFloatArray();
            e = mx.predict(batch).get("logits").toFloatArray();
        }
        assertThat(e).containsExactly(a);
        double max = 0;
        for (int i = 0; i < a.length; i++) {
            max = Math.max(max, Math.abs(a[i] - b[i]));
        }
        assertThat(max).as("float16 weights vs float32").isLessThan(1e-2).isGreaterThan(0);
    }

    @Test
    void missingFileIsATypedErrorNamingIt(@TempDir Path tmp) throws IOException {
        try (Attune attune = Attune.builder().engine("onnx").build()) {
            assertThatThrownBy(() -> attune.open(tmp.resolve("nothing.onnx"))).isInstanceOf(InvalidCheckpointException.class)
                    .hasMessageContaining("nothing.onnx");
        }
        assertThatThrownBy(() -> OnnxModels.load(tmp.resolve("nothing.onnx"), TWO_THREADS))
                .isInstanceOf(InvalidCheckpointException.class).hasMessageContaining("nothing.onnx");
        Path garbage = tmp.resolve("garbage.onnx");
        Files.writeString(garbage, "not a model");
        assertThatThrownBy(() -> OnnxModels.load(garbage, TWO_THREADS)).isInstanceOf(InvalidCheckpointException.class)
                .hasMessageContaining("garbage.onnx");
    }
}
