package dev.attune.error;

import org.apiguardian.api.API;

/**
 * Root of every exception Attune throws on purpose. Messages name the file, key or line involved
 * and say what the user can do about it.
 */
@API(status = API.Status.STABLE, since = "0.1")
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
