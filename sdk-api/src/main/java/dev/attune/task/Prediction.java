package dev.attune.task;

import java.util.Map;
import org.apiguardian.api.API;

/** A task's answer for one input: a label, entities, a span or text. */
@API(status = API.Status.STABLE, since = "0.1")
public interface Prediction {
    /** @return the prediction as JSON-ready values, for the command line and services */
    Map<String, Object> toMap();
}
