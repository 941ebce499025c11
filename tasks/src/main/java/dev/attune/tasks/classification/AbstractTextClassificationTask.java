package dev.attune.tasks.classification;

import dev.attune.error.ConfigurationException;
import dev.attune.error.InvalidDataException;
import dev.attune.tasks.metrics.Logits;
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
import dev.attune.tasks.io.BadRowPolicy;
import dev.attune.tasks.io.Column;
import dev.attune.tasks.io.DataFormat;
import dev.attune.tasks.io.Table;
import dev.attune.tasks.io.TableReader;
import dev.attune.tasks.metrics.ClassificationEvaluator;
import dev.attune.tasks.metrics.ClassificationMetrics;
import dev.attune.tasks.metrics.MultiLabelEvaluator;
import dev.attune.tasks.metrics.RegressionEvaluator;
import java.math.BigDecimal;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Sequence classification of one text or a text pair: the common implementation of {@link
 * TextClassificationTask} and {@link TextPairClassificationTask}. Immutable.
 */
abstract class AbstractTextClassificationTask implements Task {
    static final String TEXT_COLUMN = "text_column";
    static final String TEXT_PAIR_COLUMN = "text_pair_column";
    static final String LABEL_COLUMN = "label_column";
    static final String FORMAT = "format";
    static final String POSITIVE_LABEL = "positive_label";
    static final String LABELS = "labels";
    static final String CLASS_WEIGHTS = "class_weights";
    static final String BALANCED = "balanced";
    static final String PROBLEM_TYPE = ProblemType.OPTION;
    static final String LABEL_SEPARATOR = "label_separator";
    /** HuggingFace's name for the one output of a regression head when id2label names none. */
    static final String REGRESSION_LABEL = "LABEL_0";
    /** Probability above which a multi-label task predicts a label. */
    static final double THRESHOLD = 0.5;

    /** Label value the loss ignores, as in HuggingFace. */
    static final long IGNORE_INDEX = -100;

    private static final Logger LOG = LoggerFactory.getLogger(AbstractTextClassificationTask.class);
    private static final String INPUT_IDS = "input_ids";
    private static final String TOKEN_TYPE_IDS = "token_type_ids";
    private static final String ATTENTION_MASK = "attention_mask";

    private final String name;
    private final TaskOptions options;
    private final ProblemType problemType;
    /** Between the labels of a multi-label cell; null for the other problem types. */
    private final String separator;
    private final Column text;
    private final Column textPair;
    private final Column label;
    private final DataFormat format;
    private final BadRowPolicy policy;
    private final String positiveLabel;
    private final List<String> labels;
    private final Map<String, Integer> labelIds;
    /** Cross-entropy weight per label id; null when unweighted or when balanced weights await the data. */
    private final float[] classWeights;
    private final boolean balancedPending;

    /**
     * @param name task name
     * @param options its options
     * @param pair whether it reads a second text
     * @param labels labels to fix, or null for those of the {@code labels} option (if any)
     */
    AbstractTextClassificationTask(String name, TaskOptions options, boolean pair, List<String> labels) {
        this.name = name;
        this.options = Objects.requireNonNull(options, "options");
        Set<String> known = new LinkedHashSet<>(List.of(TEXT_COLUMN, LABEL_COLUMN, FORMAT, BadRowPolicy.OPTION,
                POSITIVE_LABEL, LABELS, CLASS_WEIGHTS, PROBLEM_TYPE, LABEL_SEPARATOR));
        if (pair) {
            known.add(TEXT_PAIR_COLUMN);
        }
        options.requireOnly(known, name);
        this.problemType = ProblemType.parse(options.values().get(PROBLEM_TYPE));
        if (problemType != ProblemType.SINGLE_LABEL_CLASSIFICATION) {
            for (String only : List.of(POSITIVE_LABEL, CLASS_WEIGHTS)) {
                if (options.values().containsKey(only)) {
                    throw new ConfigurationException("option " + only + " applies to " + PROBLEM_TYPE + "="
                            + ProblemType.SINGLE_LABEL_CLASSIFICATION + ", not to " + problemType + "; remove it");
                }
            }
        }
        if (problemType == ProblemType.MULTI_LABEL_CLASSIFICATION) {
            this.separator = options.get(LABEL_SEPARATOR, "|");
            if (separator.isEmpty()) {
                throw new ConfigurationException("option " + LABEL_SEPARATOR + " is empty; give the text between the"
                        + " labels of a cell, such as | for sports|politics");
            }
        } else if (options.values().containsKey(LABEL_SEPARATOR)) {
            throw new ConfigurationException("option " + LABEL_SEPARATOR + " applies to " + PROBLEM_TYPE + "="
                    + ProblemType.MULTI_LABEL_CLASSIFICATION + ", not to " + problemType + "; remove it or set "
                    + PROBLEM_TYPE + "=" + ProblemType.MULTI_LABEL_CLASSIFICATION);
        } else {
            this.separator = null;
        }

        this.text = new Column(option(TEXT_COLUMN, "text"), TEXT_COLUMN);
        this.textPair = pair ? new Column(option(TEXT_PAIR_COLUMN, "text_pair"), TEXT_PAIR_COLUMN) : null;
        this.label = new Column(option(LABEL_COLUMN, "label"), LABEL_COLUMN);
        Set<String> columns = new HashSet<>();
        for (Column c : columns()) {
            if (!columns.add(c.name())) {
                throw new ConfigurationException("task '" + name + "' reads column '" + c.name()
                        + "' for two purposes; give " + c.option() + " its own column");
            }
        }
        String fmt = options.values().get(FORMAT);
        this.format = fmt == null ? null : DataFormat.parse(fmt);
        this.policy = BadRowPolicy.parse(options.values().get(BadRowPolicy.OPTION));
        String positive = options.values().get(POSITIVE_LABEL);
        if (positive != null && positive.isBlank()) {
            throw new ConfigurationException("option " + POSITIVE_LABEL + " is empty; name one of the labels");
        }
        this.positiveLabel = positive == null ? null : positive.strip();

        String labelsOption = options.values().get(LABELS);
        if (labels != null) {
            this.labels = checkLabels(labels, "the label list " + labels);
        } else if (labelsOption != null) {
            this.labels = checkLabels(Labels.split(labelsOption), "the option labels=" + labelsOption);
        } else if (problemType == ProblemType.REGRESSION) {
            this.labels = List.of(REGRESSION_LABEL);
        } else {
            this.labels = List.of();
        }
        Map<String, Integer> ids = new HashMap<>();
        for (int i = 0; i < this.labels.size(); i++) {
            ids.put(this.labels.get(i), i);
        }
        this.labelIds = Map.copyOf(ids);
        if (positiveLabel != null && !this.labels.isEmpty()) {
            if (this.labels.size() != 2) {
                throw new ConfigurationException("option " + POSITIVE_LABEL + " applies to tasks with two labels, but"
                        + " this one has " + this.labels.size() + " " + this.labels + " (macro-averaged metrics are"
                        + " reported); remove the option");
            }
            if (!labelIds.containsKey(positiveLabel)) {
                throw new ConfigurationException(POSITIVE_LABEL + "=" + positiveLabel + " is not one of the labels "
                        + this.labels + "; name one of them");
            }
        }
        String weights = options.values().get(CLASS_WEIGHTS);
        this.balancedPending = weights != null && weights.strip().equalsIgnoreCase(BALANCED);
        Map<String, Float> explicit = weights == null || balancedPending ? null : parseWeights(weights);
        if (explicit != null && !this.labels.isEmpty()) {
            float[] w = new float[this.labels.size()];
            Arrays.fill(w, 1f);
            for (Map.Entry<String, Float> e : explicit.entrySet()) {
                Integer id = labelIds.get(e.getKey());
                if (id == null) {
                    throw new ConfigurationException(CLASS_WEIGHTS + " names '" + e.getKey() + "', which is not one of"
                            + " the labels " + this.labels + "; weight the labels the model has");
                }
                w[id] = e.getValue();
            }
            this.classWeights = w;
        } else {
            this.classWeights = null;
        }
    }

    /** Checks a label list against what the problem type needs. */
    private List<String> checkLabels(List<String> list, String what) {
        switch (problemType) {
            case REGRESSION -> {
                if (list.size() != 1) {
                    throw new ConfigurationException(what + " has " + list.size() + " labels, but " + PROBLEM_TYPE
                            + "=" + problemType + " has one output; name it with one label (HuggingFace's default is "
                            + REGRESSION_LABEL + ") or use " + PROBLEM_TYPE + "=" + ProblemType.SINGLE_LABEL_CLASSIFICATION);
                }
                return Labels.check(list, what, 1);
            }
            case MULTI_LABEL_CLASSIFICATION -> {
                List<String> checked = Labels.check(list, what, 1);
                for (String l : checked) {
                    if (l.contains(separator)) {
                        throw new ConfigurationException(what + " has the label '" + l + "', which contains the "
                                + LABEL_SEPARATOR + " '" + separator + "'; choose another separator");
                    }
                }
                return checked;
            }
            default -> {
                return Labels.check(list, what, 2);
            }
        }
    }

    /** Parses {@code label=weight,label=weight}: every weight a finite number above zero. */
    private static Map<String, Float> parseWeights(String spec) {
        Map<String, Float> out = new LinkedHashMap<>();
        for (String part : spec.split(",")) {
            int eq = part.lastIndexOf('=');
            String label = eq < 0 ? "" : part.substring(0, eq).strip();
            String value = eq < 0 ? "" : part.substring(eq + 1).strip();
            float w;
            try {
                w = Float.parseFloat(value);
            } catch (NumberFormatException e) {
                w = Float.NaN;
            }
            if (label.isEmpty() || !Float.isFinite(w) || w <= 0) {
                throw new ConfigurationException("option " + CLASS_WEIGHTS + "=" + spec + ": '" + part.strip()
                        + "' is not label=weight with a weight above 0; give " + BALANCED
                        + " or pairs such as spam=4,ham=1");
            }
            if (out.put(label, w) != null) {
                throw new ConfigurationException("option " + CLASS_WEIGHTS + "=" + spec + " weights '" + label
                        + "' twice; name each label once");
            }
        }
        return out;
    }

    private String option(String key, String fallback) {
        String v = options.get(key, fallback);
        if (v.isBlank()) {
            throw new ConfigurationException("option " + key + " of task '" + name + "' is empty; name a column");
        }
        return v.strip();
    }

    /**
     * @param options the copy's options
     * @param labels labels to fix
     * @return a copy of this task with them
     */
    abstract AbstractTextClassificationTask copy(TaskOptions options, List<String> labels);

    /** @return the cross-entropy weight per label id, or null when the loss is unweighted */
    float[] classWeights() {
        return classWeights == null ? null : classWeights.clone();
    }

    private List<Column> columns() {
        List<Column> cols = new ArrayList<>();
        cols.add(text);
        if (textPair != null) {
            cols.add(textPair);
        }
        cols.add(label);
        return cols;
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public TaskOptions options() {
        return options;
    }

    /** @return the label names by id; for regression the one output's name ({@code LABEL_0} by default) */
    @Override
    public List<String> labels() {
        return labels;
    }

    /** @return what the task predicts: one label, several labels, or a number */
    public ProblemType problemType() {
        return problemType;
    }

    /** @return {@code problem_type}, so that {@code transformers} uses the same loss on the saved folder */
    @Override
    public Map<String, Object> configEntries() {
        return Map.of(PROBLEM_TYPE, problemType.configName());
    }

    /**
     * @throws ConfigurationException when the list has a blank or repeated label, does not contain
     *     the {@code positive_label}, or has the wrong size: fewer than two labels for single-label
     *     classification, none for multi-label, other than one for regression
     */
    @Override
    public Task withLabels(List<String> labels) {
        return copy(options, Objects.requireNonNull(labels, "labels"));
    }

    /**
     * Resolves {@code class_weights=balanced}: label {@code c} gets {@code n / (labels * n_c)} over
     * the labelled training examples, and the copy's options carry the numbers ({@code
     * class_weights=ham=0.577,spam=3.75}) so the saved model records them. Without that option the
     * task is returned as it is.
     *
     * @throws InvalidDataException when a label never occurs in the training data
     */
    @Override
    public Task fitToTrainingData(Dataset train) {
        if (!balancedPending) {
            return this;
        }
        requireLabels();
        long[] counts = new long[labels.size()];
        long total = 0;
        for (TextExample e : examples(train)) {
            Integer id = e.label() == null ? null : labelIds.get(e.label());
            if (id != null) {
                counts[id]++;
                total++;
            }
        }
        StringBuilder resolved = new StringBuilder();
        for (int c = 0; c < counts.length; c++) {
            if (counts[c] == 0) {
                throw new InvalidDataException(train.source() + ": label '" + labels.get(c) + "' never occurs, so "
                        + CLASS_WEIGHTS + "=" + BALANCED + " cannot weight it; give explicit weights ("
                        + CLASS_WEIGHTS + "=label=weight,...) or train on data that has every label");
            }
            float w = (float) ((double) total / ((double) labels.size() * counts[c]));
            resolved.append(c == 0 ? "" : ",").append(labels.get(c)).append('=').append(w);
        }
        Map<String, String> next = new LinkedHashMap<>(options.values());
        next.put(CLASS_WEIGHTS, resolved.toString());
        AbstractTextClassificationTask fitted = copy(new TaskOptions(next), labels);
        LOG.info("class weights from {} ({} labelled examples): {}", train.source(), total, resolved);
        return fitted;
    }

    /**
     * When labels are fixed (by the {@code labels} option or {@link #withLabels}, and always for
     * regression) they are returned as they are, after checking the data against them. Otherwise
     * the labels are the distinct label values of the data (for multi-label, every label of every
     * cell), sorted by numeric value when all are integers ({@code 0, 1, 10}), else by text.
     *
     * @throws InvalidDataException when the data has fewer than two distinct labels (none for
     *     multi-label), or a label outside the fixed ones
     */
    @Override
    public List<String> inferLabels(Dataset train) {
        if (!labels.isEmpty()) {
            validate(train);
            return labels;
        }
        Set<String> distinct = new LinkedHashSet<>();
        for (TextExample e : examples(train)) {
            distinct.addAll(goldLabels(e));
        }
        if (problemType == ProblemType.MULTI_LABEL_CLASSIFICATION && distinct.isEmpty()) {
            throw new InvalidDataException("the training data " + train.source() + " has no label in column '"
                    + label.name() + "' (labels separated by '" + separator + "'); check " + LABEL_COLUMN
                    + " names the labels column and " + LABEL_SEPARATOR + " the separator");
        }
        if (problemType == ProblemType.SINGLE_LABEL_CLASSIFICATION && distinct.size() < 2) {
            throw new InvalidDataException("the training data " + train.source() + " has " + distinct.size()
                    + " distinct label(s) " + distinct + " in column '" + label.name() + "'; a classifier needs at"
                    + " least two. Check " + LABEL_COLUMN + " names the label column");
        }
        return Labels.sorted(distinct);
    }

    /**
     * Checks every labelled example against the fixed labels (for regression: that every label is
     * a number); does nothing while labels are not fixed.
     *
     * @throws InvalidDataException naming the first row with an unknown label, the label, the known
     *     labels and how many rows are affected (for regression: the first row whose label is not a
     *     number)
     */
    @Override
    public void validate(Dataset data) {
        if (problemType == ProblemType.REGRESSION) {
            for (TextExample e : examples(data)) {
                if (e.label() != null) {
                    target(e);
                }
            }
            return;
        }
        if (labels.isEmpty()) {
            return;
        }
        TextExample first = null;
        String firstLabel = null;
        Map<String, Integer> unknown = new LinkedHashMap<>();
        for (TextExample e : examples(data)) {
            for (String l : goldLabels(e)) {
                if (!labelIds.containsKey(l)) {
                    if (first == null) {
                        first = e;
                        firstLabel = l;
                    }
                    unknown.merge(l, 1, Integer::sum);
                }
            }
        }
        if (first != null) {
            int rows = unknown.values().stream().mapToInt(Integer::intValue).sum();
            throw new InvalidDataException(first.location() + ": " + unknownLabel(firstLabel) + " (" + rows
                    + " row(s) of " + data.source() + " have labels outside that list, by label: " + unknown + "). "
                    + fixUnknownLabel());
        }
        List<String> absent = absentLabels(data);
        if (!absent.isEmpty()) {
            LOG.warn("{} has no row labelled {} (the task's labels are {}): as training data the model never sees"
                    + " those classes; as evaluation data their precision and recall are undefined and count as 0 in"
                    + " macro averages", data.source(), absent, labels);
        }
    }

    /**
     * The other direction of {@link #validate}: labels of the task that no labelled example of the
     * data carries. {@code validate} logs them as a warning rather than failing, since a small
     * evaluation set may well lack a rare class.
     *
     * @param data a data set read by this task
     * @return the task's labels absent from the data, in label order; empty when labels are not
     *     fixed, the data has no labelled example, or the task is a regression
     */
    public List<String> absentLabels(Dataset data) {
        Set<String> present = new HashSet<>();
        for (TextExample e : examples(data)) {
            present.addAll(goldLabels(e));
        }
        if (labels.isEmpty() || present.isEmpty()) {
            return List.of();
        }
        return labels.stream().filter(l -> !present.contains(l)).toList();
    }

    /**
     * @return the example's labels as classes: none when unlabelled or for regression, its one label
     *     for single-label classification, the labels of its cell for multi-label
     */
    private List<String> goldLabels(TextExample e) {
        if (e.label() == null || problemType == ProblemType.REGRESSION) {
            return List.of();
        }
        if (problemType == ProblemType.SINGLE_LABEL_CLASSIFICATION) {
            return List.of(e.label());
        }
        Set<String> out = new LinkedHashSet<>();
        for (String part : e.label().split(Pattern.quote(separator), -1)) {
            if (!part.isBlank()) {
                out.add(part.strip());
            }
        }
        return List.copyOf(out);
    }

    /** @return a regression example's label as a number */
    private static float target(TextExample e) {
        double d;
        try {
            d = new BigDecimal(e.label().strip()).doubleValue();
        } catch (NumberFormatException ex) {
            d = Double.NaN;
        }
        if (!Double.isFinite(d) || Math.abs(d) > Float.MAX_VALUE) {
            throw new InvalidDataException(e.location() + ": the label '" + e.label() + "' is not a number, and "
                    + PROBLEM_TYPE + "=" + ProblemType.REGRESSION + " predicts one; give a decimal number such as"
                    + " 3 or 0.25");
        }
        return (float) d;
    }

    private String unknownLabel(String value) {
        return "label '" + value + "' is not one of the task's labels " + labels;
    }

    private static String fixUnknownLabel() {
        return "Correct those rows, or train with every label listed in the option " + LABELS + "=a,b,c";
    }

    @Override
    public HeadSpec head() {
        requireLabels();
        return new HeadSpec(HeadKind.SEQUENCE_CLASSIFICATION, labels.size());
    }

    @Override
    public Dataset read(Path file) {
        TableReader reader = new TableReader(format, policy);
        Table<TextExample> table = reader.read(file, columns(), row -> {
            String t = row.require(text);
            String p = textPair == null ? null : row.require(textPair);
            String l;
            switch (problemType) {
                case REGRESSION -> {
                    row.requireNumber(label);
                    l = row.require(label).strip();
                }
                case MULTI_LABEL_CLASSIFICATION -> {
                    List<String> cell = row.requireList(label, separator);
                    for (String one : cell) {
                        if (!labels.isEmpty() && !labelIds.containsKey(one)) {
                            throw row.error(unknownLabel(one), fixUnknownLabel());
                        }
                        if (one.contains(separator)) {
                            throw row.error("the label '" + one + "' contains the " + LABEL_SEPARATOR + " '"
                                    + separator + "'", "Choose another separator");
                        }
                    }
                    l = String.join(separator, cell);
                }
                default -> {
                    l = row.require(label).strip();
                    if (!labels.isEmpty() && !labelIds.containsKey(l)) {
                        throw row.error(unknownLabel(l), fixUnknownLabel());
                    }
                }
            }
            return new TextExample(t, p, l, row.location());
        });
        return new Dataset(file.toString(), table.rows(), table.skipped());
    }

    /**
     * Accepts {@code text} (or the {@code text_column} name), {@code text_pair} (or the {@code
     * text_pair_column} name) for pair tasks, and an optional {@code label} (or the {@code
     * label_column} name).
     *
     * @throws InvalidDataException when a text is missing or blank, or another field is given
     */
    @Override
    public Example parseInput(Map<String, String> input) {
        Set<String> used = new LinkedHashSet<>();
        String t = field(input, "text", text, used, true);
        String p = textPair == null ? null : field(input, "text_pair", textPair, used, true);
        String l = field(input, "label", label, used, false);
        Set<String> extra = new LinkedHashSet<>(input.keySet());
        extra.removeAll(used);
        if (!extra.isEmpty()) {
            throw new InvalidDataException("input has field(s) " + extra + " that task '" + name + "' does not read;"
                    + " give " + (textPair == null ? "{\"text\": ...}" : "{\"text\": ..., \"text_pair\": ...}")
                    + (textPair == null && extra.contains("text_pair")
                            ? " (for pairs of texts use the text-pair-classification task)" : ""));
        }
        return new TextExample(t, p, l == null ? null : l.strip(), "input");
    }

    private static String field(Map<String, String> input, String key, Column column, Set<String> used, boolean required) {
        String k = input.containsKey(key) ? key : column.name();
        String v = input.get(k);
        if (input.containsKey(k)) {
            used.add(k);
        }
        if (v == null || v.isBlank()) {
            if (!required && v == null) {
                return null;
            }
            throw new InvalidDataException("input has " + (v == null ? "no" : "an empty") + " '" + key + "' field;"
                    + " give it as {\"" + key + "\": ...}");
        }
        return v;
    }

    /**
     * @throws InvalidDataException naming the example's location when its label is not among the
     *     fixed labels
     */
    @Override
    public List<Features> encode(Example example, int exampleIndex, TextTokenizer tokenizer, int maxLength) {
        TextExample e = cast(example);
        if (textPair != null && e.textPair() == null) {
            throw new InvalidDataException(e.location() + ": the example has no second text; task '" + name
                    + "' classifies pairs of texts");
        }
        Map<String, long[]> fields = new LinkedHashMap<>();
        Encoding enc = tokenizer.encode(e.text(), textPair == null ? null : e.textPair(), maxLength);
        long[] ids = enc.ids();
        fields.put(INPUT_IDS, ids);
        fields.put(TOKEN_TYPE_IDS, enc.typeIds() != null ? enc.typeIds() : new long[ids.length]);
        long[] mask = enc.attentionMask();
        if (mask == null) {
            mask = new long[ids.length];
            Arrays.fill(mask, 1);
        }
        fields.put(ATTENTION_MASK, mask);
        Map<String, float[]> floats = new LinkedHashMap<>();
        if (e.label() != null) {
            requireLabels();
            switch (problemType) {
                case REGRESSION -> floats.put(ClassificationEvaluator.LABELS, new float[] {target(e)});
                case MULTI_LABEL_CLASSIFICATION -> {
                    float[] hot = new float[labels.size()];
                    for (String l : goldLabels(e)) {
                        Integer id = labelIds.get(l);
                        if (id == null) {
                            throw new InvalidDataException(e.location() + ": " + unknownLabel(l) + ". "
                                    + fixUnknownLabel());
                        }
                        hot[id] = 1f;
                    }
                    floats.put(ClassificationEvaluator.LABELS, hot);
                }
                default -> {
                    Integer id = labelIds.get(e.label());
                    if (id == null) {
                        throw new InvalidDataException(e.location() + ": " + unknownLabel(e.label()) + ". "
                                + fixUnknownLabel());
                    }
                    fields.put(ClassificationEvaluator.LABELS, new long[] {id});
                }
            }
        }
        return List.of(new Features(exampleIndex, fields, floats, null));
    }

    /** @return {@code input_ids} padded with the tokenizer's pad id, the type ids and mask with 0 */
    @Override
    public Map<String, Long> padding(TextTokenizer tokenizer) {
        Map<String, Long> m = new LinkedHashMap<>();
        m.put(INPUT_IDS, tokenizer.padTokenId());
        m.put(TOKEN_TYPE_IDS, 0L);
        m.put(ATTENTION_MASK, 0L);
        return m;
    }

    /**
     * @return {@code labels}, absent at inference: one INT64 label id per sequence; for regression
     *     one FLOAT32 target per sequence ({@code [batch]}); for multi-label a FLOAT32 multi-hot
     *     vector per sequence ({@code [batch, labels]})
     */
    @Override
    public List<InputSpec> labelInputs() {
        return List.of(switch (problemType) {
            case REGRESSION -> new InputSpec(ClassificationEvaluator.LABELS, DType.FLOAT32, 1, true);
            case MULTI_LABEL_CLASSIFICATION -> new InputSpec(ClassificationEvaluator.LABELS, DType.FLOAT32, 2, true);
            default -> new InputSpec(ClassificationEvaluator.LABELS, DType.INT64, 1, true);
        });
    }

    /**
     * @return as HuggingFace's {@code *ForSequenceClassification} for the {@code problem_type}: mean
     *     cross-entropy of {@code logits} against {@code labels}, ignoring label -100, weighted per
     *     label when {@code class_weights} is set; for regression the mean squared error of the one
     *     logit against the target; for multi-label the mean binary cross-entropy of every logit
     *     against its 0/1 target
     */
    @Override
    public Tensor loss(Ops ops, Map<String, Tensor> outputs, Map<String, Tensor> inputs) {
        Tensor logits = outputs.get(ClassificationEvaluator.LOGITS);
        if (logits == null) {
            throw new IllegalArgumentException("the head's outputs have no 'logits'; they are " + outputs.keySet());
        }
        Tensor gold = inputs.get(ClassificationEvaluator.LABELS);
        if (gold == null) {
            throw new IllegalArgumentException("the inputs have no 'labels'; the loss needs labelled data");
        }
        if (problemType == ProblemType.REGRESSION) {
            return ops.meanSquaredError(ops.reshape(logits, -1), ops.reshape(gold, -1));
        }
        if (problemType == ProblemType.MULTI_LABEL_CLASSIFICATION) {
            return ops.binaryCrossEntropyWithLogits(logits, gold);
        }
        if (balancedPending) {
            throw new ConfigurationException("option " + CLASS_WEIGHTS + "=" + BALANCED + " takes its weights from"
                    + " the training data, which task '" + name + "' has not seen: train through Attune.fineTune, or"
                    + " call fitToTrainingData(train) before preparing the model");
        }
        return ops.crossEntropy(logits, gold, IGNORE_INDEX, classWeights);
    }

    /**
     * @return an evaluator reporting {@code accuracy}, {@code f1} and the rest of {@link
     *     ClassificationMetrics}; binary metrics are for the positive label ({@code positive_label},
     *     else the label with id 1) when there are two labels. For regression a {@link
     *     RegressionEvaluator} ({@code mse}, {@code rmse}, {@code mae}, {@code pearson}, {@code
     *     spearman}); for multi-label a {@link MultiLabelEvaluator} ({@code micro_f1}, {@code
     *     macro_f1}, micro precision and recall, {@code exact_match}) at probability 0.5
     */
    @Override
    public Evaluator evaluator(Dataset data) {
        requireLabels();
        return switch (problemType) {
            case REGRESSION -> new RegressionEvaluator();
            case MULTI_LABEL_CLASSIFICATION -> new MultiLabelEvaluator(labels.size());
            default -> new ClassificationEvaluator(labels.size(), positiveId());
        };
    }

    /** @return the id of the positive label for binary metrics, or -1 with more than two labels */
    int positiveId() {
        if (labels.size() != 2) {
            return -1;
        }
        return positiveLabel == null ? 1 : labelIds.get(positiveLabel);
    }

    /**
     * @return for single-label classification the most probable label and the softmax of the logits
     *     of the (single) feature ({@link ClassificationPrediction}); for regression the one output
     *     ({@link RegressionPrediction}); for multi-label the labels whose sigmoid is above 0.5 and
     *     every label's probability ({@link MultiLabelPrediction})
     */
    @Override
    public Prediction decode(Example example, List<Features> features, List<Map<String, float[]>> outputs) {
        requireLabels();
        if (outputs.size() != 1) {
            throw new IllegalArgumentException("classification decodes one output per example, got " + outputs.size());
        }
        float[] logits = outputs.get(0).get(ClassificationEvaluator.LOGITS);
        if (logits == null) {
            throw new IllegalArgumentException("the model's outputs have no 'logits'; they are " + outputs.get(0).keySet());
        }
        if (logits.length != labels.size()) {
            throw new IllegalArgumentException("'logits' has " + logits.length + " values but the task has "
                    + labels.size() + " labels " + labels);
        }
        if (problemType == ProblemType.REGRESSION) {
            return new RegressionPrediction(labels.get(0), logits[0]);
        }
        if (problemType == ProblemType.MULTI_LABEL_CLASSIFICATION) {
            List<String> chosen = new ArrayList<>();
            Map<String, Double> probabilities = new LinkedHashMap<>();
            for (int i = 0; i < logits.length; i++) {
                double p = 1 / (1 + Math.exp(-(double) logits[i]));
                probabilities.put(labels.get(i), p);
                if (p > THRESHOLD) {
                    chosen.add(labels.get(i));
                }
            }
            return new MultiLabelPrediction(chosen, probabilities, THRESHOLD);
        }
        double[] p = Logits.softmax(logits);
        int best = Logits.argmax(logits);
        Map<String, Double> probabilities = new LinkedHashMap<>();
        for (int i = 0; i < p.length; i++) {
            probabilities.put(labels.get(i), p[i]);
        }
        return new ClassificationPrediction(labels.get(best), best, probabilities);
    }


    /**
     * @return {@code f1} for two labels, {@code accuracy} otherwise (and while labels are not
     *     fixed); {@code mse} for regression; {@code micro_f1} for multi-label
     */
    @Override
    public String primaryMetric() {
        return switch (problemType) {
            case REGRESSION -> RegressionEvaluator.MSE;
            case MULTI_LABEL_CLASSIFICATION -> MultiLabelEvaluator.MICRO_F1;
            default -> labels.size() == 2 ? ClassificationMetrics.F1 : ClassificationMetrics.ACCURACY;
        };
    }

    /** @return false for regression (a smaller {@code mse} is better), true otherwise */
    @Override
    public boolean greaterIsBetter() {
        return problemType != ProblemType.REGRESSION;
    }

    private void requireLabels() {
        if (labels.isEmpty()) {
            throw new IllegalStateException("task '" + name + "' has no labels yet; fix them with withLabels"
                    + " (for example withLabels(inferLabels(train))) or the option " + LABELS + "=...");
        }
    }

    private List<TextExample> examples(Dataset data) {
        List<TextExample> out = new ArrayList<>(data.size());
        for (Example e : data.examples()) {
            out.add(cast(e));
        }
        return out;
    }

    private TextExample cast(Example e) {
        if (e instanceof TextExample t) {
            return t;
        }
        throw new IllegalArgumentException("task '" + name + "' needs examples it read or parsed itself, got "
                + (e == null ? "null" : e.getClass().getName()));
    }

    @Override
    public String toString() {
        return name + options.values() + (labels.isEmpty() ? "" : " labels=" + labels);
    }
}
