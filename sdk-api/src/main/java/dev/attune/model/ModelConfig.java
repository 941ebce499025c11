package dev.attune.model;

import org.apiguardian.api.API;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.node.TextNode;
import dev.attune.error.ConfigurationException;
import dev.attune.error.InvalidCheckpointException;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * A HuggingFace {@code config.json}, kept whole (unknown keys survive a save) with typed accessors
 * whose errors name the file and the key. Immutable: {@link #with} returns a changed copy.
 */
@API(status = API.Status.STABLE, since = "0.1")
public final class ModelConfig {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final ObjectNode root;
    private final String origin;

    private ModelConfig(ObjectNode root, String origin) {
        this.root = root;
        this.origin = origin;
    }

    /**
     * @param json the contents of a config.json
     * @param origin where it came from (a path), used in error messages
     * @return the parsed config
     * @throws InvalidCheckpointException when it is not a JSON object
     */
    public static ModelConfig parse(String json, String origin) {
        try {
            JsonNode node = JSON.readTree(json);
            if (node == null || !node.isObject()) {
                throw new InvalidCheckpointException(origin + ": expected a JSON object");
            }
            return new ModelConfig((ObjectNode) node, origin);
        } catch (JsonProcessingException e) {
            // limit violations (nesting, number or string length) carry no location
            String at = e.getLocation() == null ? "" : " at line " + e.getLocation().getLineNr();
            throw new InvalidCheckpointException(
                    origin + ": not valid JSON (" + e.getOriginalMessage() + at + "); re-download or fix the file",
                    e);
        }
    }

    /**
     * @param values keys and values
     * @param origin a description for error messages
     * @return a config built from a map (tests, programmatic models)
     */
    public static ModelConfig of(Map<String, ?> values, String origin) {
        return new ModelConfig(JSON.valueToTree(values), origin);
    }

    /** @return where the config came from */
    public String origin() {
        return origin;
    }

    /** @return {@code model_type} */
    public String modelType() {
        return requireString("model_type");
    }

    /**
     * @param key a config key
     * @return whether the key is present and not null
     */
    public boolean has(String key) {
        JsonNode n = root.get(key);
        return n != null && !n.isNull();
    }

    /**
     * @param key a config key
     * @return its integer value
     * @throws InvalidCheckpointException when missing or not an integer
     */
    public int requireInt(String key) {
        JsonNode n = require(key);
        if (!n.canConvertToInt() || !n.isIntegralNumber()) {
            throw new InvalidCheckpointException(origin + ": key '" + key + "' must be an integer, found " + n);
        }
        return n.intValue();
    }

    /**
     * @param key a config key
     * @param fallback value when absent or null
     * @return its integer value
     */
    public int getInt(String key, int fallback) {
        return has(key) ? requireInt(key) : fallback;
    }

    /**
     * @param key a config key
     * @param fallback value when absent or null
     * @return its numeric value
     */
    public double getDouble(String key, double fallback) {
        if (!has(key)) {
            return fallback;
        }
        JsonNode n = root.get(key);
        if (!n.isNumber()) {
            throw new InvalidCheckpointException(origin + ": key '" + key + "' must be a number, found " + n);
        }
        return n.doubleValue();
    }

    /**
     * @param key a config key
     * @return its numeric value
     */
    public double requireDouble(String key) {
        require(key);
        return getDouble(key, 0);
    }

    /**
     * @param key a config key
     * @param fallback value when absent
     * @return its boolean value
     */
    public boolean getBoolean(String key, boolean fallback) {
        if (!has(key)) {
            return fallback;
        }
        JsonNode n = root.get(key);
        if (!n.isBoolean()) {
            throw new InvalidCheckpointException(origin + ": key '" + key + "' must be true or false, found " + n);
        }
        return n.booleanValue();
    }

    /**
     * @param key a config key
     * @return its string value
     */
    public String requireString(String key) {
        JsonNode n = require(key);
        if (!n.isTextual()) {
            throw new InvalidCheckpointException(origin + ": key '" + key + "' must be a string, found " + n);
        }
        return n.textValue();
    }

    /**
     * @param key a config key
     * @param fallback value when absent
     * @return its string value
     */
    public String getString(String key, String fallback) {
        return has(key) ? requireString(key) : fallback;
    }

    /**
     * @param key a config key
     * @return the raw JSON value, if present
     */
    public Optional<JsonNode> raw(String key) {
        return Optional.ofNullable(root.get(key)).filter(n -> !n.isNull());
    }

    /**
     * @return {@code id2label} as a list ordered by id, if the config has one; ids must be 0..n-1
     */
    public Optional<List<String>> labels() {
        Optional<JsonNode> node = raw("id2label");
        if (node.isEmpty()) {
            return Optional.empty();
        }
        JsonNode m = node.get();
        if (!m.isObject()) {
            throw new InvalidCheckpointException(origin + ": id2label must be an object of id -> label");
        }
        List<String> out = new ArrayList<>();
        for (int i = 0; i < m.size(); i++) {
            JsonNode v = m.get(Integer.toString(i));
            if (v == null || !v.isTextual()) {
                throw new InvalidCheckpointException(
                        origin + ": id2label must map every id 0.." + (m.size() - 1) + " to a name; id " + i + " is missing");
            }
            out.add(v.textValue());
        }
        return Optional.of(out);
    }

    /**
     * @param key a config key
     * @param value a JSON-compatible value (number, string, boolean, list, map, null)
     * @return a copy with the key set
     */
    public ModelConfig with(String key, Object value) {
        ObjectNode copy = root.deepCopy();
        copy.set(key, JSON.valueToTree(value));
        return new ModelConfig(copy, origin);
    }

    /**
     * Applies {@code key=value} overrides as the command line's {@code --set} gives them: values are
     * read as JSON when they parse ({@code 0}, {@code 0.1}, {@code true}, {@code null}), else as
     * strings. A key the config does not have is rejected, since a typo would silently do nothing.
     *
     * @param overrides key to raw value
     * @return a copy with the overrides applied
     */
    public ModelConfig withOverrides(Map<String, String> overrides) {
        ObjectNode copy = root.deepCopy();
        for (Map.Entry<String, String> e : overrides.entrySet()) {
            if (!copy.has(e.getKey())) {
                throw new ConfigurationException(
                        "config override '" + e.getKey() + "' is not a key of " + origin
                                + "; known keys: " + keys());
            }
            JsonNode value;
            try {
                value = JSON.readTree(e.getValue());
            } catch (JsonProcessingException ex) {
                value = new TextNode(e.getValue());
            }
            if (value == null || value.isMissingNode()) {
                value = new TextNode(e.getValue());
            }
            copy.set(e.getKey(), value);
        }
        return new ModelConfig(copy, origin);
    }

    /** @return the keys in file order */
    public List<String> keys() {
        List<String> keys = new ArrayList<>();
        for (Iterator<String> it = root.fieldNames(); it.hasNext(); ) {
            keys.add(it.next());
        }
        return keys;
    }

    /**
     * @param labels label names by id
     * @return a copy with {@code id2label}, {@code label2id} (and HuggingFace's derived count) set
     */
    public ModelConfig withLabels(List<String> labels) {
        Map<String, String> id2label = new LinkedHashMap<>();
        Map<String, Integer> label2id = new LinkedHashMap<>();
        for (int i = 0; i < labels.size(); i++) {
            id2label.put(Integer.toString(i), labels.get(i));
            label2id.put(labels.get(i), i);
        }
        return with("id2label", id2label).with("label2id", label2id);
    }

    /** @return the config as pretty-printed JSON, as HuggingFace writes it */
    public String toJson() {
        try {
            return JSON.writerWithDefaultPrettyPrinter().writeValueAsString(root) + "\n";
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    private JsonNode require(String key) {
        JsonNode n = root.get(key);
        if (n == null || n.isNull()) {
            throw new InvalidCheckpointException(
                    origin + ": required key '" + key + "' is missing; the file is incomplete or not a "
                            + "HuggingFace config for this model type");
        }
        return n;
    }

    @Override
    public String toString() {
        return "ModelConfig(" + origin + ")";
    }
}
