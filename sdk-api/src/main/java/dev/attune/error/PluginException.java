package dev.attune.error;

/** A plugin (engine, model family, task) is missing, duplicated or cannot be created. */
public class PluginException extends AttuneException {
    private static final long serialVersionUID = 1L;

    /** @param message what went wrong, where, and what to do */
    public PluginException(String message) {
        super(message);
    }

    /**
     * @param message what went wrong, where, and what to do
     * @param cause the underlying failure
     */
    public PluginException(String message, Throwable cause) {
        super(message, cause);
    }
}
