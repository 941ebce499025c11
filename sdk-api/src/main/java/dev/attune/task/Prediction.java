package dev.attune.task;

import java.util.Map;

/** A task's answer for one input: a label, entities, a span or text. */
public interface Prediction {
    /** @return the prediction as JSON-ready values, for the command line and services */
    Map<String, Object> toMap();
}
