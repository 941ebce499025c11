package dev.attune.tasks.io;

import dev.attune.error.InvalidDataException;
import org.apiguardian.api.API;

/**
 * A bad row, as {@link Row#error} reports it: the message names the file and line, says what is
 * wrong and how to fix the row, or to skip such rows with {@code on_bad_row=skip}; {@link
 * #problem()} is the same without the advice to skip, for the reader's log and summary once rows
 * are being skipped. A {@link RowMapper} throws it (through {@link Row#error}, {@link Row#require}
 * and the other {@code Row.require*} methods) and {@link TableReader} applies its {@link
 * BadRowPolicy} to it; any other {@link InvalidDataException} a mapper throws counts as a bad row
 * too.
 */
@API(status = API.Status.EXPERIMENTAL, since = "0.1")
public final class BadRowException extends InvalidDataException {
    /** Serialization version. */
    private static final long serialVersionUID = 1L;

    private final String problem;

    /**
     * @param problem location and problem, with what to do about the row
     * @param advice the rest of the message: how to skip such rows
     */
    BadRowException(String problem, String advice) {
        super(problem + advice);
        this.problem = problem;
    }

    /** @return location and problem, without the advice to skip such rows */
    public String problem() {
        return problem;
    }
}
