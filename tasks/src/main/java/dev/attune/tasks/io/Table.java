package dev.attune.tasks.io;

import java.nio.file.Path;
import java.util.List;
import org.apiguardian.api.API;

/**
 * What a {@link TableReader} read from one file.
 *
 * @param file the file
 * @param rows the mapped rows, in file order
 * @param skipped bad rows left out under {@link BadRowPolicy#SKIP}
 * @param <T> the row type
 */
@API(status = API.Status.STABLE, since = "0.1")
public record Table<T>(Path file, List<T> rows, int skipped) {
    /**
     * Copies the list.
     *
     * @param file the file
     * @param rows the mapped rows, in file order
     * @param skipped bad rows left out under {@link BadRowPolicy#SKIP}
     */
    public Table {
        rows = List.copyOf(rows);
    }
}
