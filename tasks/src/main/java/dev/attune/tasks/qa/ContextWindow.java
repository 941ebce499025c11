package dev.attune.tasks.qa;

/**
 * The part of a context one question-answering feature holds, kept as the feature's context for
 * decoding: for every position of the feature, the character span of the context it covers.
 *
 * @param index the window's number among its example's windows, from 0
 * @param charStarts per position, first character in the context, or -1 where the position is not
 *     a context token ([CLS], question, [SEP])
 * @param charEnds per position, the character after its last, or -1
 */
public record ContextWindow(int index, int[] charStarts, int[] charEnds) {
    /** Validates. */
    public ContextWindow {
        if (charStarts.length != charEnds.length) {
            throw new IllegalArgumentException("one start and end per position are needed");
        }
    }

    /** @return number of positions */
    public int length() {
        return charStarts.length;
    }

    /**
     * @param position a position of the feature
     * @return whether it holds a context token
     */
    public boolean inContext(int position) {
        return position >= 0 && position < charStarts.length && charStarts[position] >= 0;
    }
}
