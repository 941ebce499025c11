package dev.attune.task;

import org.apiguardian.api.API;

/** One input (and, for training data, its answer) as a task reads it from a file. */
@API(status = API.Status.STABLE, since = "0.1")
public interface Example {
    /** @return where it came from: {@code file:line}, for error messages */
    String location();
}
