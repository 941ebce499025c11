package dev.attune.task;

import dev.attune.error.ConfigurationException;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import org.apiguardian.api.API;

/**
 * String options of a task ({@code text_column=sentence}), as the command line and config.json
 * carry them.
 *
 * @param values option name to value
 */
@API(status = API.Status.STABLE, since = "0.1")
public record TaskOptions(Map<String, String> values) {
    /**
     * Copies the map.
     *
     * @param values option name to value
     */
    public TaskOptions {
        values = Collections.unmodifiableMap(new LinkedHashMap<>(values));
    }

    /** @return no options */
    public static TaskOptions empty() {
        return new TaskOptions(Map.of());
    }

    /**
     * @param key option name
     * @param fallback value when absent
     * @return the value
     */
    public String get(String key, String fallback) {
        return values.getOrDefault(key, fallback);
    }

    /**
     * @param known option names the task reads
     * @param task the task name, for the message
     * @throws ConfigurationException when an option is not among {@code known}
     */
    public void requireOnly(Set<String> known, String task) {
        for (String k : values.keySet()) {
            if (!known.contains(k)) {
                throw new ConfigurationException(
                        "task '" + task + "' has no option '" + k + "'; its options are " + known);
            }
        }
    }
}
