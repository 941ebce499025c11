package dev.attune.samples.tagging;

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
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Pattern;

/**
 * A task plugin written outside Attune's {@code tasks} module, against the task SPI of {@code
 * sdk-api} alone: multi-label topic tagging. A text gets any number of tags ({@code
 * sports|politics}); the model is a sequence classifier with one logit per tag, trained with
 * sigmoid outputs and binary cross-entropy, and a tag is predicted when its probability exceeds 0.5.
 *
 * <p>Data: a TSV file with a header; options {@code text_column} (default {@code text}), {@code
 * label_column} (default {@code labels}), {@code separator} between tags (default {@code |}) and
 * {@code labels} (the tag list, comma-separated; default: every tag of the training data, sorted).
 * An empty label cell means no tag. Metrics: {@code micro_f1} (primary), {@code macro_f1}, {@code
 * micro_precision}, {@code micro_recall} and {@code exact_match} (every tag right).
 *
 * <p>It is registered only through this module's {@code
 * META-INF/services/dev.attune.task.TaskProvider} (its provider is {@link TopicTaggingTaskProvider},
 * one constructor call), so {@code attune fine-tune --task topic-tagging} finds it as it finds the
 * built-in tasks. The built-in {@code text-classification} task does the same with {@code
 * problem_type=multi_label_classification}; this sample shows what a task plugin writes.
 *
 * <p>Immutable: {@link #encode} and {@link #decode}, which the runtime calls from several threads,
 * only read its fields.
 */
public final class TopicTaggingTask implements Task {
    /** The task's name. */
    public static final String NAME = "topic-tagging";

    private static final Set<String> OPTIONS = Set.of("text_column", "label_column", "separator", "labels");

    private final TaskOptions options;
    private final String textColumn;
    private final String labelColumn;
    private final String separator;
    private final List<String> tags;

    /**
     * @param options task options
     * @param tags the tag list, or null for the {@code labels} option (or none yet)
     */
    TopicTaggingTask(TaskOptions options, List<String> tags) {
        options.requireOnly(OPTIONS, NAME);
        this.options = options;
        this.textColumn = options.get("text_column", "text").strip();
        this.labelColumn = options.get("label_column", "labels").strip();
        this.separator = options.get("separator", "|");
        if (separator.isEmpty()) {
            throw new ConfigurationException("option separator is empty; give the character between tags, e.g. |");
        }
        List<String> fixed = tags;
        String listed = options.values().get("labels");
        if (fixed == null && listed != null) {
            fixed = Arrays.stream(listed.split(",")).map(String::strip).toList();
        }
        if (fixed != null && (fixed.size() < 2 || new TreeSet<>(fixed).size() != fixed.size())) {
            throw new ConfigurationException("topic tagging needs at least two distinct tags, got " + fixed);
        }
        this.tags = fixed == null ? List.of() : List.copyOf(fixed);
    }

    /** One text and its tags (null when unlabelled), with where it came from. */
    record Tagged(String text, List<String> tags, String location) implements Example {}

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public TaskOptions options() {
        return options;
    }

    @Override
    public List<String> labels() {
        return tags;
    }

    @Override
    public Task withLabels(List<String> labels) {
        return new TopicTaggingTask(options, labels);
    }

    /** @return every tag of the training data, sorted */
    @Override
    public List<String> inferLabels(Dataset train) {
        if (!tags.isEmpty()) {
            return tags;
        }
        TreeSet<String> all = new TreeSet<>();
        for (Example e : train.examples()) {
            all.addAll(((Tagged) e).tags());
        }
        if (all.size() < 2) {
            throw new InvalidDataException(train.source() + ": the column '" + labelColumn + "' holds " + all.size()
                    + " distinct tag(s) " + all + "; topic tagging needs at least two");
        }
        return List.copyOf(all);
    }

    /** @throws InvalidDataException naming the line of a tag outside the task's tag list */
    @Override
    public void validate(Dataset data) {
        for (Example e : data.examples()) {
            Tagged t = (Tagged) e;
            for (String tag : t.tags() == null ? List.<String>of() : t.tags()) {
                if (!tags.isEmpty() && !tags.contains(tag)) {
                    throw new InvalidDataException(t.location() + ": tag '" + tag + "' is not one of " + tags
                            + "; list every tag in the option labels=a,b,c");
                }
            }
        }
    }

    @Override
    public HeadSpec head() {
        if (tags.isEmpty()) {
            throw new IllegalStateException("the tags are not fixed yet; call withLabels(inferLabels(train))");
        }
        return new HeadSpec(HeadKind.SEQUENCE_CLASSIFICATION, tags.size());
    }

    /** @throws InvalidDataException naming the file and line of a row without the two columns */
    @Override
    public Dataset read(Path file) {
        List<String> lines;
        try {
            lines = Files.readAllLines(file, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new InvalidDataException("cannot read " + file + " (" + e.getMessage() + "); check the path", e);
        }
        if (lines.isEmpty()) {
            throw new InvalidDataException(file + " is empty; it needs a header row with '" + textColumn + "' and '"
                    + labelColumn + "'");
        }
        List<String> header = Arrays.stream(lines.get(0).split("\t", -1)).map(String::strip).toList();
        int text = header.indexOf(textColumn);
        int label = header.indexOf(labelColumn);
        if (text < 0 || label < 0) {
            throw new InvalidDataException(file + ":1: the header " + header + " lacks '" + (text < 0 ? textColumn
                    : labelColumn) + "'; name the columns with --text-column and --label-column");
        }
        List<Tagged> examples = new ArrayList<>();
        for (int i = 1; i < lines.size(); i++) {
            if (lines.get(i).isBlank()) {
                continue;
            }
            String[] cells = lines.get(i).split("\t", -1);
            String where = file + ":" + (i + 1);
            if (cells.length != header.size() || cells[text].isBlank()) {
                throw new InvalidDataException(where + ": expected " + header.size() + " tab-separated fields with a"
                        + " text, got " + cells.length + "; fix the row");
            }
            examples.add(new Tagged(cells[text], parseTags(cells[label]), where));
        }
        if (examples.isEmpty()) {
            throw new InvalidDataException(file + " has no data rows");
        }
        return new Dataset(file.toString(), examples, 0);
    }

    private List<String> parseTags(String cell) {
        List<String> out = new ArrayList<>();
        for (String t : cell.split(Pattern.quote(separator))) {
            if (!t.isBlank() && !out.contains(t.strip())) {
                out.add(t.strip());
            }
        }
        return out;
    }

    @Override
    public Example parseInput(Map<String, String> input) {
        String text = input.get("text");
        if (text == null || text.isBlank()) {
            throw new InvalidDataException("give the text to tag as {\"text\": ...}");
        }
        return new Tagged(text, null, "input");
    }

    /**
     * @return {@code input_ids}, {@code token_type_ids}, {@code attention_mask} and, as a float
     *     field, multi-hot {@code labels}
     */
    @Override
    public List<Features> encode(Example example, int exampleIndex, TextTokenizer tokenizer, int maxLength) {
        Tagged t = (Tagged) example;
        Encoding enc = tokenizer.encode(t.text(), null, maxLength);
        Map<String, long[]> fields = new LinkedHashMap<>();
        fields.put("input_ids", enc.ids());
        fields.put("token_type_ids", enc.typeIds() != null ? enc.typeIds() : new long[enc.length()]);
        long[] mask = new long[enc.length()];
        Arrays.fill(mask, 1);
        fields.put("attention_mask", mask);
        Map<String, float[]> floats = new LinkedHashMap<>();
        if (t.tags() != null) {
            float[] hot = new float[tags.size()];
            for (String tag : t.tags()) {
                int id = tags.indexOf(tag);
                if (id < 0) {
                    throw new InvalidDataException(t.location() + ": tag '" + tag + "' is not one of " + tags);
                }
                hot[id] = 1f;
            }
            floats.put("labels", hot);
        }
        return List.of(new Features(exampleIndex, fields, floats, null));
    }

    @Override
    public Map<String, Long> padding(TextTokenizer tokenizer) {
        return Map.of("input_ids", tokenizer.padTokenId(), "token_type_ids", 0L, "attention_mask", 0L);
    }

    /** @return {@code labels}: FLOAT32 [B, tags], 1 where the text has the tag */
    @Override
    public List<InputSpec> labelInputs() {
        return List.of(new InputSpec("labels", DType.FLOAT32, 2, true));
    }

    /** @return binary cross-entropy of every tag's logit against its 0/1 target */
    @Override
    public Tensor loss(Ops ops, Map<String, Tensor> outputs, Map<String, Tensor> inputs) {
        return ops.binaryCrossEntropyWithLogits(outputs.get("logits"), inputs.get("labels"));
    }

    /** @return {@code problem_type=multi_label_classification}, so transformers trains the saved folder alike */
    @Override
    public Map<String, Object> configEntries() {
        return Map.of("problem_type", "multi_label_classification");
    }

    @Override
    public Evaluator evaluator(Dataset data) {
        return new TaggingMetrics(tags.size());
    }

    /** @return the tags whose probability exceeds 0.5, and every tag's probability */
    @Override
    public Prediction decode(Example example, List<Features> features, List<Map<String, float[]>> outputs) {
        float[] logits = outputs.get(0).get("logits");
        List<String> chosen = new ArrayList<>();
        Map<String, Double> probabilities = new LinkedHashMap<>();
        for (int i = 0; i < tags.size(); i++) {
            double p = 1 / (1 + Math.exp(-logits[i]));
            probabilities.put(tags.get(i), p);
            if (p > 0.5) {
                chosen.add(tags.get(i));
            }
        }
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("tags", chosen);
        out.put("probabilities", probabilities);
        return () -> out;
    }

    @Override
    public String primaryMetric() {
        return TaggingMetrics.MICRO_F1;
    }

    @Override
    public boolean greaterIsBetter() {
        return true;
    }
}
