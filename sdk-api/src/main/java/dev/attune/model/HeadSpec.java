package dev.attune.model;

/**
 * Which head a task asks a family for.
 *
 * @param kind the HuggingFace head
 * @param numLabels output classes (classification heads); 0 where it does not apply
 */
public record HeadSpec(HeadKind kind, int numLabels) {
    /** Validates. */
    public HeadSpec {
        if (numLabels < 0) {
            throw new IllegalArgumentException("numLabels must be >= 0");
        }
    }
}
