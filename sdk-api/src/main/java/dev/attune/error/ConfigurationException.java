package dev.attune.error;

/** A setting (training configuration, command-line option, config override) is invalid. */
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
