package dev.attune.error;

import org.apiguardian.api.API;

/** A training, evaluation or prediction data file cannot be used (missing column, unknown label, malformed row). */
@API(status = API.Status.STABLE, since = "0.1")
public class InvalidDataException extends AttuneException {
    private static final long serialVersionUID = 1L;

    /** @param message what went wrong, where, and what to do */
    public InvalidDataException(String message) {
        super(message);
    }

    /**
     * @param message what went wrong, where, and what to do
     * @param cause the underlying failure
     */
    public InvalidDataException(String message, Throwable cause) {
        super(message, cause);
    }
}
