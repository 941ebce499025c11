package dev.attune.tasks.io;

import dev.attune.error.ConfigurationException;
import java.util.Locale;
import org.apiguardian.api.API;

/** What a reader does with a malformed row: the task option {@code on_bad_row}. */
@API(status = API.Status.STABLE, since = "0.1")
public enum BadRowPolicy {
    /** Stop with an {@link dev.attune.error.InvalidDataException} naming the file and line (default). */
    FAIL,
    /** Leave the row out, log it, and count it in {@link dev.attune.task.Dataset#skipped()}. */
    SKIP;

    /** The task option that selects the policy. */
    public static final String OPTION = "on_bad_row";

    /**
     * @param option {@code fail} or {@code skip} (case-insensitive), or null for the default
     * @return the policy
     * @throws ConfigurationException for any other value
     */
    public static BadRowPolicy parse(String option) {
        if (option == null) {
            return FAIL;
        }
        switch (option.trim().toLowerCase(Locale.ROOT)) {
            case "fail":
                return FAIL;
            case "skip":
                return SKIP;
            default:
                throw new ConfigurationException(
                        OPTION + " '" + option + "' is not known; use " + OPTION + "=fail or " + OPTION + "=skip");
        }
    }
}
