package dev.attune.formats.hf;

/**
 * The Hub refused access (HTTP 401 or 403): the model is gated or private and no token, or a token
 * without access, was sent. The message says how to provide one ({@code HF_TOKEN}).
 */
public class HubAccessDeniedException extends HubException {
    private static final long serialVersionUID = 1L;

    /** @param message names the model id and how to get access */
    public HubAccessDeniedException(String message) {
        super(message);
    }
}
