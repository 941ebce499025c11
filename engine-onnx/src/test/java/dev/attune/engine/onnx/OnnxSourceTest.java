package dev.attune.engine.onnx;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.attune.Attune;
import dev.attune.PluginRegistry;
import dev.attune.error.ConfigurationException;
import dev.attune.model.FineTunedModel;
import dev.attune.model.ModelSource;
import dev.attune.model.PretrainedModel;
import dev.attune.ops.TensorData;
import dev.attune.task.Prediction;
import dev.attune.testing.SharedFiles;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.assertj.core.data.Offset;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * An ONNX export is a checkpoint like any other: the {@code onnx} source provider reads its
 * HuggingFace-named initializers (inline, float16 or external data) back exactly, so the folder
 * reopens on PyTorch with the predictions it was exported with; export formats and their options
 * are checked by name.
 */
class OnnxSourceTest {
    private static final List<Map<String, String>> TEXTS = List.of(
            Map.of("text", "I loved this movie, the acting was wonderful."),
            Map.of("text", "Terrible plot and boring characters!"), Map.of("text", "The cat sat on the mat."));

    @TempDir
    Path tmp;

    private FineTunedModel classifier(Attune attune) {
        PretrainedModel base = attune.load(SharedFiles.path("fixtures/hf/bert-seqcls"));
        return attune.prepare(base, attune.task("text-classification", Map.of()).withLabels(List.of("neg", "pos")), 64);
    }

    @Test
    void exportedFolderReopensOnPyTorchFromItsInitializers() {
        Path folder = tmp.resolve("onnx");
        Path half = tmp.resolve("fp16");
        Path external = tmp.resolve("external");
        Map<String, TensorData> state;
        List<Prediction> before;
        try (Attune attune = Attune.builder().engine("pytorch").build(); FineTunedModel m = classifier(attune)) {
            state = m.stateDict();
            before = m.predictor().predictAll(TEXTS);
            m.export("onnx", folder);
            m.export("onnx", half, Map.of("fp16", "true"));
            m.export("onnx", external, Map.of("external_data_bytes", "0"));
        }
        assertThat(external.resolve(OnnxExporter.DATA_FILE)).isRegularFile();

        PluginRegistry registry = PluginRegistry.discover();
        ModelSource source = registry.source(folder.toString());
        assertThat(source.describe()).endsWith("model.onnx (ONNX)");
        assertThat(source.preferredEngine()).isEqualTo(Optional.of("onnx"));
        try (PretrainedModel exact = source.open(Map.of());
                PretrainedModel outside = registry.source(external).open(Map.of());
                PretrainedModel fp16 = registry.source(half.resolve("model.onnx")).open(Map.of())) {
            assertThat(exact.config().modelType()).isEqualTo("bert");
            assertThat(exact.weights().names()).containsExactlyInAnyOrderElementsOf(state.keySet());
            assertThat(fp16.weights().names()).containsExactlyInAnyOrderElementsOf(state.keySet());
            for (Map.Entry<String, TensorData> e : state.entrySet()) {
                float[] want = e.getValue().toFloatArray();
                assertThat(exact.weights().read(e.getKey()).toFloatArray()).as(e.getKey()).containsExactly(want);
                assertThat(outside.weights().read(e.getKey()).toFloatArray()).as(e.getKey()).containsExactly(want);
                TensorData h = fp16.weights().read(e.getKey());
                assertThat(h.dtype()).isEqualTo(dev.attune.ops.DType.FLOAT16);
                float[] got = h.toFloatArray();
                for (int i = 0; i < want.length; i++) {
                    assertThat((double) got[i]).as("%s[%d] in float16", e.getKey(), i)
                            .isCloseTo(want[i], Offset.offset(1e-3 * Math.max(1, Math.abs(want[i]))));
                }
            }
        }

        // on PyTorch the folder is rebuilt from its initializers, with the task its config records
        try (Attune attune = Attune.builder().engine("pytorch").build(); FineTunedModel m = attune.open(folder)) {
            assertThat(m.engineName()).isEqualTo("pytorch");
            assertThat(m.loadReport().missing()).isEmpty();
            assertThat(m.task().labels()).containsExactly("neg", "pos");
            List<Prediction> after = m.predictor().predictAll(TEXTS);
            for (int i = 0; i < TEXTS.size(); i++) {
                assertThat(after.get(i).toMap().get("label")).isEqualTo(before.get(i).toMap().get("label"));
                assertThat(((Number) after.get(i).toMap().get("score")).doubleValue()).isCloseTo(
                        ((Number) before.get(i).toMap().get("score")).doubleValue(), Offset.offset(1e-6));
            }
        }
    }

    @Test
    void formatsAndOptionsAreCheckedByName() {
        Path out = tmp.resolve("out");
        try (Attune attune = Attune.builder().engine("pytorch").build(); FineTunedModel m = classifier(attune)) {
            assertThatThrownBy(() -> m.export("onnx", out, Map.of("fp32", "true")))
                    .isInstanceOf(ConfigurationException.class).hasMessageContaining("'fp32'")
                    .hasMessageContaining("known options").hasMessageContaining("fp16");
            assertThatThrownBy(() -> m.export("onnx", out, Map.of("fp16", "maybe")))
                    .isInstanceOf(ConfigurationException.class).hasMessageContaining("fp16=maybe");
            assertThatThrownBy(() -> m.export("tflite", out)).isInstanceOf(ConfigurationException.class)
                    .hasMessageContaining("'tflite'").hasMessageContaining("onnx").hasMessageContaining("hf");
            assertThatThrownBy(() -> m.export("hf", out, Map.of("fp16", "true")))
                    .isInstanceOf(ConfigurationException.class).hasMessageContaining("takes only the option dtype")
                    .hasMessageContaining("[fp16]");
        }
        assertThat(out).doesNotExist();
        assertThat(tmp).isDirectoryNotContaining(p -> p.getFileName().toString().startsWith(".out"));
    }

    @Test
    void aHuggingFaceFolderHoldingAnOnnxFileIsReadAsHuggingFace() throws IOException {
        Path onnx = tmp.resolve("onnx");
        Path hf = tmp.resolve("hf");
        try (Attune attune = Attune.builder().engine("pytorch").build(); FineTunedModel m = classifier(attune)) {
            m.export("onnx", onnx);
            m.save(hf);
        }
        Files.copy(onnx.resolve("model.onnx"), hf.resolve("model.onnx"));
        ModelSource source = PluginRegistry.discover().source(hf);
        assertThat(source.describe()).isEqualTo(hf.toString());
        assertThat(source.preferredEngine()).isEmpty();
    }
}
