package dev.attune.formats.hf;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.attune.error.AttuneException;
import dev.attune.model.TextTokenizer.Encoding;
import dev.attune.model.ModelConfig;
import dev.attune.model.WeightStore;
import dev.attune.ops.DType;
import dev.attune.ops.TensorData;
import dev.attune.testing.Fuzzer;
import dev.attune.testing.Mutator;
import dev.attune.testing.SharedFiles;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Fuzzes the readers of a HuggingFace folder's files (safetensors, the shard index, config.json,
 * tokenizer_config.json): every mutated input must open and read fully or fail with an {@link
 * AttuneException}. See {@link Fuzzer} for scaling and replaying.
 */
class HfFilesFuzzTest {
    @TempDir Path dir;

    /** Opens nothing lazily: every tensor's info and data, converted to floats. */
    static void readAll(WeightStore store) {
        for (String name : store.names()) {
            store.info(name);
            TensorData t = store.read(name);
            t.toFloatArray();
        }
    }

    @Test
    void safetensorsFile() throws IOException {
        Map<String, TensorData> tensors = new LinkedHashMap<>();
        tensors.put("a.weight", TensorData.ofFloats(new long[] {2, 3}, new float[] {1, 2, 3, 4, 5, 6}));
        tensors.put("ids", TensorData.ofLongs(new long[] {2}, new long[] {7, -1}));
        tensors.put("half", new TensorData(DType.FLOAT16, new long[] {3}, ByteBuffer.wrap(SafetensorsTestFiles.shorts(0x3c00, 0xc000, 0x7c00))));
        tensors.put("bf", new TensorData(DType.BFLOAT16, new long[] {1, 2}, ByteBuffer.wrap(SafetensorsTestFiles.shorts(0x3f80, 0x4000))));
        tensors.put("mask", new TensorData(DType.BOOL, new long[] {2}, ByteBuffer.wrap(new byte[] {0, 1})));
        tensors.put("i32", new TensorData(DType.INT32, new long[] {1}, ByteBuffer.wrap(new byte[] {1, 0, 0, 0})));
        tensors.put("empty", TensorData.ofFloats(new long[] {0, 4}, new float[0]));
        Path seedFile = dir.resolve("seed.safetensors");
        SafetensorsWriter.write(seedFile, tensors);
        Path file = dir.resolve("model.safetensors");
        Fuzzer.run("safetensors", Files.readAllBytes(seedFile), new Mutator(true), 2000, input -> {
            Files.write(file, input);
            try (SafetensorsStore store = SafetensorsStore.openFile(file)) {
                readAll(store);
            }
        });
    }

    @Test
    void shardIndex() throws IOException {
        Path real = SharedFiles.path("models/bert-mini-uncased-mlm/model.safetensors.index.json");
        byte[] index = Files.readAllBytes(real);
        // small shards holding the tensors the real index assigns to them, so reads stay cheap
        JsonNode map = new ObjectMapper().readTree(index).get("weight_map");
        Map<String, Map<String, TensorData>> shards = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = map.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            shards.computeIfAbsent(e.getValue().textValue(), k -> new LinkedHashMap<>())
                    .put(e.getKey(), TensorData.ofFloats(new long[] {2}, new float[] {1, 2}));
        }
        for (Map.Entry<String, Map<String, TensorData>> s : shards.entrySet()) {
            SafetensorsWriter.write(dir.resolve(s.getKey()), s.getValue());
        }
        Path file = dir.resolve(SafetensorsStore.INDEX_FILE);
        Fuzzer.run("safetensors-index", index, new Mutator(true), 800, input -> {
            Files.write(file, input);
            try (SafetensorsStore store = SafetensorsStore.openIndex(file)) {
                readAll(store);
            }
        });
    }

    @Test
    void configJson() throws IOException {
        byte[] seed = Files.readAllBytes(SharedFiles.path("fixtures/hf/bert-seqcls/config.json"));
        Path file = dir.resolve(HuggingFaceFolderSource.CONFIG_JSON);
        Set<String> keys = new TreeSet<>(ModelConfig.parse(new String(seed, java.nio.charset.StandardCharsets.UTF_8), "seed").keys());
        keys.add("id2label");
        Fuzzer.run("config.json", seed, new Mutator(true), 2000, input -> {
            Files.write(file, input);
            ModelConfig config = HuggingFaceFolderSource.readConfig(dir);
            config.toJson();
            config.labels();
            for (String key : keys) {
                readKey(config, key);
            }
            config.withOverrides(Map.of("hidden_size", "64"));
            config.modelType();
        });
    }

    /** Reads a key with every typed accessor; type mismatches must be AttuneExceptions. */
    private static void readKey(ModelConfig config, String key) {
        for (int kind = 0; kind < 4; kind++) {
            try {
                switch (kind) {
                    case 0 -> config.getInt(key, 0);
                    case 1 -> config.getDouble(key, 0);
                    case 2 -> config.getBoolean(key, false);
                    default -> config.getString(key, "");
                }
            } catch (AttuneException expected) {
                // the key holds another type; the message names it
            }
        }
    }

    @Test
    void tokenizerConfig() throws IOException {
        Path fixture = SharedFiles.path("fixtures/hf/bert-seqcls");
        Files.copy(fixture.resolve(HfTokenizer.TOKENIZER_JSON), dir.resolve(HfTokenizer.TOKENIZER_JSON));
        byte[] seed = Files.readAllBytes(fixture.resolve(HfTokenizer.TOKENIZER_CONFIG));
        Path file = dir.resolve(HfTokenizer.TOKENIZER_CONFIG);
        Fuzzer.run("tokenizer_config.json", seed, new Mutator(true), 400, input -> {
            Files.write(file, input);
            try (HfTokenizer tk = HfTokenizer.load(dir)) {
                Encoding e = tk.encode("The cat sat on the mat.", "A pair.", 16);
                tk.decode(e.ids(), true);
                tk.padTokenId();
            }
        });
    }
}
