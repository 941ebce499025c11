package dev.attune.tasks.ner;

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
import dev.attune.tasks.metrics.EntityMetrics;
import dev.attune.tasks.metrics.EntitySpan;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeSet;

/**
 * Named-entity recognition and other word tagging: task {@value #NAME}, on a {@code
 * *ForTokenClassification} head.
 *
 * <p>Data are CoNLL-style files ({@link ConllReader}): one word per line with its tag in the last
 * column, blank lines between sentences. Options (all optional):
 *
 * <ul>
 *   <li>{@code tag_scheme}: {@code iob1} (default, as in the original CoNLL-2003 files) or {@code
 *       iob2}, the scheme of the data's tags;
 *   <li>{@code convert_to}: {@code iob2} (default) converts IOB1 tags to IOB2 when reading, as the
 *       HuggingFace reference does, so that every entity starts with {@code B-}; {@code none} keeps
 *       the tags as written;
 *   <li>{@code labels}: the tag list, comma-separated, in id order; default: the sorted distinct
 *       tags of the training data (after conversion).
 * </ul>
 *
 * <p>A sentence is encoded with {@link TextTokenizer#encodeWords}; its {@code labels} field holds
 * the tag id on the first sub-token of each word and -100 on the other sub-tokens and on special
 * tokens, so that the loss (cross-entropy over all tokens, ignoring -100) and the metrics see each
 * word once. Metrics are entity-level precision, recall and F1 as seqeval computes them ({@link
 * EntityMetrics}), plus tag accuracy; the model is chosen on {@code f1}. Predictions are {@link
 * TokenClassificationPrediction}s: the input text ({@code {"text": ...}}) is split into words on
 * whitespace, and entities carry character offsets into it. Immutable.
 */
public final class TokenClassificationTask implements Task {
    /** The task's name. */
    public static final String NAME = "token-classification";

    static final String TAG_SCHEME = "tag_scheme";
    static final String CONVERT_TO = "convert_to";
    static final String LABELS_OPTION = "labels";
    static final String LABELS = "labels";
    static final String LOGITS = "logits";
    static final long IGNORE_INDEX = -100;

    private static final String INPUT_IDS = "input_ids";
    private static final String TOKEN_TYPE_IDS = "token_type_ids";
    private static final String ATTENTION_MASK = "attention_mask";

    private final TaskOptions options;
    private final TagScheme scheme;
    private final boolean toIob2;
    private final List<String> labels;
    private final Map<String, Integer> labelIds;

    /**
     * @param options the task options
     * @throws ConfigurationException on an unknown or invalid option
     */
    public TokenClassificationTask(TaskOptions options) {
        this(options, null);
    }

    private TokenClassificationTask(TaskOptions options, List<String> labels) {
        this.options = Objects.requireNonNull(options, "options");
        options.requireOnly(Set.of(TAG_SCHEME, CONVERT_TO, LABELS_OPTION), NAME);
        this.scheme = TagScheme.parse(options.get(TAG_SCHEME, "iob1"), TAG_SCHEME);
        String convert = options.get(CONVERT_TO, "iob2").strip();
        if (convert.equalsIgnoreCase("iob2")) {
            this.toIob2 = true;
        } else if (convert.equalsIgnoreCase("none")) {
            this.toIob2 = false;
        } else {
            throw new ConfigurationException(CONVERT_TO + " '" + convert + "' is not known; use " + CONVERT_TO
                    + "=iob2 (default) or " + CONVERT_TO + "=none");
        }
        String option = options.values().get(LABELS_OPTION);
        if (labels != null) {
            this.labels = check(labels, "the label list " + labels);
        } else if (option != null) {
            List<String> parsed = new ArrayList<>();
            for (String part : option.split(",", -1)) {
                parsed.add(part.strip());
            }
            this.labels = check(parsed, "the option labels=" + option);
        } else {
            this.labels = List.of();
        }
        Map<String, Integer> ids = new HashMap<>();
        for (int i = 0; i < this.labels.size(); i++) {
            ids.put(this.labels.get(i), i);
        }
        this.labelIds = Map.copyOf(ids);
    }

    private static List<String> check(List<String> labels, String what) {
        Set<String> seen = new HashSet<>();
        for (String l : labels) {
            if (l == null || l.isBlank() || l.chars().anyMatch(Character::isWhitespace)) {
                throw new ConfigurationException(what + " has an empty tag or one with spaces; list tags separated"
                        + " by commas");
            }
            if (!seen.add(l)) {
                throw new ConfigurationException(what + " lists tag '" + l + "' twice; each tag must appear once");
            }
        }
        if (labels.size() < 2) {
            throw new ConfigurationException(what + " has " + labels.size() + " tag(s); a tagger needs at least two");
        }
        return List.copyOf(labels);
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
    public List<String> labels() {
        return labels;
    }

    @Override
    public Task withLabels(List<String> labels) {
        return new TokenClassificationTask(options, Objects.requireNonNull(labels, "labels"));
    }

    /**
     * @return the fixed labels (after checking the data against them), or else the distinct tags of
     *     the data sorted by text
     * @throws InvalidDataException when the data has fewer than two distinct tags, or a tag outside
     *     the fixed ones
     */
    @Override
    public List<String> inferLabels(Dataset train) {
        if (!labels.isEmpty()) {
            validate(train);
            return labels;
        }
        Set<String> distinct = new TreeSet<>();
        for (WordsExample e : examples(train)) {
            if (e.tags() != null) {
                distinct.addAll(e.tags());
            }
        }
        if (distinct.size() < 2) {
            throw new InvalidDataException("the training data " + train.source() + " has " + distinct.size()
                    + " distinct tag(s) " + distinct + "; a tagger needs at least two");
        }
        return List.copyOf(distinct);
    }

    /** @throws InvalidDataException naming the first sentence with a tag outside the fixed labels */
    @Override
    public void validate(Dataset data) {
        if (labels.isEmpty()) {
            return;
        }
        for (WordsExample e : examples(data)) {
            if (e.tags() == null) {
                continue;
            }
            for (String t : e.tags()) {
                if (!labelIds.containsKey(t)) {
                    throw new InvalidDataException(e.location() + ": " + unknownTag(t) + "; correct the data or"
                            + " train with every tag listed in the option " + LABELS_OPTION + "=B-X,I-X,O,...");
                }
            }
        }
    }

    private String unknownTag(String tag) {
        return "tag '" + tag + "' is not one of the task's tags " + labels;
    }

    @Override
    public HeadSpec head() {
        requireLabels();
        return new HeadSpec(HeadKind.TOKEN_CLASSIFICATION, labels.size());
    }

    @Override
    public Dataset read(Path file) {
        return new Dataset(file.toString(), ConllReader.read(file, scheme, toIob2), 0);
    }

    /**
     * Accepts {@code {"text": ...}}: the text is split into words on whitespace.
     *
     * @throws InvalidDataException when the text is missing or blank, or another field is given
     */
    @Override
    public Example parseInput(Map<String, String> input) {
        String text = input.get("text");
        if (text == null || text.isBlank()) {
            throw new InvalidDataException("input has " + (text == null ? "no" : "an empty") + " 'text' field;"
                    + " give it as {\"text\": ...}");
        }
        if (input.size() != 1) {
            Set<String> extra = new TreeSet<>(input.keySet());
            extra.remove("text");
            throw new InvalidDataException("input has field(s) " + extra + " that task '" + NAME + "' does not read;"
                    + " give {\"text\": ...}");
        }
        return WordsExample.ofText(text, "input");
    }

    /**
     * @return one feature: {@code input_ids}, {@code token_type_ids}, {@code attention_mask} and,
     *     for tagged sentences, {@code labels} (tag id on each word's first sub-token, else -100);
     *     its context is the token-to-word map ({@code int[]}, -1 for special tokens)
     * @throws InvalidDataException naming the sentence when a tag is not among the labels
     */
    @Override
    public List<Features> encode(Example example, int exampleIndex, TextTokenizer tokenizer, int maxLength) {
        WordsExample e = cast(example);
        Encoding enc = tokenizer.encodeWords(e.words(), maxLength);
        long[] ids = enc.ids();
        Map<String, long[]> fields = new LinkedHashMap<>();
        fields.put(INPUT_IDS, ids);
        fields.put(TOKEN_TYPE_IDS, enc.typeIds() != null ? enc.typeIds() : new long[ids.length]);
        long[] mask = enc.attentionMask();
        if (mask == null) {
            mask = new long[ids.length];
            Arrays.fill(mask, 1);
        }
        fields.put(ATTENTION_MASK, mask);
        int[] wordIds = enc.wordIds();
        if (e.tags() != null) {
            requireLabels();
            fields.put(LABELS, alignLabels(wordIds, e, labelIds));
        }
        return List.of(new Features(exampleIndex, fields, wordIds));
    }

    /**
     * @param wordIds per token, its word or -1
     * @param e the tagged sentence
     * @param labelIds tag ids
     * @return per token: the word's tag id on the first token of each word, -100 elsewhere
     */
    static long[] alignLabels(int[] wordIds, WordsExample e, Map<String, Integer> labelIds) {
        long[] out = new long[wordIds.length];
        int previous = -1;
        for (int i = 0; i < wordIds.length; i++) {
            int w = wordIds[i];
            if (w >= 0 && w != previous) {
                String tag = e.tags().get(w);
                Integer id = labelIds.get(tag);
                if (id == null) {
                    throw new InvalidDataException(e.location() + ": word '" + e.words().get(w) + "' has "
                            + "tag '" + tag + "', which is not one of the task's tags " + labelIds.keySet());
                }
                out[i] = id;
            } else {
                out[i] = IGNORE_INDEX;
            }
            previous = w;
        }
        return out;
    }

    /** @return {@code input_ids} padded with the pad id, type ids and mask with 0, {@code labels} with -100 */
    @Override
    public Map<String, Long> padding(TextTokenizer tokenizer) {
        Map<String, Long> m = new LinkedHashMap<>();
        m.put(INPUT_IDS, tokenizer.padTokenId());
        m.put(TOKEN_TYPE_IDS, 0L);
        m.put(ATTENTION_MASK, 0L);
        m.put(LABELS, IGNORE_INDEX);
        return m;
    }

    /** @return {@code labels}: INT64 {@code [batch, sequence]}, absent at inference */
    @Override
    public List<InputSpec> labelInputs() {
        return List.of(new InputSpec(LABELS, DType.INT64, 2, true));
    }

    /**
     * @return mean cross-entropy of {@code logits} {@code [B, T, C]} reshaped to {@code [B*T, C]}
     *     against {@code labels} reshaped to {@code [B*T]}, ignoring -100
     */
    @Override
    public Tensor loss(Ops ops, Map<String, Tensor> outputs, Map<String, Tensor> inputs) {
        requireLabels();
        Tensor logits = outputs.get(LOGITS);
        if (logits == null) {
            throw new IllegalArgumentException("the head's outputs have no 'logits'; they are " + outputs.keySet());
        }
        Tensor gold = inputs.get(LABELS);
        if (gold == null) {
            throw new IllegalArgumentException("the inputs have no 'labels'; the loss needs tagged data");
        }
        return ops.crossEntropy(ops.reshape(logits, -1, labels.size()), ops.reshape(gold, -1), IGNORE_INDEX);
    }

    @Override
    public Evaluator evaluator(Dataset data) {
        requireLabels();
        return new TokenClassificationEvaluator(labels);
    }

    /**
     * @param outputs one feature's outputs
     * @param numLabels tags
     * @param length tokens of the feature
     * @return its {@code logits}, checked to hold at least {@code length} rows of {@code numLabels}
     */
    static float[] logits(Map<String, float[]> outputs, int numLabels, int length) {
        float[] logits = outputs.get(LOGITS);
        if (logits == null) {
            throw new IllegalArgumentException("the model's outputs have no 'logits'; they are " + outputs.keySet());
        }
        if (logits.length % numLabels != 0 || logits.length / numLabels < length) {
            throw new IllegalArgumentException("'logits' has " + logits.length + " values, not a multiple of the "
                    + numLabels + " tags covering " + length + " tokens");
        }
        return logits;
    }

    /**
     * Tags each word by its first sub-token's most probable tag, reads entities from the tags as
     * {@link EntityMetrics#entities} does, and maps them to character offsets of the input text. An
     * entity's score is the mean probability of its words' tags.
     */
    @Override
    public Prediction decode(Example example, List<Features> features, List<Map<String, float[]>> outputs) {
        requireLabels();
        WordsExample e = cast(example);
        if (features.size() != 1 || outputs.size() != 1) {
            throw new IllegalArgumentException("token classification decodes one feature per example, got "
                    + features.size());
        }
        int[] wordIds = (int[]) features.get(0).context();
        int c = labels.size();
        float[] logits = logits(outputs.get(0), c, wordIds.length);
        List<String> tags = new ArrayList<>();
        double[] scores = new double[e.words().size()];
        for (int w = 0; w < e.words().size(); w++) {
            tags.add("O");
        }
        int previous = -1;
        for (int i = 0; i < wordIds.length; i++) {
            int w = wordIds[i];
            if (w >= 0 && w != previous && w < tags.size()) {
                int best = TokenClassificationEvaluator.argmax(logits, i * c, c);
                tags.set(w, labels.get(best));
                scores[w] = probability(logits, i * c, c, best);
            }
            previous = w;
        }
        List<NamedEntity> entities = new ArrayList<>();
        for (EntitySpan s : EntityMetrics.entities(tags)) {
            double sum = 0;
            for (int w = s.start(); w < s.end(); w++) {
                sum += scores[w];
            }
            int start = e.starts()[s.start()];
            int end = e.ends()[s.end() - 1];
            entities.add(new NamedEntity(s.type(), e.text().substring(start, end), start, end,
                    sum / (s.end() - s.start())));
        }
        return new TokenClassificationPrediction(entities, e.words(), tags);
    }

    private static double probability(float[] logits, int offset, int n, int index) {
        double max = Double.NEGATIVE_INFINITY;
        for (int j = 0; j < n; j++) {
            max = Math.max(max, logits[offset + j]);
        }
        double sum = 0;
        for (int j = 0; j < n; j++) {
            sum += Math.exp(logits[offset + j] - max);
        }
        return Math.exp(logits[offset + index] - max) / sum;
    }

    /** @return {@code f1} (entity level) */
    @Override
    public String primaryMetric() {
        return EntityMetrics.F1;
    }

    /** @return true: a higher entity F1 is better */
    @Override
    public boolean greaterIsBetter() {
        return true;
    }

    private void requireLabels() {
        if (labels.isEmpty()) {
            throw new IllegalStateException("task '" + NAME + "' has no labels yet; fix them with withLabels"
                    + " (for example withLabels(inferLabels(train))) or the option " + LABELS_OPTION + "=...");
        }
    }

    private List<WordsExample> examples(Dataset data) {
        List<WordsExample> out = new ArrayList<>(data.size());
        for (Example e : data.examples()) {
            out.add(cast(e));
        }
        return out;
    }

    private static WordsExample cast(Example e) {
        if (e instanceof WordsExample w) {
            return w;
        }
        throw new IllegalArgumentException("task '" + NAME + "' needs examples it read or parsed itself, got "
                + (e == null ? "null" : e.getClass().getName()));
    }

    @Override
    public String toString() {
        return NAME + options.values() + (labels.isEmpty() ? "" : " labels=" + labels);
    }
}
