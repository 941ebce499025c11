package dev.attune.error;

import org.apiguardian.api.API;

/** A setting (training configuration, command-line option, config override) is invalid. */
@API(status = API.Status.STABLE, since = "0.1")
public class ConfigurationException extends AttuneException {
    private static final long serialVersionUID = 1L;

    /** @param message what went wrong, where, and what to do */
    public ConfigurationException(String message) {
        super(message);
    }

    /**
     * @param message what went wrong, where, and what to do
     * @param cause the underlying failure
     */
    public ConfigurationException(String message, Throwable cause) {
        super(message, cause);
    }
}
