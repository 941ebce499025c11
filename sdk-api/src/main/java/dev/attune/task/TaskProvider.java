package dev.attune.task;

/**
 * SPI of a task plugin, found with {@link java.util.ServiceLoader}: users add their own by listing
 * a class in {@code META-INF/services/dev.attune.task.TaskProvider}.
 */
public interface TaskProvider {
    /** @return the task's name on the command line ({@code text-classification}) */
    String name();

    /** @return one line on what the task does and which options it reads */
    String description();

    /**
     * @param options task options (column names, formats, label list ...)
     * @return a task without labels fixed yet
     * @throws dev.attune.error.ConfigurationException on an unknown or invalid option
     */
    Task create(TaskOptions options);
}
