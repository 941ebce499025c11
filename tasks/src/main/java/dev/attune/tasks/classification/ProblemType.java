package dev.attune.tasks.classification;

import dev.attune.error.ConfigurationException;
import java.util.Arrays;
import java.util.Locale;

/**
 * What a sequence classifier predicts, as HuggingFace's {@code config.problem_type} says it: the
 * task option {@value #OPTION}, saved at the top of a trained model's {@code config.json} so that
 * {@code AutoModelForSequenceClassification} computes the same loss.
 */
public enum ProblemType {
    /** One label per text; softmax over the labels and cross-entropy (the default). */
    SINGLE_LABEL_CLASSIFICATION("single_label_classification"),
    /** Any number of labels per text; a sigmoid per label and binary cross-entropy. */
    MULTI_LABEL_CLASSIFICATION("multi_label_classification"),
    /** A number per text; one output and mean squared error. */
    REGRESSION("regression");

    /** The task option (and config.json key) that names the problem type. */
    public static final String OPTION = "problem_type";

    private final String configName;

    ProblemType(String configName) {
        this.configName = configName;
    }

    /** @return the name in HuggingFace's {@code config.json} ({@code multi_label_classification}) */
    public String configName() {
        return configName;
    }

    /**
     * @param value an option value: a {@link #configName()} (case-insensitive, {@code -} taken as
     *     {@code _}), or null for the default
     * @return the problem type
     * @throws ConfigurationException for any other value, listing the known ones
     */
    public static ProblemType parse(String value) {
        if (value == null) {
            return SINGLE_LABEL_CLASSIFICATION;
        }
        String v = value.strip().toLowerCase(Locale.ROOT).replace('-', '_');
        for (ProblemType t : values()) {
            if (t.configName.equals(v)) {
                return t;
            }
        }
        throw new ConfigurationException(OPTION + "=" + value + " is not known; use one of "
                + Arrays.stream(values()).map(ProblemType::configName).toList());
    }

    @Override
    public String toString() {
        return configName;
    }
}
