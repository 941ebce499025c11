package dev.attune.tasks.choice;

import dev.attune.task.Example;
import java.util.List;
import java.util.Objects;

/**
 * A context and its candidate endings, with the index of the right one for training data.
 *
 * @param location {@code file:line} or {@code input}
 * @param context the text every ending continues
 * @param endings the candidates, at least two, in file order
 * @param label the index of the right ending, or null when unknown (an input to predict)
 */
public record ChoiceExample(String location, String context, List<String> endings, Integer label) implements Example {
    /** Validates and copies the endings. */
    public ChoiceExample {
        Objects.requireNonNull(location, "location");
        Objects.requireNonNull(context, "context");
        endings = List.copyOf(endings);
        if (endings.size() < 2) {
            throw new IllegalArgumentException(location + ": a multiple-choice example needs at least two endings");
        }
        if (label != null && (label < 0 || label >= endings.size())) {
            throw new IllegalArgumentException(location + ": label " + label + " is not an ending index 0.."
                    + (endings.size() - 1));
        }
    }
}
