package dev.attune.tasks.io;

import dev.attune.error.InvalidDataException;

/**
 * A bad row, as {@link Row#error} reports it: the message tells the user how to fix the row or skip
 * such rows; {@link #problem()} is the same without the advice to skip, for the reader's log and
 * summary once rows are being skipped.
 */
final class BadRowException extends InvalidDataException {
    private static final long serialVersionUID = 1L;

    private final String problem;

    BadRowException(String problem, String advice) {
        super(problem + advice);
        this.problem = problem;
    }

    /** @return location and problem, without the advice */
    String problem() {
        return problem;
    }
}
