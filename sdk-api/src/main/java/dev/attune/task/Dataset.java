package dev.attune.task;

import java.util.List;
import org.apiguardian.api.API;

/**
 * Examples read from one source.
 *
 * @param source file or description
 * @param examples the examples in file order
 * @param skipped malformed rows skipped (0 under the fail policy)
 */
@API(status = API.Status.STABLE, since = "0.1")
public record Dataset(String source, List<? extends Example> examples, int skipped) {
    /**
     * Copies the list.
     *
     * @param source file or description
     * @param examples the examples in file order
     * @param skipped malformed rows skipped (0 under the fail policy)
     */
    public Dataset {
        examples = List.copyOf(examples);
    }

    /** @return number of examples */
    public int size() {
        return examples.size();
    }
}
