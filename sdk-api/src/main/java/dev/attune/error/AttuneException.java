package dev.attune.error;

/**
 * Root of every exception Attune throws on purpose. Messages name the file, key or line involved
 * and say what the user can do about it.
 */
public class AttuneException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /** @param message what went wrong, where, and what to do */
    public AttuneException(String message) {
        super(message);
    }

    /**
     * @param message what went wrong, where, and what to do
     * @param cause the underlying failure
     */
    public AttuneException(String message, Throwable cause) {
        super(message, cause);
    }
}
