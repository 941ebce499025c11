package dev.attune.formats.hf;

import org.apiguardian.api.API;

/**
 * The Hub refused access (HTTP 401 or 403): the model is gated or private and no token, or a token
 * without access, was sent. The message says how to provide one ({@code HF_TOKEN}).
 */
@API(status = API.Status.STABLE, since = "0.1")
public class HubAccessDeniedException extends HubException {
    private static final long serialVersionUID = 1L;

    /** @param message names the model id and how to get access */
    public HubAccessDeniedException(String message) {
        super(message);
    }
}
