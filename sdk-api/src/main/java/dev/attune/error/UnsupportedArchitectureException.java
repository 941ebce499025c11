package dev.attune.error;

import org.apiguardian.api.API;

/** A checkpoint names a model_type, architecture or head that no discovered model family supports. */
@API(status = API.Status.STABLE, since = "0.1")
public class UnsupportedArchitectureException extends AttuneException {
    private static final long serialVersionUID = 1L;

    /** @param message what went wrong, where, and what to do */
    public UnsupportedArchitectureException(String message) {
        super(message);
    }

    /**
     * @param message what went wrong, where, and what to do
     * @param cause the underlying failure
     */
    public UnsupportedArchitectureException(String message, Throwable cause) {
        super(message, cause);
    }
}
