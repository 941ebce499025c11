package dev.attune.tasks.io;

/**
 * Turns one row into a task's example.
 *
 * @param <T> the example type
 */
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
