package dev.attune.task;

import java.util.Objects;
import java.util.function.Function;
import org.apiguardian.api.API;

/**
 * SPI of a task plugin, found with {@link java.util.ServiceLoader}: users add their own by listing
 * a class in {@code META-INF/services/dev.attune.task.TaskProvider}.
 *
 * <p>Most providers only name a task and call its constructor; they extend {@link Simple} in one
 * statement (ServiceLoader needs a public class with a public no-argument constructor per entry):
 *
 * <pre>{@code
 * public final class ReviewScoreTaskProvider extends TaskProvider.Simple {
 *     public ReviewScoreTaskProvider() {
 *         super("review-score", "predicts a review's score; options text_column, score_column", ReviewScoreTask::new);
 *     }
 * }
 * }</pre>
 *
 * <p>{@link #of} gives the same provider as a value, for a registry built in code.
 */
@API(status = API.Status.STABLE, since = "0.1")
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

    /**
     * @param name the task's name
     * @param description one line on what it does and the options it reads
     * @param factory creates the task from its options
     * @return a provider of that task
     */
    static TaskProvider of(String name, String description, Function<TaskOptions, ? extends Task> factory) {
        return new Simple(name, description, factory) {};
    }

    /**
     * A provider that names a task and creates it with a factory (usually the task's constructor
     * taking {@link TaskOptions}). A plugin's provider class extends it with a public no-argument
     * constructor that passes the three.
     */
    @API(status = API.Status.STABLE, since = "0.1")
    abstract class Simple implements TaskProvider {
        private final String name;
        private final String description;
        private final Function<TaskOptions, ? extends Task> factory;

        /**
         * @param name the task's name on the command line, not blank
         * @param description one line on what the task does and which options it reads
         * @param factory creates the task from its options
         * @throws IllegalArgumentException when the name is blank
         */
        protected Simple(String name, String description, Function<TaskOptions, ? extends Task> factory) {
            this.name = Objects.requireNonNull(name, "name");
            this.description = Objects.requireNonNull(description, "description");
            this.factory = Objects.requireNonNull(factory, "factory");
            if (name.isBlank()) {
                throw new IllegalArgumentException("a task provider needs a name");
            }
        }

        @Override
        public final String name() {
            return name;
        }

        @Override
        public final String description() {
            return description;
        }

        /** @throws IllegalStateException when the factory returns null */
        @Override
        public final Task create(TaskOptions options) {
            Task task = factory.apply(Objects.requireNonNull(options, "options"));
            if (task == null) {
                throw new IllegalStateException("the factory of task '" + name + "' returned null");
            }
            return task;
        }

        @Override
        public String toString() {
            return getClass().getName() + "[" + name + "]";
        }
    }
}
