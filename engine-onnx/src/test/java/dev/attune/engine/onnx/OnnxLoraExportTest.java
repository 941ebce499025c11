package dev.attune.engine.onnx;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.attune.Attune;
import dev.attune.engine.EngineOptions.DeviceSpec;
import dev.attune.formats.hf.HfSources;
import dev.attune.model.FineTunedModel;
import dev.attune.model.PretrainedModel;
import dev.attune.testing.LoraSuite;
import dev.attune.testing.Tolerance;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A model with PEFT's LoRA adapter ({@code fixtures/hf/peft-lora-bert-seqcls} over {@code bert-seqcls})
 * exported to ONNX: the export merges the adapter first, so the file holds plain HuggingFace weights
 * and no adapter, and ONNX Runtime gives PEFT's logits within 1e-4.
 */
class OnnxLoraExportTest {
    @Test
    void anAdapterModelExportsMergedAndOnnxRuntimeGivesPeftsLogits(@TempDir Path dir) throws Exception {
        Path adapter = LoraSuite.fixture("peft-lora-bert-seqcls");
        JsonNode ref = LoraSuite.json(adapter.resolve("reference.json"));
        Path exported = dir.resolve("onnx");
        try (Attune pytorch = Attune.builder().engine("pytorch").device(DeviceSpec.CPU).numThreads(2).build();
                PretrainedModel base = pytorch.load(HfSources.folder(LoraSuite.fixture("bert-seqcls")), Map.of());
                FineTunedModel model = pytorch.open(base, pytorch.task("text-classification", Map.of("labels", "0,1")),
                        128, adapter)) {
            model.export("onnx", exported);
        }
        byte[] file = Files.readAllBytes(exported.resolve("model.onnx"));
        assertThat(new String(file, StandardCharsets.ISO_8859_1)).doesNotContain("lora_A").contains("classifier.weight");
        Tolerance tolerance = Tolerance.absolute(1e-4);
        try (Attune onnx = Attune.builder().engine("onnx").build(); FineTunedModel served = onnx.open(exported)) {
            for (JsonNode c : ref.get("cases")) {
                float[] got = LoraSuite.logits(served, LoraSuite.longs(c.get("input_ids")));
                for (int j = 0; j < got.length; j++) {
                    double want = c.get("logits").get(j).asDouble();
                    assertThat(tolerance.allows(got[j], want))
                            .as("ONNX logits [%d] of '%s': %s, PEFT %s", j, c.get("text").asText(), got[j], want).isTrue();
                }
            }
        }
    }
}
