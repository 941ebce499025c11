package dev.attune.samples.regression;

import dev.attune.error.ConfigurationException;
import dev.attune.error.InvalidDataException;
import dev.attune.model.TextTokenizer.Encoding;
import dev.attune.model.HeadSpec.HeadKind;
import dev.attune.model.HeadSpec;
import dev.attune.model.ModelDefinition.InputSpec;
import dev.attune.model.TextTokenizer;
import dev.attune.ops.DType;
import dev.attune.ops.Ops;
import dev.attune.ops.Tensor;
import dev.attune.task.Dataset;
import dev.attune.task.Evaluator;
import dev.attune.task.Example;
import dev.attune.task.Features;
import dev.attune.task.Prediction;
import dev.attune.task.Task;
import dev.attune.task.TaskOptions;
import dev.attune.task.TaskProvider;
import dev.attune.tasks.io.BadRowPolicy;
import dev.attune.tasks.io.Column;
import dev.attune.tasks.io.DataFormat;
import dev.attune.tasks.io.Table;
import dev.attune.tasks.io.TableReader;
import dev.attune.tasks.metrics.RegressionEvaluator;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A regression task plugin in one file: predicts a review's score (a number, such as 1 to 5 stars)
 * from its text. It is what a library user writes to add a task of their own; the built-in {@code
 * text-classification} task does the same with {@code problem_type=regression}.
 *
 * <p>Data: TSV, CSV or JSON Lines with a header, read with the readers of {@code attune-tasks}
 * ({@link TableReader}), so every bad row is reported with its {@code file:line}. Options: {@code
 * text_column} (default {@code text}), {@code score_column} (default {@code score}), {@code format}
 * (default from the extension), {@code on_bad_row} ({@code fail} or {@code skip}).
 *
 * <p>The model is a sequence classifier with one output (HuggingFace's regression head: {@code
 * num_labels=1}, {@code problem_type=regression}), trained on the mean squared error. Metrics are
 * {@code mse} (the metric that picks the best checkpoint, lower is better), {@code rmse}, {@code
 * mae}, {@code pearson} and {@code spearman}. A prediction is {@code {"score": 4.2}}. A saved model
 * carries {@code problem_type} and {@code id2label} in its {@code config.json}, so Python's {@code
 * AutoModelForSequenceClassification} loads it as a regression model too.
 *
 * <p>Registered through {@code META-INF/services/dev.attune.task.TaskProvider} by its nested {@link
 * Provider}; the task has no label set, so it writes none of the label methods of {@link Task}. It
 * is immutable, so {@link #encode} and {@link #decode} are safe from several threads.
 */
public final class ReviewScoreTask implements Task {
    /** The task's name. */
    public static final String NAME = "review-score";

    private static final Set<String> OPTIONS = Set.of("text_column", "score_column", "format", BadRowPolicy.OPTION);
    /** The name of the head's one output in config.json's {@code id2label}. */
    private static final String OUTPUT = "score";

    private final TaskOptions options;
    private final Column text;
    private final Column score;
    private final TableReader reader;

    /**
     * @param options task options
     * @throws ConfigurationException on an unknown option or an empty column name
     */
    public ReviewScoreTask(TaskOptions options) {
        options.requireOnly(OPTIONS, NAME);
        this.options = options;
        this.text = column(options, "text_column", "text");
        this.score = column(options, "score_column", "score");
        String format = options.values().get("format");
        this.reader = new TableReader(format == null ? null : DataFormat.parse(format),
                BadRowPolicy.parse(options.values().get(BadRowPolicy.OPTION)));
    }

    private static Column column(TaskOptions options, String option, String fallback) {
        String name = options.get(option, fallback).strip();
        if (name.isEmpty()) {
            throw new ConfigurationException("option " + option + " of task '" + NAME + "' is empty; name a column");
        }
        return new Column(name, option);
    }

    /** Registers the task; ServiceLoader finds it as {@code ReviewScoreTask$Provider}. */
    public static final class Provider extends TaskProvider.Simple {
        /** For {@link java.util.ServiceLoader}. */
        public Provider() {
            super(NAME, "predict a review's score (regression, sample plugin); options text_column, score_column,"
                    + " format, on_bad_row", ReviewScoreTask::new);
        }
    }

    /**
     * One review and its score.
     *
     * @param text the review
     * @param score its score, or null for a review to predict
     * @param location {@code file:line}, or {@code input}
     */
    public record Review(String text, Double score, String location) implements Example {}

    /**
     * The predicted score.
     *
     * @param score the model's output
     */
    public record Score(double score) implements Prediction {
        @Override
        public Map<String, Object> toMap() {
            return Map.of("score", score);
        }
    }

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public TaskOptions options() {
        return options;
    }

    @Override
    public HeadSpec head() {
        return new HeadSpec(HeadKind.SEQUENCE_CLASSIFICATION, 1);
    }

    /** @return the entries that make {@code transformers} load the folder as a one-output regression model */
    @Override
    public Map<String, Object> configEntries() {
        return Map.of("problem_type", "regression", "id2label", Map.of("0", OUTPUT), "label2id", Map.of(OUTPUT, 0));
    }

    /** @throws InvalidDataException naming the file and line of a row without text or a numeric score */
    @Override
    public Dataset read(Path file) {
        Table<Review> table = reader.read(file, List.of(text, score),
                row -> new Review(row.require(text), row.requireNumber(score), row.location()));
        return new Dataset(file.toString(), table.rows(), table.skipped());
    }

    @Override
    public Example parseInput(Map<String, String> input) {
        String t = input.get("text");
        if (t == null || t.isBlank()) {
            throw new InvalidDataException("give the review to score as {\"text\": ...}");
        }
        return new Review(t, null, "input");
    }

    /** @return the token fields and, for a scored review, the float field {@code labels} */
    @Override
    public List<Features> encode(Example example, int exampleIndex, TextTokenizer tokenizer, int maxLength) {
        Review r = (Review) example;
        Encoding enc = tokenizer.encode(r.text(), null, maxLength);
        Map<String, long[]> fields = new LinkedHashMap<>();
        fields.put("input_ids", enc.ids());
        fields.put("token_type_ids", enc.typeIds() != null ? enc.typeIds() : new long[enc.length()]);
        long[] mask = new long[enc.length()];
        Arrays.fill(mask, 1);
        fields.put("attention_mask", mask);
        Map<String, float[]> floats =
                r.score() == null ? Map.of() : Map.of("labels", new float[] {r.score().floatValue()});
        return List.of(new Features(exampleIndex, fields, floats, null));
    }

    @Override
    public Map<String, Long> padding(TextTokenizer tokenizer) {
        return Map.of("input_ids", tokenizer.padTokenId(), "token_type_ids", 0L, "attention_mask", 0L);
    }

    /** @return {@code labels}: one FLOAT32 score per review */
    @Override
    public List<InputSpec> labelInputs() {
        return List.of(new InputSpec("labels", DType.FLOAT32, 1, true));
    }

    /** @return the mean squared error of the one output against the score, as HuggingFace's regression head */
    @Override
    public Tensor loss(Ops ops, Map<String, Tensor> outputs, Map<String, Tensor> inputs) {
        return ops.meanSquaredError(ops.reshape(outputs.get("logits"), -1), ops.reshape(inputs.get("labels"), -1));
    }

    @Override
    public Evaluator evaluator(Dataset data) {
        return new RegressionEvaluator();
    }

    @Override
    public Prediction decode(Example example, List<Features> features, List<Map<String, float[]>> outputs) {
        return new Score(outputs.get(0).get("logits")[0]);
    }

    @Override
    public String primaryMetric() {
        return RegressionEvaluator.MSE;
    }

    @Override
    public boolean greaterIsBetter() {
        return false;
    }
}
