package dev.attune.core.lora;

import org.apiguardian.api.API;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.attune.core.lora.LoraAdapter.Target;
import dev.attune.error.AttuneException;
import dev.attune.error.InvalidCheckpointException;
import dev.attune.formats.hf.SafetensorsStore;
import dev.attune.formats.hf.SafetensorsWriter;
import dev.attune.model.HeadSpec.HeadKind;
import dev.attune.ops.TensorData;
import dev.attune.train.TrainingConfig.LoraConfig;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * PEFT's adapter folder: {@code adapter_config.json} (a {@code LoraConfig} as PEFT 0.21 writes it)
 * and {@code adapter_model.safetensors}, whose keys are the model's parameter names behind {@value
 * #PREFIX} ({@code base_model.model.bert.encoder.layer.0.attention.self.query.lora_A.weight}; the
 * modules to save keep their own names, {@code base_model.model.classifier.weight}).
 */
@API(status = API.Status.INTERNAL, since = "0.2")
public final class PeftFolder {
    /** The adapter's settings. */
    public static final String CONFIG_FILE = "adapter_config.json";
    /** The adapter's tensors. */
    public static final String WEIGHTS_FILE = "adapter_model.safetensors";
    /** Attune's task settings beside the adapter (PEFT does not read it). */
    public static final String ATTUNE_FILE = "attune_adapter.json";
    /** What PEFT puts before every parameter name in the weights file. */
    public static final String PREFIX = "base_model.model.";
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
    /** Options Attune reads and honours; any other option PEFT writes must hold its neutral value. */
    private static final Set<String> NEUTRAL_NULL = Set.of("layers_to_transform", "layers_pattern", "exclude_modules",
            "target_parameters", "trainable_token_indices", "megatron_config", "eva_config", "corda_config",
            "loftq_config", "layer_replication", "alora_invocation_tokens", "arrow_config", "qalora_group_size",
            "kasa_config", "lora_ga_config", "monteclora_config", "velora_config", "use_bdlora");

    /**
     * An adapter folder as read.
     *
     * @param config its settings, with {@link LoraConfig#adapter()} set to the folder
     * @param baseModel {@code base_model_name_or_path} (may be null)
     * @param tensors its tensors by parameter name (PEFT's prefix removed)
     * @param weightsFile the weights file, for messages
     */
    public record Adapter(LoraConfig config, String baseModel, Map<String, TensorData> tensors, Path weightsFile) {}

    private PeftFolder() {}

    /**
     * @param folder a folder
     * @return whether it holds a PEFT adapter
     */
    public static boolean isAdapter(Path folder) {
        return folder != null && Files.isRegularFile(folder.resolve(CONFIG_FILE));
    }

    /**
     * Reads an adapter folder's settings, refusing what Attune does not do (another {@code peft_type},
     * DoRA, per-layer ranks, ...) with a message naming the file, the key and the fix.
     *
     * @param folder the folder
     * @return its settings, with {@link LoraConfig#adapter()} set to the folder
     */
    public static LoraConfig readConfig(Path folder) {
        return readConfig(folder, null);
    }

    /**
     * @param folder an adapter folder
     * @return its {@code base_model_name_or_path}, or null
     */
    public static String baseModel(Path folder) {
        String[] base = new String[1];
        readConfig(folder, base);
        return base[0];
    }

    private static LoraConfig readConfig(Path folder, String[] base) {
        Path file = folder.resolve(CONFIG_FILE);
        if (!Files.isRegularFile(file)) {
            throw new InvalidCheckpointException(folder + " has no " + CONFIG_FILE + ", so it is no PEFT adapter folder;"
                    + " pass the folder that PEFT's save_pretrained or Attune's saveAdapter wrote");
        }
        JsonNode c;
        try {
            c = JSON.readTree(file.toFile());
        } catch (IOException e) {
            throw new InvalidCheckpointException(file + " is not valid JSON (" + e.getMessage() + "); write it again"
                    + " with save_pretrained", e);
        }
        if (c == null || !c.isObject()) {
            throw new InvalidCheckpointException(file + " is not a JSON object; write it again with save_pretrained");
        }
        String type = c.path("peft_type").asText("");
        if (!type.equals("LORA")) {
            throw new InvalidCheckpointException(file + ": peft_type '" + type + "' is not supported; Attune reads LoRA"
                    + " adapters (peft_type LORA) only: train a LoRA adapter instead (IA3, prefix and prompt tuning are"
                    + " not supported)");
        }
        if (c.path("use_dora").asBoolean(false)) {
            throw new InvalidCheckpointException(file + ": use_dora is true; DoRA adapters are not supported yet:"
                    + " train with use_dora=False");
        }
        if (c.path("lora_bias").asBoolean(false)) {
            throw new InvalidCheckpointException(file + ": lora_bias is true; LoRA biases are not supported: train"
                    + " with lora_bias=False");
        }
        for (String key : List.of("rank_pattern", "alpha_pattern")) {
            if (c.has(key) && !c.get(key).isNull() && c.get(key).size() > 0) {
                throw new InvalidCheckpointException(file + ": " + key + " " + c.get(key) + " sets per-layer values,"
                        + " which Attune does not support; train with one r and lora_alpha for every layer");
            }
        }
        for (String key : NEUTRAL_NULL) {
            JsonNode v = c.get(key);
            boolean neutral = v == null || v.isNull() || (v.isObject() && v.size() == 0)
                    || key.equals("qalora_group_size") && !c.path("use_qalora").asBoolean(false);
            if (!neutral) {
                throw new InvalidCheckpointException(file + ": " + key + " is " + v + "; Attune does not support that"
                        + " option: train without it (" + key + "=None)");
            }
        }
        if (c.path("use_qalora").asBoolean(false)) {
            throw new InvalidCheckpointException(file + ": use_qalora is true, which Attune does not support;"
                    + " train with use_qalora=False");
        }
        JsonNode r = c.get("r");
        if (r == null || !r.canConvertToInt()) {
            throw new InvalidCheckpointException(file + ": 'r' is missing or not a whole number (" + r + "); the rank"
                    + " of the adapter must be given, as PEFT writes it");
        }
        LoraConfig.Builder b = LoraConfig.builder().r(r.asInt())
                .loraAlpha(c.path("lora_alpha").asDouble(8))
                .loraDropout(c.path("lora_dropout").asDouble(0))
                .useRslora(c.path("use_rslora").asBoolean(false))
                .bias(c.path("bias").asText("none"))
                .adapter(folder);
        JsonNode targets = c.get("target_modules");
        if (targets != null && targets.isTextual()) {
            b.targetModulesRegex(targets.asText());
        } else if (targets != null && targets.isArray()) {
            List<String> names = new ArrayList<>();
            targets.forEach(t -> names.add(t.asText()));
            b.targetModules(names);
        } else {
            throw new InvalidCheckpointException(file + ": target_modules is " + targets + "; an adapter names the"
                    + " layers it adapts (a list of names or a regular expression)");
        }
        JsonNode save = c.get("modules_to_save");
        List<String> modules = new ArrayList<>();
        if (save != null && save.isArray()) {
            save.forEach(m -> modules.add(m.asText()));
        }
        b.modulesToSave(modules);
        if (base != null) {
            base[0] = c.path("base_model_name_or_path").isTextual() ? c.get("base_model_name_or_path").asText() : null;
        }
        try {
            return b.build();
        } catch (AttuneException e) {
            throw new InvalidCheckpointException(file + ": " + e.getMessage(), e);
        }
    }

    /**
     * @param folder an adapter folder
     * @return its settings and tensors
     */
    public static Adapter read(Path folder) {
        String[] base = new String[1];
        LoraConfig config = readConfig(folder, base);
        Path weights = folder.resolve(WEIGHTS_FILE);
        if (!Files.isRegularFile(weights)) {
            String fix = Files.isRegularFile(folder.resolve("adapter_model.bin"))
                    ? "it has adapter_model.bin (a pickle, which Attune does not run): save it again with"
                            + " save_pretrained(safe_serialization=True)"
                    : "save the adapter again with save_pretrained";
            throw new InvalidCheckpointException(folder + " has no " + WEIGHTS_FILE + "; " + fix);
        }
        Map<String, TensorData> tensors = new LinkedHashMap<>();
        try (SafetensorsStore store = SafetensorsStore.openFile(weights)) {
            for (String key : store.names()) {
                if (key.contains("lora_magnitude_vector")) {
                    throw new InvalidCheckpointException(weights + ": key '" + key + "' is a DoRA magnitude; DoRA"
                            + " adapters are not supported yet: train with use_dora=False");
                }
                if (key.contains("lora_embedding_")) {
                    throw new InvalidCheckpointException(weights + ": key '" + key + "' adapts an embedding layer;"
                            + " Attune puts LoRA on linear layers only: leave embeddings out of target_modules");
                }
                if (!key.startsWith(PREFIX)) {
                    throw new InvalidCheckpointException(weights + ": key '" + key + "' does not start with '" + PREFIX
                            + "' as PEFT's keys do; save the adapter with PEFT's save_pretrained or Attune's"
                            + " saveAdapter");
                }
                tensors.put(key.substring(PREFIX.length()), store.read(key).toFloat32());
            }
        }
        return new Adapter(config, base[0], tensors, weights);
    }

    /**
     * Writes an adapter's two files into a folder (which the caller makes appear atomically).
     *
     * @param folder the folder, existing
     * @param adapter the adapter
     * @param values the model's current values of the adapter's and the saved modules' parameters
     * @param baseModel {@code base_model_name_or_path}
     */
    public static void write(Path folder, LoraAdapter adapter, Map<String, TensorData> values, String baseModel) {
        Map<String, TensorData> tensors = new LinkedHashMap<>();
        for (Target t : adapter.targets()) {
            tensors.put(PREFIX + t.a().name(), values.get(t.a().name()));
            tensors.put(PREFIX + t.b().name(), values.get(t.b().name()));
        }
        for (String name : adapter.savedParameters()) {
            tensors.put(PREFIX + name, values.get(name));
        }
        SafetensorsWriter.write(folder.resolve(WEIGHTS_FILE), tensors);
        LoraConfig c = adapter.config();
        ObjectNode json = JSON.createObjectNode();
        json.put("peft_type", "LORA");
        json.put("task_type", taskType(adapter.kind()));
        json.put("base_model_name_or_path", baseModel);
        json.putNull("revision");
        json.put("inference_mode", true);
        json.put("r", c.r());
        if (c.loraAlpha() == Math.rint(c.loraAlpha())) {
            json.put("lora_alpha", (long) c.loraAlpha());
        } else {
            json.put("lora_alpha", c.loraAlpha());
        }
        json.put("lora_dropout", c.loraDropout());
        ArrayNode targets = json.putArray("target_modules");
        adapter.targetNames().forEach(targets::add);
        if (adapter.modulesToSave().isEmpty()) {
            json.putNull("modules_to_save");
        } else {
            ArrayNode save = json.putArray("modules_to_save");
            adapter.modulesToSave().forEach(save::add);
        }
        json.put("fan_in_fan_out", adapter.fanInFanOut());
        json.put("bias", "none");
        json.put("use_rslora", c.useRslora());
        json.put("use_dora", false);
        json.put("init_lora_weights", true);
        json.putNull("layers_to_transform");
        json.putNull("layers_pattern");
        json.putObject("rank_pattern");
        json.putObject("alpha_pattern");
        try {
            Files.write(folder.resolve(CONFIG_FILE), (JSON.writeValueAsString(json) + "\n").getBytes(StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new AttuneException("could not write " + folder.resolve(CONFIG_FILE) + ": " + e.getMessage(), e);
        }
    }

    /** PEFT's {@code task_type} for a head, so {@code PeftModel.from_pretrained} builds the matching model class. */
    static String taskType(HeadKind kind) {
        if (kind == null) {
            return null;
        }
        return switch (kind) {
            case SEQUENCE_CLASSIFICATION -> "SEQ_CLS";
            case TOKEN_CLASSIFICATION -> "TOKEN_CLS";
            case QUESTION_ANSWERING -> "QUESTION_ANS";
            case CAUSAL_LM -> "CAUSAL_LM";
            case SEQ2SEQ_LM -> "SEQ_2_SEQ_LM";
            default -> null;
        };
    }
}
