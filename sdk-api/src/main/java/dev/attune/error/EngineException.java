package dev.attune.error;

import org.apiguardian.api.API;

/** The engine failed: no engine was found, the requested device is unavailable, or a native call failed. */
@API(status = API.Status.STABLE, since = "0.1")
public class EngineException extends AttuneException {
    private static final long serialVersionUID = 1L;

    /** @param message what went wrong, where, and what to do */
    public EngineException(String message) {
        super(message);
    }

    /**
     * @param message what went wrong, where, and what to do
     * @param cause the underlying failure
     */
    public EngineException(String message, Throwable cause) {
        super(message, cause);
    }
}
