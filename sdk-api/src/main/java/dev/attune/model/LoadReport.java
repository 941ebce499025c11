package dev.attune.model;

import java.util.List;

/**
 * What happened when a checkpoint's tensors were matched to a definition's parameters, as
 * HuggingFace reports it on {@code from_pretrained}.
 *
 * @param loaded parameters filled from the checkpoint
 * @param missing parameters the checkpoint lacks, freshly initialised (a new head)
 * @param unused checkpoint tensors no parameter took (an old head)
 */
public record LoadReport(List<String> loaded, List<String> missing, List<String> unused) {
    /** Copies the lists. */
    public LoadReport {
        loaded = List.copyOf(loaded);
        missing = List.copyOf(missing);
        unused = List.copyOf(unused);
    }
}
