package dev.attune.core.lora;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.attune.PluginRegistry;
import dev.attune.core.lora.LinearSites.Site;
import dev.attune.core.lora.LoraAdapter.Target;
import dev.attune.error.ConfigurationException;
import dev.attune.model.HeadSpec;
import dev.attune.model.HeadSpec.HeadKind;
import dev.attune.model.ModelConfig;
import dev.attune.model.ModelDefinition;
import dev.attune.ops.Parameter;
import dev.attune.ops.TensorData;
import dev.attune.testing.SharedFiles;
import dev.attune.train.TrainingConfig.LoraConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

/**
 * Which layers LoRA adapts, worked out with no engine from the forward pass of each family: PEFT's
 * choices for BERT ({@code query,value}, {@code all-linear} as PEFT resolved it for the trajectory
 * fixture), GPT-2's {@code Conv1D} layers with their {@code [in, out]} weights, the trainable
 * parameter count PEFT prints for BERT-mini (33,282), and the merge of a {@code Conv1D}.
 */
class LoraAdapterTest {
    private static final PluginRegistry REGISTRY = PluginRegistry.discover();

    static ModelDefinition define(Path folder, HeadKind kind, int labels) throws IOException {
        ModelConfig config = ModelConfig.parse(Files.readString(folder.resolve("config.json")), folder.toString());
        return REGISTRY.family(config.modelType()).define(config, new HeadSpec(kind, labels));
    }

    static Set<String> modules(LoraAdapter adapter) {
        Set<String> out = new TreeSet<>();
        adapter.targets().forEach(t -> out.add(t.site().module()));
        return out;
    }

    @Test
    void bertMiniWithQueryAndValueTrainsWhatPeftTrains() throws IOException {
        ModelDefinition head = define(SharedFiles.path("models/bert-mini-uncased-mlm"), HeadKind.SEQUENCE_CLASSIFICATION, 2);
        LoraAdapter adapter = LoraAdapter.resolve(LoraConfig.builder().r(8).loraAlpha(16).targetModules("query", "value")
                .build(), head, HeadKind.SEQUENCE_CLASSIFICATION,
                Set.of("bert.pooler.dense.weight", "bert.pooler.dense.bias", "classifier.weight", "classifier.bias"),
                "test", "base");
        long trainable = 0;
        for (Parameter p : new LoraDefinition(head, adapter).parameters().all()) {
            if (adapter.trainable().contains(p.name())) {
                trainable += p.size();
            }
        }
        JsonNode ref = new ObjectMapper().readTree(
                SharedFiles.path("models/bert-mini-uncased-mlm/hf_peft_reference.json").toFile());
        assertThat(trainable).isEqualTo(ref.get("trainable_params").asLong()).isEqualTo(33_282);
        assertThat(adapter.modulesToSave()).containsExactly("classifier");
        assertThat(adapter.targets()).hasSize(8);
        assertThat(adapter.scaling()).isEqualTo(2.0);
        assertThat(LoraConfig.builder().r(16).loraAlpha(8).useRslora(true).build().scaling()).isEqualTo(2.0);
    }

    @Test
    void allLinearOnBertIsWhatPeftResolvedForTheTrajectoryFixture() throws IOException {
        ModelDefinition head = define(SharedFiles.path("fixtures/hf/bert-seqcls"), HeadKind.SEQUENCE_CLASSIFICATION, 2);
        LoraAdapter adapter = LoraAdapter.resolve(LoraConfig.builder().r(4).targetModules(LoraConfig.ALL_LINEAR).build(),
                head, HeadKind.SEQUENCE_CLASSIFICATION, Set.of(), "test", "base");
        JsonNode ref = new ObjectMapper().readTree(
                SharedFiles.path("fixtures/hf/trajectory-lora-bert/trajectory.json").toFile());
        Set<String> peft = new TreeSet<>();
        ref.get("trainable").forEach(n -> {
            String name = n.asText();
            if (name.contains(".lora_A.")) {
                peft.add(name.substring("base_model.model.".length(), name.indexOf(".lora_A.")));
            }
        });
        assertThat(modules(adapter)).isEqualTo(peft).contains("bert.pooler.dense").doesNotContain("classifier");
        assertThat(new TreeSet<>(adapter.targetNames())).containsExactly("dense", "key", "query", "value");
        Map<String, Site> sites = LinearSites.of(head);
        assertThat(sites.get("classifier").outputLayer()).isTrue();
        assertThat(sites.get("bert.pooler.dense").outputLayer()).isFalse();
        assertThat(sites).doesNotContainKey("bert.embeddings.word_embeddings");

        LoraAdapter regex = LoraAdapter.resolve(LoraConfig.builder().targetModulesRegex(".*layer\\.0\\..*query").build(),
                head, HeadKind.SEQUENCE_CLASSIFICATION, Set.of(), "test", "base");
        assertThat(modules(regex)).containsExactly("bert.encoder.layer.0.attention.self.query");
        assertThat(regex.targetNames()).containsExactly("bert.encoder.layer.0.attention.self.query");
    }

    @Test
    void gpt2ConvOneDLayersTakeAdaptersWithTheirWeightsStoredInOut() throws IOException {
        ModelDefinition head = define(SharedFiles.path("fixtures/hf/gpt2-lm"), HeadKind.CAUSAL_LM, 0);
        LoraAdapter byDefault = LoraAdapter.resolve(LoraConfig.builder().r(2).build(), head, HeadKind.CAUSAL_LM,
                Set.of(), "test", "base");
        assertThat(byDefault.targets()).isNotEmpty().allMatch(t -> t.site().module().endsWith(".attn.c_attn")
                && t.site().fanInFanOut() && t.site().out() == 3 * t.site().in());
        assertThat(byDefault.fanInFanOut()).isTrue();
        assertThat(byDefault.modulesToSave()).isEmpty();
        LoraAdapter all = LoraAdapter.resolve(LoraConfig.builder().r(2).targetModules(LoraConfig.ALL_LINEAR).build(),
                head, HeadKind.CAUSAL_LM, Set.of(), "test", "base");
        Set<String> suffixes = new TreeSet<>(all.targetNames());
        assertThat(suffixes).containsExactly("c_attn", "c_fc", "c_proj");
        assertThat(modules(all)).noneMatch(m -> m.contains("wte") || m.contains("lm_head"));

        // merging a Conv1D adds (B A) transposed: x W' = x W + x A^T B^T
        Target t = byDefault.targets().get(0);
        int in = (int) t.site().in();
        int out = (int) t.site().out();
        float[] w = new float[in * out];
        float[] a = new float[2 * in];
        float[] b = new float[out * 2];
        a[1] = 1; // A[0][1]
        b[2 * 5] = 3; // B[5][0]
        Map<String, TensorData> values = new HashMap<>();
        values.put(t.site().weight().name(), TensorData.ofFloats(new long[] {in, out}, w));
        values.put(t.a().name(), TensorData.ofFloats(t.a().shape(), a));
        values.put(t.b().name(), TensorData.ofFloats(t.b().shape(), b));
        for (Target other : byDefault.targets()) {
            values.putIfAbsent(other.site().weight().name(), TensorData.ofFloats(other.site().weight().shape(),
                    new float[in * out]));
            values.putIfAbsent(other.a().name(), TensorData.ofFloats(other.a().shape(), new float[2 * in]));
            values.putIfAbsent(other.b().name(), TensorData.ofFloats(other.b().shape(), new float[out * 2]));
        }
        float[] merged = byDefault.mergedWeights(p -> values.get(p.name())).get(t.site().weight().name()).toFloatArray();
        double scaling = byDefault.scaling();
        // delta[out 5][in 1] = 3 * 1 * scaling, stored at W[in 1][out 5]
        assertThat(merged[1 * out + 5]).isEqualTo((float) (3 * scaling));
        assertThat(merged[5 * out + 1]).isZero();
    }

    @Test
    void otherFamiliesHavePeftsDefaultTargetsAndUnknownTargetsAreRefused() throws IOException {
        ModelDefinition distil = define(SharedFiles.path("fixtures/hf/distilbert-seqcls"), HeadKind.SEQUENCE_CLASSIFICATION, 2);
        LoraAdapter adapter = LoraAdapter.resolve(LoraConfig.builder().build(), distil, HeadKind.SEQUENCE_CLASSIFICATION,
                Set.of(), "test", "base");
        assertThat(new TreeSet<>(adapter.targetNames())).containsExactly("q_lin", "v_lin");
        assertThat(adapter.modulesToSave()).contains("classifier");
        ModelDefinition t5 = define(SharedFiles.path("fixtures/hf/t5-seq2seq"), HeadKind.SEQ2SEQ_LM, 0);
        LoraAdapter onT5 = LoraAdapter.resolve(LoraConfig.builder().build(), t5, HeadKind.SEQ2SEQ_LM, Set.of(), "test",
                "base");
        assertThat(new TreeSet<>(onT5.targetNames())).containsExactly("q", "v");
        assertThatThrownBy(() -> LoraAdapter.resolve(LoraConfig.builder().targetModules("nothing_here").build(), distil,
                HeadKind.SEQUENCE_CLASSIFICATION, Set.of(), "options", "base"))
                .isInstanceOf(ConfigurationException.class)
                .hasMessageContainingAll("options", "[nothing_here]", "q_lin", "all-linear");
        assertThatThrownBy(() -> LoraAdapter.resolve(LoraConfig.builder().modulesToSave(List.of("nope")).build(), distil,
                HeadKind.SEQUENCE_CLASSIFICATION, Set.of(), "options", "base"))
                .isInstanceOf(ConfigurationException.class).hasMessageContainingAll("modules_to_save", "classifier");
    }
}
