package dev.attune.tasks.io;

import java.util.Objects;
import org.apiguardian.api.API;

/**
 * A column a task reads, with the option that names it, so that an error about a missing column
 * can tell the user which option to change.
 *
 * @param name the column's name in the header (or the field's name in a JSON object)
 * @param option the task option that set it ({@code text_column}), or null
 */
@API(status = API.Status.STABLE, since = "0.1")
public record Column(String name, String option) {
    /**
     * Validates.
     *
     * @param name the column's name in the header (or the field's name in a JSON object)
     * @param option the task option that set it ({@code text_column}), or null
     */
    public Column {
        Objects.requireNonNull(name, "name");
    }
}
