package dev.attune.engine.onnx;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.attune.PluginRegistry;
import dev.attune.core.internal.WeightBinder;
import dev.attune.engine.Batch;
import dev.attune.engine.EngineOptions;
import dev.attune.engine.LoweredModel;
import dev.attune.engine.onnx.proto.OnnxProto.ModelProto;
import dev.attune.formats.hf.HfSources;
import dev.attune.model.HeadSpec;
import dev.attune.model.HeadSpec.HeadKind;
import dev.attune.model.ModelDefinition;
import dev.attune.model.PretrainedModel;
import dev.attune.ops.TensorData;
import dev.attune.testing.SharedFiles;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code export --no-past} ({@code past=false}): a GPT-2 decoder exported without past key/value
 * inputs has no {@code present.N.*} outputs either, only {@code logits}, and still computes
 * HuggingFace's logits.
 */
class OnnxNoPastExportTest {
    @Test
    void aDecoderExportedWithoutPastHasNoPresentOutputs(@TempDir Path tmp) throws Exception {
        Path folder = SharedFiles.path("fixtures/hf/gpt2-lm");
        JsonNode c = new ObjectMapper().readTree(folder.resolve("reference.json").toFile()).get("cases").get(0);
        PluginRegistry registry = PluginRegistry.discover();
        try (PretrainedModel base = HfSources.folder(folder).open(Map.of())) {
            ModelDefinition def = registry.family("gpt2").define(base.config(), new HeadSpec(HeadKind.CAUSAL_LM, 0));
            WeightBinder binder = new WeightBinder(def, base.weights(), 42);
            for (boolean past : new boolean[] {true, false}) {
                ModelProto m = OnnxExporter.toProto(def, binder, Map.of(),
                        OnnxExportOptions.fromMap(Map.of(OnnxExportOptions.PAST, Boolean.toString(past))));
                List<String> inputs = new ArrayList<>();
                m.getGraph().getInputList().forEach(v -> inputs.add(v.getName()));
                List<String> outputs = new ArrayList<>();
                m.getGraph().getOutputList().forEach(v -> outputs.add(v.getName()));
                if (past) {
                    assertThat(outputs).startsWith("logits", "present.0.key", "present.0.value");
                    assertThat(inputs).contains("past_key_values.0.key");
                    continue;
                }
                assertThat(outputs).as("outputs with past=false").containsExactly("logits");
                assertThat(inputs).as("inputs with past=false").containsExactly("input_ids", "attention_mask");
                Path file = tmp.resolve("no-past.onnx");
                Files.write(file, m.toByteArray());
                long[] ids = new long[c.get("input_ids").size()];
                for (int i = 0; i < ids.length; i++) {
                    ids[i] = c.get("input_ids").get(i).asLong();
                }
                long[] mask = new long[ids.length];
                java.util.Arrays.fill(mask, 1);
                Map<String, TensorData> in = new LinkedHashMap<>();
                in.put("input_ids", TensorData.ofLongs(new long[] {1, ids.length}, ids));
                in.put("attention_mask", TensorData.ofLongs(new long[] {1, ids.length}, mask));
                try (LoweredModel ort = OnnxModels.load(file, base.config(), EngineOptions.defaults())) {
                    Map<String, TensorData> out = ort.predict(new Batch(in, 1));
                    assertThat(out).containsOnlyKeys("logits");
                    float[] got = out.get("logits").toFloatArray();
                    List<Double> want = new ArrayList<>();
                    c.get("logits").forEach(row -> row.forEach(v -> want.add(v.asDouble())));
                    assertThat(got).hasSize(want.size());
                    for (int i = 0; i < got.length; i++) {
                        assertThat((double) got[i]).as("logit %d vs HF", i)
                                .isCloseTo(want.get(i), org.assertj.core.data.Offset.offset(1e-4));
                    }
                }
            }
        }
    }
}
