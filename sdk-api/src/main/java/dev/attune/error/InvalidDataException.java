package dev.attune.error;

/** A training, evaluation or prediction data file cannot be used (missing column, unknown label, malformed row). */
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
