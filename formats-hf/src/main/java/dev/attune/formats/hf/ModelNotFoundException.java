package dev.attune.formats.hf;

import org.apiguardian.api.API;

/** The Hub has no model with the given id, or the model has no such revision or file (HTTP 404). */
@API(status = API.Status.STABLE, since = "0.1")
public class ModelNotFoundException extends HubException {
    private static final long serialVersionUID = 1L;

    /** @param message names the model id (and revision) and what to check */
    public ModelNotFoundException(String message) {
        super(message);
    }
}
