package dev.attune.error;

import org.apiguardian.api.API;

/** A checkpoint (config.json, weights, tokenizer files) is missing, truncated, corrupt or inconsistent. */
@API(status = API.Status.STABLE, since = "0.1")
public class InvalidCheckpointException extends AttuneException {
    private static final long serialVersionUID = 1L;

    /** @param message what went wrong, where, and what to do */
    public InvalidCheckpointException(String message) {
        super(message);
    }

    /**
     * @param message what went wrong, where, and what to do
     * @param cause the underlying failure
     */
    public InvalidCheckpointException(String message, Throwable cause) {
        super(message, cause);
    }
}
