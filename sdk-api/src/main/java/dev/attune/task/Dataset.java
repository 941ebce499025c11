package dev.attune.task;

import java.util.List;

/**
 * Examples read from one source.
 *
 * @param source file or description
 * @param examples the examples in file order
 * @param skipped malformed rows skipped (0 under the fail policy)
 */
public record Dataset(String source, List<? extends Example> examples, int skipped) {
    /** Copies the list. */
    public Dataset {
        examples = List.copyOf(examples);
    }

    /** @return number of examples */
    public int size() {
        return examples.size();
    }
}
