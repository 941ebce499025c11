package dev.attune.library;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.attune.Attune;
import dev.attune.cli.AttuneCli;
import dev.attune.engine.Batch;
import dev.attune.error.ConfigurationException;
import dev.attune.error.InvalidCheckpointException;
import dev.attune.error.UnsupportedArchitectureException;
import dev.attune.formats.hf.SafetensorsWriter;
import dev.attune.model.FineTunedModel;
import dev.attune.model.HeadSpec.HeadKind;
import dev.attune.model.PretrainedModel;
import dev.attune.ops.DType;
import dev.attune.ops.TensorData;
import dev.attune.testing.SharedFiles;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * Checkpoints in the layouts transformers 5 writes that the fixtures do not have, built here from
 * the fixtures' tensors (no Python): an untied {@code BertForMaskedLM}, T5 v1.1 as transformers 5
 * saves it, checkpoints that lack a base-model weight, a transformers-4 BERT with relative position
 * embeddings, and the dtype a fine-tune from a float16 checkpoint records. Also {@code
 * attune.open(base)} choosing the head from config.json's {@code architectures}.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class InteropLayoutsTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path tmp;

    private Attune attune;

    @BeforeAll
    void start() {
        attune = Attune.builder().engine("pytorch").build();
    }

    @AfterAll
    void stop() {
        attune.close();
    }

    /**
     * Writes a copy of a fixture folder with its config.json edited and its tensors replaced.
     *
     * @return the new folder
     */
    private Path variant(String fixture, String name, Consumer<ObjectNode> config,
            Consumer<Map<String, TensorData>> tensors) throws IOException {
        Path from = SharedFiles.path("fixtures/hf/" + fixture);
        Path to = Files.createDirectories(tmp.resolve(name));
        ObjectNode c = (ObjectNode) JSON.readTree(from.resolve("config.json").toFile());
        config.accept(c);
        Files.writeString(to.resolve("config.json"), JSON.writeValueAsString(c), StandardCharsets.UTF_8);
        Map<String, TensorData> t = new LinkedHashMap<>();
        try (PretrainedModel base = attune.load(from)) {
            for (String n : base.weights().names()) {
                t.put(n, base.weights().read(n));
            }
        }
        tensors.accept(t);
        SafetensorsWriter.write(to.resolve("model.safetensors"), t);
        for (String f : new String[] {"tokenizer.json", "tokenizer_config.json", "reference.json"}) {
            if (Files.exists(from.resolve(f))) {
                Files.copy(from.resolve(f), to.resolve(f));
            }
        }
        return to;
    }

    private static TensorData plus(TensorData t, float delta) {
        float[] v = t.toFloatArray();
        for (int i = 0; i < v.length; i++) {
            v[i] += delta;
        }
        return TensorData.ofFloats(t.shape(), v);
    }

    /** Runs case {@code i} of the folder's reference.json through {@code model} and returns the logits. */
    private static float[] logits(FineTunedModel model, JsonNode c, boolean seq2seq) {
        long[] ids = longs(c.get("input_ids"));
        long[] shape = {1, ids.length};
        long[] mask = new long[ids.length];
        java.util.Arrays.fill(mask, 1);
        Map<String, TensorData> in = new LinkedHashMap<>();
        in.put("input_ids", TensorData.ofLongs(shape, ids));
        in.put("attention_mask", TensorData.ofLongs(shape, mask));
        if (seq2seq) {
            long[] labels = longs(c.get("labels"));
            long[] decoder = new long[labels.length];
            System.arraycopy(labels, 0, decoder, 1, labels.length - 1); // decoder_start_token_id 0
            in.put("decoder_input_ids", TensorData.ofLongs(new long[] {1, labels.length}, decoder));
        } else if (c.has("token_type_ids")) {
            in.put("token_type_ids", TensorData.ofLongs(shape, longs(c.get("token_type_ids"))));
        }
        return model.lowered().predict(new Batch(in, 1)).get("logits").toFloatArray();
    }

    private static long[] longs(JsonNode n) {
        long[] out = new long[n.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = n.get(i).asLong();
        }
        return out;
    }

    private static double[] flat(JsonNode n) {
        java.util.List<Double> out = new java.util.ArrayList<>();
        n.forEach(row -> {
            if (row.isArray()) {
                row.forEach(v -> out.add(v.asDouble()));
            } else {
                out.add(row.asDouble());
            }
        });
        return out.stream().mapToDouble(Double::doubleValue).toArray();
    }

    @Test
    void anUntiedMaskedLmUsesItsDecodersOwnBias() throws IOException {
        // transformers runs cls.predictions.decoder (weight and bias) when tie_word_embeddings is false;
        // cls.predictions.bias is then unused: made different here, it must not change the logits
        Path folder = variant("bert-mlm", "untied-mlm", c -> c.put("tie_word_embeddings", false), t -> {
            TensorData bias = t.get("cls.predictions.bias");
            t.put("cls.predictions.decoder.weight", t.get("bert.embeddings.word_embeddings.weight"));
            t.put("cls.predictions.decoder.bias", bias);
            t.put("cls.predictions.bias", plus(bias, 0.5f));
        });
        JsonNode c = JSON.readTree(folder.resolve("reference.json").toFile()).get("cases").get(0);
        try (PretrainedModel base = attune.load(folder); FineTunedModel m = attune.open(base)) {
            assertThat(m.task().name()).isEqualTo("masked-lm");
            assertThat(m.loadReport().missing()).isEmpty();
            float[] got = logits(m, c, false);
            double[] want = flat(c.get("logits"));
            assertThat(got).hasSize(want.length);
            double max = 0;
            for (int i = 0; i < want.length; i++) {
                assertThat((double) got[i]).as("logit %d", i).isCloseTo(want[i], within(1e-5));
                max = Math.max(max, Math.abs(got[i] - want[i]));
            }
            System.out.printf("untied BertForMaskedLM max |logit - HF| %.3g%n", max);
        }
    }

    @Test
    void t5V11AsTransformers5SavesItTiesTheHeadAndDoesNotScale() throws IOException {
        // transformers 5: tie_word_embeddings true, scale_decoder_outputs false, no lm_head.weight in the file
        Path folder = variant("t5-seq2seq", "t5-v1_1-tf5", c -> c.put("scale_decoder_outputs", false),
                t -> t.remove("lm_head.weight"));
        JsonNode ref = JSON.readTree(folder.resolve("reference.json").toFile());
        double scale = Math.sqrt(JSON.readTree(folder.resolve("config.json").toFile()).get("d_model").asDouble());
        try (PretrainedModel base = attune.load(folder); FineTunedModel m = attune.open(base)) {
            assertThat(m.task().name()).isEqualTo("seq2seq");
            assertThat(m.loadReport().missing()).as("lm_head tied to shared").isEmpty();
            double max = 0;
            for (JsonNode c : ref.get("cases")) {
                // the fixture's logits are those of the scaled decoder output: unscaled, times sqrt(d_model)
                float[] got = logits(m, c, true);
                double[] want = flat(c.get("logits"));
                for (int i = 0; i < want.length; i++) {
                    assertThat((double) got[i]).as("logit %d", i).isCloseTo(want[i] * scale, within(1e-4));
                    max = Math.max(max, Math.abs(got[i] - want[i] * scale));
                }
            }
            System.out.printf("T5 v1.1 (transformers 5 layout) max |logit - HF * sqrt(d_model)| %.3g%n", max);
        }
        // transformers 4's v1.1 (tie_word_embeddings false) with its own lm_head.weight: the same numbers
        Path own = variant("t5-seq2seq", "t5-v1_1-tf4", c -> {
            c.remove("scale_decoder_outputs");
            c.put("tie_word_embeddings", false);
        }, t -> t.put("lm_head.weight", t.get("shared.weight")));
        try (PretrainedModel base = attune.load(own); FineTunedModel m = attune.open(base)) {
            JsonNode c = ref.get("cases").get(0);
            float[] got = logits(m, c, true);
            double[] want = flat(c.get("logits"));
            for (int i = 0; i < want.length; i++) {
                assertThat((double) got[i]).as("logit %d", i).isCloseTo(want[i] * scale, within(1e-4));
            }
        }
    }

    @Test
    void aMissingWeightOfThePretrainedModelIsAnErrorNeverARandomStart() throws IOException {
        // untied (transformers 4's v1.1) and no lm_head.weight: the language-model head cannot start new
        Path noHead = variant("t5-seq2seq", "t5-no-lm-head", c -> {
            c.remove("scale_decoder_outputs");
            c.put("tie_word_embeddings", false);
        }, t -> t.remove("lm_head.weight"));
        try (PretrainedModel base = attune.load(noHead)) {
            assertThatThrownBy(() -> attune.prepare(base, attune.task("seq2seq", Map.of()), 32))
                    .isInstanceOf(InvalidCheckpointException.class).hasMessageContaining("lm_head.weight")
                    .hasMessageContaining("only a task head may start new");
        }
        // the same through the command line's fine-tune (exit code 2, nothing trained)
        Path train = Files.writeString(tmp.resolve("pairs.tsv"), "source\ttarget\nhello\thallo\nhouse\thaus\n");
        assertThat(AttuneCli.execute("fine-tune", "--task", "seq2seq", "--model", noHead.toString(), "--train",
                train.toString(), "--max-steps", "1", "--output", tmp.resolve("never").toString())).isEqualTo(2);
        assertThat(tmp.resolve("never").resolve("model.safetensors")).doesNotExist();

        Path noQuery = variant("t5-seq2seq", "t5-no-q", c -> {}, t -> t.remove("encoder.block.0.layer.0.SelfAttention.q.weight"));
        try (PretrainedModel base = attune.load(noQuery)) {
            assertThatThrownBy(() -> attune.prepare(base, attune.task("seq2seq", Map.of()), 32))
                    .isInstanceOf(InvalidCheckpointException.class)
                    .hasMessageContaining("encoder.block.0.layer.0.SelfAttention.q.weight");
        }
        // a classifier's base model too; its new classifier (and BERT's pooler) may start new
        Path bert = variant("bert-mlm", "bert-no-query", c -> {},
                t -> t.remove("bert.encoder.layer.0.attention.self.query.weight"));
        try (PretrainedModel base = attune.load(bert)) {
            assertThatThrownBy(() -> attune.prepare(base, attune.task("text-classification", Map.of())
                    .withLabels(java.util.List.of("a", "b")), 32))
                    .isInstanceOf(InvalidCheckpointException.class)
                    .hasMessageContaining("bert.encoder.layer.0.attention.self.query.weight");
        }
        try (PretrainedModel base = attune.load(SharedFiles.path("fixtures/hf/bert-mlm"));
                FineTunedModel m = attune.prepare(base, attune.task("text-classification", Map.of())
                        .withLabels(java.util.List.of("a", "b")), 32)) {
            assertThat(m.loadReport().missing()).containsExactlyInAnyOrder("bert.pooler.dense.weight",
                    "bert.pooler.dense.bias", "classifier.weight", "classifier.bias");
        }
    }

    @Test
    void openChoosesTheHeadThatArchitecturesNames() {
        try (PretrainedModel base = attune.load(SharedFiles.path("fixtures/hf/bert-tokcls"));
                FineTunedModel m = attune.open(base)) {
            assertThat(m.task().name()).isEqualTo("token-classification");
            assertThat(m.lowered().definition().architecture()).isEqualTo("BertForTokenClassification");
        }
        try (PretrainedModel base = attune.load(SharedFiles.path("fixtures/hf/gpt2-lm"));
                FineTunedModel m = attune.open(base)) {
            assertThat(m.task().name()).isEqualTo("causal-lm");
        }
        try (PretrainedModel base = attune.load(SharedFiles.path("fixtures/hf/bert-mlm"))) {
            assertThatThrownBy(() -> attune.open(base, HeadKind.QUESTION_ANSWERING, false))
                    .isInstanceOf(InvalidCheckpointException.class).hasMessageContaining("qa_outputs.weight");
            try (FineTunedModel m = attune.open(base, HeadKind.QUESTION_ANSWERING, true)) {
                assertThat(m.loadReport().missing()).contains("qa_outputs.weight");
            }
        }
        assertThat(HeadKind.ofArchitecture("RobertaForMaskedLM")).contains(HeadKind.MASKED_LM);
        assertThat(HeadKind.ofArchitecture("BertModel")).isEmpty();
        assertThat(HeadKind.parse("seq2seq")).isEqualTo(HeadKind.SEQ2SEQ_LM);
    }

    @Test
    void aCheckpointWhoseArchitecturesNameNoHeadNeedsOne() throws IOException {
        Path bare = variant("bert-mlm", "bare", c -> c.putArray("architectures").add("BertModel"), t -> {});
        try (PretrainedModel base = attune.load(bare)) {
            assertThatThrownBy(() -> attune.open(base)).isInstanceOf(ConfigurationException.class)
                    .hasMessageContaining("BertModel").hasMessageContaining("--head");
        }
    }

    @Test
    void relativePositionEmbeddingsAreRefusedNamingTheKey() throws IOException {
        Path folder = variant("bert-seqcls", "relative", c -> c.put("position_embedding_type", "relative_key"), t -> {});
        try (PretrainedModel base = attune.load(folder)) {
            assertThatThrownBy(() -> attune.open(base)).isInstanceOf(UnsupportedArchitectureException.class)
                    .hasMessageContaining("position_embedding_type").hasMessageContaining("relative_key")
                    .hasMessageContaining(folder.toString());
        }
    }

    @Test
    void aModelSavedFromAFloat16CheckpointSaysFloat32() throws IOException {
        Path out = tmp.resolve("saved");
        try (PretrainedModel base = attune.load(SharedFiles.path("models/gpt-small-bpe-clm"))) {
            assertThat(base.config().getString("dtype", "")).as("the checkpoint").isEqualTo("float16");
            assertThat(base.weights().info("transformer.wte.weight").dtype()).isEqualTo(DType.FLOAT16);
            try (FineTunedModel m = attune.prepare(base, attune.task("causal-lm", Map.of()), 32)) {
                m.save(out);
            }
        }
        JsonNode saved = JSON.readTree(out.resolve("config.json").toFile());
        assertThat(saved.get("dtype").asText()).isEqualTo("float32");
        try (PretrainedModel reread = attune.load(out)) {
            for (String n : reread.weights().names()) {
                assertThat(reread.weights().info(n).dtype()).as(n).isEqualTo(DType.FLOAT32);
            }
        }
    }
}
