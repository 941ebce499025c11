package dev.attune.formats.hf;

import org.apiguardian.api.API;

import dev.attune.error.AttuneException;

/**
 * Downloading a model from the HuggingFace Hub (or a server with its layout) failed: the network,
 * the server, a download whose size or checksum does not match what the Hub announced, or an
 * offline cache that lacks a file. Subtypes say when the model does not exist or access is denied.
 */
@API(status = API.Status.STABLE, since = "0.1")
public class HubException extends AttuneException {
    private static final long serialVersionUID = 1L;

    /** @param message what went wrong, which model and file, and what to do */
    public HubException(String message) {
        super(message);
    }

    /**
     * @param message what went wrong, which model and file, and what to do
     * @param cause the underlying failure
     */
    public HubException(String message, Throwable cause) {
        super(message, cause);
    }
}
