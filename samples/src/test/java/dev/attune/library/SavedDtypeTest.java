package dev.attune.library;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.attune.Attune;
import dev.attune.engine.Batch;
import dev.attune.engine.EngineOptions.DeviceSpec;
import dev.attune.error.ConfigurationException;
import dev.attune.formats.hf.HfExporter;
import dev.attune.formats.hf.SafetensorsWriter;
import dev.attune.model.FineTunedModel;
import dev.attune.model.PretrainedModel;
import dev.attune.ops.DType;
import dev.attune.ops.TensorData;
import dev.attune.task.Dataset;
import dev.attune.task.Task;
import dev.attune.testing.SharedFiles;
import dev.attune.train.TrainingConfig;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Every way Attune saves weights writes a config whose {@code dtype} (and {@code torch_dtype}) names
 * what the safetensors file holds, read from the file's own header: a model saved in float32 (the
 * default), bfloat16 or float16, the {@code hf} export, a training checkpoint, a LoRA adapter and a
 * merged model. The saved bytes and the logits of the saved folder are held to PyTorch's
 * ({@code saved_dtype_reference.json}, made by {@code src/test/python/make_saved_dtype_reference.py}
 * from the float16 checkpoint models/gpt-small-bpe-clm).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class SavedDtypeTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String GPT = "models/gpt-small-bpe-clm";

    @TempDir
    Path tmp;

    private Attune attune;
    private JsonNode reference;

    @BeforeAll
    void start() throws IOException {
        attune = Attune.builder().engine("pytorch").device(DeviceSpec.CPU).build();
        try (InputStream in = SavedDtypeTest.class.getResourceAsStream("saved_dtype_reference.json")) {
            reference = JSON.readTree(in);
        }
    }

    @AfterAll
    void stop() {
        attune.close();
    }

    /** The dtype of every tensor in a safetensors file, from its JSON header. */
    static Map<String, String> headerDtypes(Path file) throws IOException {
        byte[] bytes = Files.readAllBytes(file);
        long n = ByteBuffer.wrap(bytes, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        JsonNode header = JSON.readTree(new String(bytes, 8, (int) n, StandardCharsets.UTF_8));
        Map<String, String> out = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = header.fields(); it.hasNext();) {
            Map.Entry<String, JsonNode> e = it.next();
            if (!e.getKey().equals("__metadata__")) {
                out.put(e.getKey(), e.getValue().get("dtype").asText());
            }
        }
        return out;
    }

    private static String code(DType d) {
        return switch (d) {
            case FLOAT32 -> "F32";
            case FLOAT16 -> "F16";
            case BFLOAT16 -> "BF16";
            default -> throw new IllegalArgumentException(d.toString());
        };
    }

    private static String configName(DType d) {
        return switch (d) {
            case FLOAT32 -> "float32";
            case FLOAT16 -> "float16";
            case BFLOAT16 -> "bfloat16";
            default -> throw new IllegalArgumentException(d.toString());
        };
    }

    /** Asserts that every tensor of the file is {@code d} and that the JSON file beside it says so. */
    private static void assertStates(Path safetensors, Path config, DType d) throws IOException {
        assertThat(headerDtypes(safetensors)).isNotEmpty().allSatisfy((name, code) -> assertThat(code).as(name)
                .isEqualTo(code(d)));
        JsonNode c = JSON.readTree(config.toFile());
        assertThat(c.get("dtype").asText()).as(config + " dtype").isEqualTo(configName(d));
        if (c.has("torch_dtype")) {
            assertThat(c.get("torch_dtype").asText()).as(config + " torch_dtype").isEqualTo(configName(d));
        }
    }

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"FLOAT32", "BFLOAT16", "FLOAT16"})
    void aModelFromAFloat16CheckpointSavesInTheDtypeAskedAndSaysSo(DType dtype) throws Exception {
        Path out = tmp.resolve("gpt-" + dtype);
        try (PretrainedModel base = attune.load(SharedFiles.path(GPT))) {
            assertThat(base.config().getString("dtype", "")).as("the checkpoint").isEqualTo("float16");
            try (FineTunedModel m = attune.prepare(base, attune.task("causal-lm", Map.of()), 32)) {
                m.save(out, false, dtype);
            }
        }
        assertStates(out.resolve("model.safetensors"), out.resolve("config.json"), dtype);
        JsonNode expected = reference.get("dtypes").get(configName(dtype));
        try (PretrainedModel saved = attune.load(out)) {
            // the bytes are PyTorch's tensor.to(dtype) of the same values, tensor by tensor
            int compared = 0;
            for (String name : saved.weights().names()) {
                JsonNode sha = expected.get("sha256").get(name);
                assertThat(sha).as("a PyTorch digest for " + name).isNotNull();
                TensorData t = saved.weights().read(name);
                assertThat(t.dtype()).as(name).isEqualTo(dtype);
                assertThat(sha256(t)).as(name).isEqualTo(sha.asText());
                compared++;
            }
            assertThat(compared).isGreaterThan(40);
            // and the folder computes PyTorch's logits (the stored values widened to float32) within 1e-5
            try (FineTunedModel reopened = attune.open(saved)) {
                assertLogits(reopened, expected);
            }
        }
    }

    @Test
    void halfPrecisionHalvesTheFolder() throws Exception {
        Path full = tmp.resolve("full");
        Path half = tmp.resolve("half");
        try (PretrainedModel base = attune.load(SharedFiles.path(GPT));
                FineTunedModel m = attune.prepare(base, attune.task("causal-lm", Map.of()), 32)) {
            m.save(full);
            m.save(half, false, DType.BFLOAT16);
        }
        long f = Files.size(full.resolve("model.safetensors"));
        long h = Files.size(half.resolve("model.safetensors"));
        assertThat((double) h / f).isBetween(0.49, 0.51);
        assertStates(full.resolve("model.safetensors"), full.resolve("config.json"), DType.FLOAT32);
    }

    private void assertLogits(FineTunedModel model, JsonNode expected) {
        JsonNode ids = reference.get("input_ids");
        int rows = ids.size();
        int len = ids.get(0).size();
        long[] flat = new long[rows * len];
        long[] mask = new long[rows * len];
        for (int r = 0; r < rows; r++) {
            for (int i = 0; i < len; i++) {
                flat[r * len + i] = ids.get(r).get(i).asLong();
                mask[r * len + i] = 1;
            }
        }
        Map<String, TensorData> in = new LinkedHashMap<>();
        in.put("input_ids", TensorData.ofLongs(new long[] {rows, len}, flat));
        in.put("attention_mask", TensorData.ofLongs(new long[] {rows, len}, mask));
        TensorData logits = model.lowered().predict(new Batch(in, rows)).get("logits");
        int vocab = (int) logits.shape()[2];
        float[] v = logits.toFloatArray();
        int columns = reference.get("columns").asInt();
        double worst = 0;
        for (int r = 0; r < rows; r++) {
            for (int i = 0; i < len; i++) {
                int at = (r * len + i) * vocab;
                float max = Float.NEGATIVE_INFINITY;
                for (int k = 0; k < vocab; k++) {
                    max = Math.max(max, v[at + k]);
                }
                worst = Math.max(worst, Math.abs(max - expected.get("row_max").get(r).get(i).asDouble()));
                for (int k = 0; k < columns; k++) {
                    worst = Math.max(worst, Math.abs(v[at + k] - expected.get("logits").get(r).get(i).get(k).asDouble()));
                }
            }
        }
        assertThat(worst).as("largest logit difference from PyTorch").isLessThan(1e-5);
    }

    private static String sha256(TensorData t) throws Exception {
        ByteBuffer b = t.buffer();
        byte[] bytes = new byte[b.remaining()];
        b.get(bytes);
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
    }

    @Test
    void theHfExportTakesTheDtypeOptionAndRefusesOthers() throws Exception {
        Path out = tmp.resolve("export-fp16");
        try (PretrainedModel base = attune.load(SharedFiles.path("fixtures/hf/bert-seqcls"));
                FineTunedModel m = attune.open(base)) {
            m.export("hf", out, Map.of(HfExporter.DTYPE_OPTION, "fp16"));
            assertStates(out.resolve("model.safetensors"), out.resolve("config.json"), DType.FLOAT16);
            assertThatThrownBy(() -> m.export("hf", tmp.resolve("bad"), Map.of("dtype", "int8")))
                    .isInstanceOf(ConfigurationException.class).hasMessageContaining("int8")
                    .hasMessageContaining("fp32").hasMessageContaining("bf16");
            assertThatThrownBy(() -> m.export("hf", tmp.resolve("bad"), Map.of("precision", "fp16")))
                    .isInstanceOf(ConfigurationException.class).hasMessageContaining("precision")
                    .hasMessageContaining("dtype");
            assertThatThrownBy(() -> m.save(tmp.resolve("bad"), false, DType.INT64))
                    .isInstanceOf(ConfigurationException.class).hasMessageContaining("INT64");
            assertThat(tmp.resolve("bad")).doesNotExist();
        }
    }

    /** A copy of bert-seqcls stored in float16 whose config says so in both names, as transformers 4 wrote it. */
    private Path float16Bert() throws IOException {
        Path from = SharedFiles.path("fixtures/hf/bert-seqcls");
        Path to = Files.createDirectories(tmp.resolve("bert-f16"));
        ObjectNode c = (ObjectNode) JSON.readTree(from.resolve("config.json").toFile());
        c.put("dtype", "float16");
        c.put("torch_dtype", "float16");
        Files.writeString(to.resolve("config.json"), JSON.writeValueAsString(c), StandardCharsets.UTF_8);
        try (PretrainedModel base = attune.load(from)) {
            Map<String, TensorData> t = new LinkedHashMap<>();
            for (String n : base.weights().names()) {
                TensorData w = base.weights().read(n);
                t.put(n, w.dtype() == DType.FLOAT32 ? HfExporter.cast(Map.of(n, w), DType.FLOAT16).get(n) : w);
            }
            SafetensorsWriter.write(to.resolve("model.safetensors"), t);
        }
        for (String f : new String[] {"tokenizer.json", "tokenizer_config.json"}) {
            Files.copy(from.resolve(f), to.resolve(f));
        }
        return to;
    }

    @Test
    void checkpointsStayFloat32AndSaySoWhileTheFinalSaveTakesTheDtypeAsked() throws Exception {
        Path start = float16Bert();
        Path out = tmp.resolve("run");
        try (PretrainedModel base = attune.load(start)) {
            Task task = attune.task("text-classification", Map.of("text_column", "sentence", "label_column", "label"));
            StringBuilder rows = new StringBuilder("sentence\tlabel\n");
            for (int i = 0; i < 4; i++) {
                rows.append(i % 2 == 0 ? "a fine film\t1\n" : "a dull film\t0\n");
            }
            Dataset data = task.read(Files.writeString(tmp.resolve("rows.tsv"), rows.toString()));
            TrainingConfig config = TrainingConfig.builder().outputDir(out).maxSteps(1).perDeviceTrainBatchSize(4)
                    .saveSteps(1).maxLength(16).disableTqdm(true).tensorboard(false).build();
            try (FineTunedModel tuned = attune.fineTune(base, task, data, null, config).model()) {
                tuned.save(out, false, DType.FLOAT16);
            }
        }
        Path checkpoint = out.resolve("checkpoint-1");
        assertStates(checkpoint.resolve("model.safetensors"), checkpoint.resolve("config.json"), DType.FLOAT32);
        assertThat(JSON.readTree(checkpoint.resolve("config.json").toFile()).has("torch_dtype")).isTrue();
        assertStates(out.resolve("model.safetensors"), out.resolve("config.json"), DType.FLOAT16);
    }

    @Test
    void anAdapterAndAMergedModelStateTheirDtype() throws Exception {
        Path adapterOut = tmp.resolve("adapter-bf16");
        Path mergedOut = tmp.resolve("merged-fp16");
        Task task = attune.task("text-classification", Map.of("labels", "0,1"));
        try (PretrainedModel base = attune.load(SharedFiles.path("fixtures/hf/bert-seqcls"));
                FineTunedModel m = attune.open(base, task, 128, SharedFiles.path("fixtures/hf/peft-lora-bert-seqcls"))) {
            m.save(adapterOut, false, DType.BFLOAT16);
            try (FineTunedModel merged = m.mergeAdapter()) {
                merged.save(mergedOut, false, DType.FLOAT16);
            }
        }
        assertStates(adapterOut.resolve("adapter_model.safetensors"), adapterOut.resolve("attune_adapter.json"),
                DType.BFLOAT16);
        assertStates(mergedOut.resolve("model.safetensors"), mergedOut.resolve("config.json"), DType.FLOAT16);
        // the bfloat16 adapter opens again over its base, its task read from attune_adapter.json
        try (PretrainedModel base = attune.load(SharedFiles.path("fixtures/hf/bert-seqcls"));
                FineTunedModel again = attune.open(base, adapterOut)) {
            assertThat(again.adapter()).isPresent();
        }
    }
}
