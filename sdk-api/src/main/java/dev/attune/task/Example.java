package dev.attune.task;

/** One input (and, for training data, its answer) as a task reads it from a file. */
public interface Example {
    /** @return where it came from: {@code file:line}, for error messages */
    String location();
}
