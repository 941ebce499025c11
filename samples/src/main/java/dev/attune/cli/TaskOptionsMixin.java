package dev.attune.cli;

import dev.attune.Attune;
import dev.attune.error.ConfigurationException;
import dev.attune.task.Task;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeMap;
import picocli.CommandLine.Option;

/**
 * How a command that trains reads its data: the common task options by name, any other one with
 * {@code --task-option}, and options for the evaluation file alone with {@code --eval-task-option}.
 * Shared by {@code fine-tune} and {@code tune}, so a data set one of them reads the other reads too.
 */
final class TaskOptionsMixin {
    @Option(names = "--text-column", description = "column with the text")
    String textColumn;

    @Option(names = "--text-pair-column", description = "column with the second text (pair tasks)")
    String textPairColumn;

    @Option(names = "--label-column", description = "column with the label")
    String labelColumn;

    @Option(names = "--positive-label", description = "label scored by binary precision/recall/F1")
    String positiveLabel;

    @Option(names = "--class-weights", description = "loss weight per label for imbalanced data: balanced (from the"
            + " training data's label counts) or label=weight pairs, e.g. spam=4,ham=1 (classification tasks)")
    String classWeights;

    @Option(names = "--task-option", description = "other task option key=value (repeatable)")
    Map<String, String> taskOptions = new LinkedHashMap<>();

    @Option(names = "--eval-task-option", description = "task option key=value for reading the --eval file only,"
            + " replacing the same key of --task-option (repeatable); e.g. train on the first 38 articles of a SQuAD"
            + " file and evaluate on the other 10: --task-option article_end=38 --eval-task-option article_start=38"
            + " --eval-task-option article_end=48")
    Map<String, String> evalTaskOptions = new LinkedHashMap<>();

    /** @return the task options: {@code --task-option} pairs, then the named options that were given */
    Map<String, String> options() {
        Map<String, String> options = new LinkedHashMap<>(taskOptions);
        putIfSet(options, "text_column", textColumn);
        putIfSet(options, "text_pair_column", textPairColumn);
        putIfSet(options, "label_column", labelColumn);
        putIfSet(options, "positive_label", positiveLabel);
        putIfSet(options, "class_weights", classWeights);
        return options;
    }

    /**
     * @param hasEval whether the command was given an evaluation file
     * @throws ConfigurationException when {@code --eval-task-option} was given without one
     */
    void checkEval(boolean hasEval) {
        if (!evalTaskOptions.isEmpty() && !hasEval) {
            throw new ConfigurationException(
                    "--eval-task-option applies to the --eval file; give --eval too, or use --task-option");
        }
    }

    /**
     * @return the task that reads the evaluation file: {@code t} itself, or with {@code
     *     --eval-task-option}, another instance of {@code taskName} with those options over {@link
     *     #options()} (it only reads; {@code t} encodes, trains and scores)
     */
    Task evalReader(Attune attune, String taskName, Task t) {
        if (evalTaskOptions.isEmpty()) {
            return t;
        }
        Map<String, String> merged = options();
        merged.putAll(evalTaskOptions);
        return attune.task(taskName, merged);
    }

    /**
     * @return every option given, for records that must match between runs: the three columns and
     *     labels by name as {@code tune} recorded them before the others existed (so its earlier
     *     folders still resume), the others only when set
     */
    Map<String, Object> describe() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("text_column", textColumn);
        m.put("label_column", labelColumn);
        m.put("positive_label", positiveLabel);
        putIfSet(m, "text_pair_column", textPairColumn);
        putIfSet(m, "class_weights", classWeights);
        if (!taskOptions.isEmpty()) {
            m.put("task_options", new TreeMap<>(taskOptions));
        }
        if (!evalTaskOptions.isEmpty()) {
            m.put("eval_task_options", new TreeMap<>(evalTaskOptions));
        }
        return m;
    }

    /** Puts {@code key=value} when the option was given (shared with {@code predict}'s input options). */
    static void putIfSet(Map<String, ? super String> map, String key, String value) {
        if (value != null) {
            map.put(key, value);
        }
    }
}
