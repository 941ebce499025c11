package dev.attune.tasks.io;

import org.apiguardian.api.API;

/**
 * Turns one row into a task's example.
 *
 * @param <T> the example type
 */
@API(status = API.Status.STABLE, since = "0.1")
@FunctionalInterface
public interface RowMapper<T> {
    /**
     * @param row a row of the file
     * @return its example
     * @throws dev.attune.error.InvalidDataException when the row is bad (an empty or unusable
     *     value); the reader then fails or skips the row, as its {@link BadRowPolicy} says
     */
    T map(Row row);
}
