package dev.attune.tasks.choice;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.attune.error.InvalidDataException;
import dev.attune.model.HeadSpec.HeadKind;
import dev.attune.model.HeadSpec;
import dev.attune.model.ModelDefinition.InputSpec;
import dev.attune.model.TextTokenizer.Encoding;
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
import dev.attune.tasks.io.Row;
import dev.attune.tasks.io.Table;
import dev.attune.tasks.io.TableReader;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Pattern;

/**
 * Multiple choice (SWAG-style): task {@value #NAME}, on a {@code *ForMultipleChoice} head. Each
 * example is a context, its candidate endings and the index of the right one; the model scores
 * every (context, ending) pair and the highest score wins.
 *
 * <p>Data are CSV, TSV or JSON Lines files ({@link TableReader}) with a context column, a label
 * column (the 0-based index of the right ending) and the endings, either in one column (a JSON
 * array in JSON Lines, or a {@code |}-separated string) or, as in SWAG's files, in numbered
 * columns {@code ending0}, {@code ending1}, ... Every example of a file must have the same number of
 * endings (they are batched as {@code [batch, choices, tokens]}). Options (all optional):
 *
 * <ul>
 *   <li>{@code context_column} (default {@code context}), {@code endings_column} (default {@code
 *       endings}; absent from the header: the numbered columns are read), {@code label_column}
 *       (default {@code label});
 *   <li>{@code endings_separator}: what separates the endings in one text column, default {@code |};
 *   <li>{@code start_column}: a column whose text starts every ending (SWAG's {@code sent2}), put
 *       before it with a space, as HuggingFace's SWAG example does;
 *   <li>{@code format} ({@code csv}, {@code tsv}, {@code jsonl}; default from the extension) and
 *       {@code on_bad_row} ({@code fail} or {@code skip}).
 * </ul>
 *
 * <p>Each example becomes one feature whose {@code input_ids}, {@code token_type_ids} and {@code
 * attention_mask} hold one row per ending ({@link #sequenceRows}): the tokenizer's pair encoding of
 * (context, ending), padded to the example's longest. The loss is the cross-entropy of the {@code
 * [batch, choices]} logits against {@code labels}; the metric is {@code accuracy}. Predictions
 * ({@code {"context": ..., "endings": "a|b|c"}} or {@code "ending0"}, {@code "ending1"}, ...) are
 * {@link ChoicePrediction}s. The task has no label set. Immutable.
 */
public final class MultipleChoiceTask implements Task {
    /** The task's name. */
    public static final String NAME = "multiple-choice";

    static final String CONTEXT_COLUMN = "context_column";
    static final String ENDINGS_COLUMN = "endings_column";
    static final String ENDINGS_SEPARATOR = "endings_separator";
    static final String START_COLUMN = "start_column";
    static final String LABEL_COLUMN = "label_column";
    static final String FORMAT = "format";
    static final String INPUT_IDS = "input_ids";
    static final String TOKEN_TYPE_IDS = "token_type_ids";
    static final String ATTENTION_MASK = "attention_mask";
    static final String LABELS = "labels";
    static final String LOGITS = "logits";

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Pattern NUMBERED = Pattern.compile("ending(\\d+)");

    private final TaskOptions options;
    private final Column context;
    private final String endings;
    private final String separator;
    private final String start;
    private final Column label;
    private final DataFormat format;
    private final BadRowPolicy policy;

    /**
     * @param options the task options
     * @throws dev.attune.error.ConfigurationException on an unknown option or an invalid value
     */
    public MultipleChoiceTask(TaskOptions options) {
        this.options = Objects.requireNonNull(options, "options");
        options.requireOnly(Set.of(CONTEXT_COLUMN, ENDINGS_COLUMN, ENDINGS_SEPARATOR, START_COLUMN, LABEL_COLUMN,
                FORMAT, BadRowPolicy.OPTION), NAME);
        this.context = new Column(options.get(CONTEXT_COLUMN, "context"), CONTEXT_COLUMN);
        this.endings = options.get(ENDINGS_COLUMN, "endings");
        this.separator = options.get(ENDINGS_SEPARATOR, "|");
        if (separator.isEmpty()) {
            throw new dev.attune.error.ConfigurationException(ENDINGS_SEPARATOR + " of task '" + NAME
                    + "' is empty; give the text that separates endings, such as |");
        }
        this.start = options.values().get(START_COLUMN);
        this.label = new Column(options.get(LABEL_COLUMN, "label"), LABEL_COLUMN);
        String fmt = options.values().get(FORMAT);
        this.format = fmt == null ? null : DataFormat.parse(fmt);
        this.policy = BadRowPolicy.parse(options.values().get(BadRowPolicy.OPTION));
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
        return new HeadSpec(HeadKind.MULTIPLE_CHOICE, 0);
    }

    @Override
    public Dataset read(Path file) {
        List<Column> columns = new ArrayList<>(List.of(context, label));
        if (start != null) {
            columns.add(new Column(start, START_COLUMN));
        }
        Table<ChoiceExample> table = new TableReader(format, policy).read(file, columns, this::example);
        return new Dataset(file.toString(), table.rows(), table.skipped());
    }

    private ChoiceExample example(Row row) {
        String text = row.require(context);
        List<String> items = endings(row);
        if (start != null) {
            String prefix = row.require(new Column(start, START_COLUMN)).strip();
            items = items.stream().map(e -> prefix + " " + e).toList();
        }
        String value = row.require(label).strip();
        int index;
        try {
            index = Integer.parseInt(value);
        } catch (NumberFormatException e) {
            throw row.error("label '" + value + "' (column '" + label.name() + "') is not an ending index",
                    "Give the 0-based index of the right ending");
        }
        if (index < 0 || index >= items.size()) {
            throw row.error("label " + index + " (column '" + label.name() + "') is not an ending index 0.."
                    + (items.size() - 1), "Give the 0-based index of the right ending");
        }
        return new ChoiceExample(row.location(), text, items, index);
    }

    /** @return the row's endings: the endings column (JSON array or separated text), else ending0, ending1, ... */
    private List<String> endings(Row row) {
        List<String> out = new ArrayList<>();
        if (row.columns().contains(endings)) {
            String v = row.get(endings);
            if (v == null) {
                throw row.error("the value of '" + endings + "' is missing (null)", "Give the endings");
            }
            if (row.isStructured(endings)) {
                JsonNode node;
                try {
                    node = JSON.readTree(v);
                } catch (IOException e) {
                    throw row.error("the value of '" + endings + "' is not valid JSON", "Fix the value");
                }
                if (!node.isArray()) {
                    throw row.error("the value of '" + endings + "' is a JSON object, not a list",
                            "Give a JSON array of strings");
                }
                node.forEach(n -> out.add(n.asText()));
            } else {
                out.addAll(Arrays.asList(v.split(Pattern.quote(separator), -1)));
            }
        } else {
            Map<Integer, String> numbered = new TreeMap<>();
            for (String c : row.columns()) {
                var m = NUMBERED.matcher(c);
                if (m.matches()) {
                    numbered.put(Integer.parseInt(m.group(1)), row.get(c));
                }
            }
            int i = 0;
            for (Map.Entry<Integer, String> e : numbered.entrySet()) {
                if (e.getKey() != i++) {
                    throw row.error("the numbered ending columns skip ending" + (i - 1),
                            "Number them ending0, ending1, ... without gaps");
                }
                out.add(e.getValue() == null ? "" : e.getValue());
            }
            if (out.isEmpty()) {
                throw row.error("has neither an '" + endings + "' column (option " + ENDINGS_COLUMN
                        + ") nor numbered ending0, ending1, ... columns; its columns are " + row.columns(),
                        "Add the endings");
            }
        }
        List<String> stripped = out.stream().map(String::strip).toList();
        for (int i = 0; i < stripped.size(); i++) {
            if (stripped.get(i).isEmpty()) {
                throw row.error("ending " + i + " is empty", "Fill it in");
            }
        }
        if (stripped.size() < 2) {
            throw row.error("has " + stripped.size() + " ending", "Give at least two endings");
        }
        return stripped;
    }

    /**
     * Every example of a data set has as many endings as the first, since a batch is {@code [batch,
     * choices, tokens]}.
     *
     * @throws InvalidDataException naming the first example that differs
     */
    @Override
    public void validate(Dataset data) {
        List<? extends Example> all = data.examples();
        if (all.isEmpty()) {
            return;
        }
        int n = cast(all.get(0)).endings().size();
        for (Example e : all) {
            int k = cast(e).endings().size();
            if (k != n) {
                throw new InvalidDataException(e.location() + ": " + k + " endings, but " + all.get(0).location()
                        + " has " + n + "; every example of " + data.source() + " needs the same number of endings");
            }
        }
    }

    /**
     * Accepts {@code {"context": ..., "endings": "a|b|c"}} (separated as {@code endings_separator}
     * says) or {@code {"context": ..., "ending0": ..., "ending1": ...}}.
     *
     * @throws InvalidDataException when the context is missing or blank, there are fewer than two
     *     endings, or another field is given
     */
    @Override
    public Example parseInput(Map<String, String> input) {
        String text = input.get("context");
        if (text == null || text.isBlank()) {
            throw new InvalidDataException("input has " + (text == null ? "no" : "an empty") + " 'context' field;"
                    + " give {\"context\": ..., \"endings\": \"first|second|...\"}");
        }
        Set<String> extra = new TreeSet<>(input.keySet());
        extra.remove("context");
        List<String> items = new ArrayList<>();
        if (input.containsKey("endings")) {
            extra.remove("endings");
            items.addAll(Arrays.asList(input.get("endings").split(Pattern.quote(separator), -1)));
        } else {
            for (int i = 0; input.containsKey("ending" + i); i++) {
                extra.remove("ending" + i);
                items.add(input.get("ending" + i));
            }
        }
        if (!extra.isEmpty()) {
            throw new InvalidDataException("input has field(s) " + extra + " that task '" + NAME + "' does not read;"
                    + " give {\"context\": ..., \"endings\": \"first|second|...\"}");
        }
        List<String> stripped = items.stream().map(String::strip).filter(s -> !s.isEmpty()).toList();
        if (stripped.size() < 2 || stripped.size() != items.size()) {
            throw new InvalidDataException("input needs at least two non-empty endings, got " + items
                    + "; give \"endings\": \"first" + separator + "second\" or ending0, ending1, ...");
        }
        return new ChoiceExample("input", text, stripped, null);
    }

    /**
     * @return one feature: each sequence field holds one row per ending, the pair encoding of
     *     (context, ending) padded to the longest of the example; {@code labels} when the example
     *     has one
     */
    @Override
    public List<Features> encode(Example example, int exampleIndex, TextTokenizer tokenizer, int maxLength) {
        ChoiceExample e = cast(example);
        List<Encoding> rows = new ArrayList<>();
        int width = 0;
        for (String ending : e.endings()) {
            Encoding enc = tokenizer.encode(e.context(), ending, maxLength);
            rows.add(enc);
            width = Math.max(width, enc.length());
        }
        int n = rows.size();
        long[] ids = new long[n * width];
        long[] types = new long[n * width];
        long[] mask = new long[n * width];
        Arrays.fill(ids, tokenizer.padTokenId());
        for (int i = 0; i < n; i++) {
            Encoding enc = rows.get(i);
            System.arraycopy(enc.ids(), 0, ids, i * width, enc.length());
            System.arraycopy(enc.typeIds(), 0, types, i * width, enc.length());
            System.arraycopy(enc.attentionMask(), 0, mask, i * width, enc.length());
        }
        Map<String, long[]> fields = new LinkedHashMap<>();
        fields.put(INPUT_IDS, ids);
        fields.put(TOKEN_TYPE_IDS, types);
        fields.put(ATTENTION_MASK, mask);
        if (e.label() != null) {
            fields.put(LABELS, new long[] {e.label()});
        }
        return List.of(new Features(exampleIndex, fields, new Choices(n)));
    }

    /** The rows of a feature: its number of endings. */
    record Choices(int count) {}

    /** @return the feature's number of endings */
    @Override
    public int sequenceRows(Features features) {
        if (features.context() instanceof Choices c) {
            return c.count();
        }
        throw new IllegalArgumentException("task '" + NAME + "' needs features it encoded itself, got context "
                + features.context());
    }

    /** @return {@code input_ids} padded with the pad id, type ids and mask with 0 */
    @Override
    public Map<String, Long> padding(TextTokenizer tokenizer) {
        Map<String, Long> m = new LinkedHashMap<>();
        m.put(INPUT_IDS, tokenizer.padTokenId());
        m.put(TOKEN_TYPE_IDS, 0L);
        m.put(ATTENTION_MASK, 0L);
        return m;
    }

    /** @return {@code labels}: INT64 {@code [batch]}, absent at inference */
    @Override
    public List<InputSpec> labelInputs() {
        return List.of(new InputSpec(LABELS, DType.INT64, 1, true));
    }

    /** @return the cross-entropy of the {@code [B, choices]} logits against the right endings {@code [B]} */
    @Override
    public Tensor loss(Ops ops, Map<String, Tensor> outputs, Map<String, Tensor> inputs) {
        Tensor logits = outputs.get(LOGITS);
        Tensor labels = inputs.get(LABELS);
        if (logits == null || labels == null) {
            throw new IllegalArgumentException("multiple choice needs 'logits' among the outputs " + outputs.keySet()
                    + " and 'labels' among the inputs " + inputs.keySet());
        }
        return ops.crossEntropy(logits, labels, -100);
    }

    @Override
    public Evaluator evaluator(Dataset data) {
        return new Evaluator() {
            private long right;
            private long total;

            @Override
            public synchronized void accept(Features features, Map<String, float[]> outputs) {
                long[] gold = features.fields().get(LABELS);
                if (gold == null) {
                    throw new IllegalArgumentException("example " + features.exampleIndex()
                            + " has no label; evaluation data need the right ending of every example");
                }
                float[] logits = logits(outputs, sequenceRows(features));
                right += argmax(logits) == gold[0] ? 1 : 0;
                total++;
            }

            @Override
            public synchronized Map<String, Double> metrics() {
                return Map.of("accuracy", total == 0 ? Double.NaN : (double) right / total);
            }
        };
    }

    /** @return the ending with the highest logit and the softmax over the endings */
    @Override
    public Prediction decode(Example example, List<Features> features, List<Map<String, float[]>> outputs) {
        ChoiceExample e = cast(example);
        if (features.size() != 1 || outputs.size() != 1) {
            throw new IllegalArgumentException("multiple choice decodes one feature per example, got "
                    + features.size() + " features and " + outputs.size() + " outputs");
        }
        float[] logits = logits(outputs.get(0), e.endings().size());
        double max = Double.NEGATIVE_INFINITY;
        for (float v : logits) {
            max = Math.max(max, v);
        }
        double sum = 0;
        double[] p = new double[logits.length];
        for (int i = 0; i < logits.length; i++) {
            p[i] = Math.exp(logits[i] - max);
            sum += p[i];
        }
        List<Double> probabilities = new ArrayList<>();
        for (double v : p) {
            probabilities.add(v / sum);
        }
        int best = argmax(logits);
        return new ChoicePrediction(best, e.endings().get(best), probabilities);
    }

    private static float[] logits(Map<String, float[]> outputs, int choices) {
        float[] v = outputs.get(LOGITS);
        if (v == null || v.length != choices) {
            throw new IllegalArgumentException("the model's outputs " + outputs.keySet() + " need 'logits' with one"
                    + " value per ending (" + choices + "), got " + (v == null ? "none" : v.length));
        }
        return v;
    }

    private static int argmax(float[] v) {
        int best = 0;
        for (int i = 1; i < v.length; i++) {
            if (v[i] > v[best]) {
                best = i;
            }
        }
        return best;
    }

    static ChoiceExample cast(Example e) {
        if (e instanceof ChoiceExample c) {
            return c;
        }
        throw new IllegalArgumentException("task '" + NAME + "' needs examples it read or parsed itself, got "
                + (e == null ? "null" : e.getClass().getName()));
    }

    @Override
    public String toString() {
        return NAME + options.values();
    }
}
