package dev.attune.tasks.qa;

import dev.attune.error.ConfigurationException;
import dev.attune.error.InvalidDataException;
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
import dev.attune.tasks.metrics.SquadMetrics;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeSet;

/**
 * Extractive question answering (SQuAD v1.1): task {@value #NAME}, on a {@code
 * *ForQuestionAnswering} head. The answer is a span of the context.
 *
 * <p>Data are SQuAD v1.1 JSON files ({@link SquadReader}). Options (all optional):
 *
 * <ul>
 *   <li>{@code article_start}, {@code article_end}: read only the articles {@code [article_start,
 *       article_end)}, counting from 0 (defaults: 0 and all); {@code article_end=38} reads the
 *       first 38 articles of a file, {@code article_start=38} the rest;
 *   <li>{@code doc_stride}: context tokens shared by consecutive windows of a long context, default
 *       128;
 *   <li>{@code max_answer_length}: most tokens of a predicted answer, default 30;
 *   <li>{@code n_best}: start and end candidates considered per window, default 20.
 * </ul>
 *
 * <p>Each example becomes one feature per window of its context ({@link QaEncoder}: BERT-style
 * {@code [CLS] question [SEP] window [SEP]}); a labelled feature has {@code start_positions} and
 * {@code end_positions}, the token positions of the first answer, or 0 ({@code [CLS]}) for both
 * when the window does not hold the whole answer. The loss is the mean of the cross-entropies of
 * {@code start_logits} and {@code end_logits} against them. Metrics are SQuAD's {@code
 * exact_match} and {@code f1} ({@link SquadMetrics}); the model is chosen on {@code f1}.
 * Predictions ({@code {"question": ..., "context": ...}}) are {@link QaPrediction}s. The task has
 * no labels. Immutable.
 */
public final class QuestionAnsweringTask implements Task {
    /** The task's name. */
    public static final String NAME = "question-answering";

    static final String ARTICLE_START = "article_start";
    static final String ARTICLE_END = "article_end";
    static final String DOC_STRIDE = "doc_stride";
    static final String MAX_ANSWER_LENGTH = "max_answer_length";
    static final String N_BEST = "n_best";
    static final String START_LOGITS = "start_logits";
    static final String END_LOGITS = "end_logits";

    private final TaskOptions options;
    private final int articleStart;
    private final int articleEnd;
    private final int docStride;
    private final SpanDecoder decoder;

    /**
     * @param options the task options
     * @throws ConfigurationException on an unknown option or a value that is not a valid integer
     */
    public QuestionAnsweringTask(TaskOptions options) {
        this.options = Objects.requireNonNull(options, "options");
        options.requireOnly(Set.of(ARTICLE_START, ARTICLE_END, DOC_STRIDE, MAX_ANSWER_LENGTH, N_BEST), NAME);
        this.articleStart = integer(ARTICLE_START, 0, 0);
        this.articleEnd = integer(ARTICLE_END, -1, 0);
        if (articleEnd >= 0 && articleEnd < articleStart) {
            throw new ConfigurationException(ARTICLE_END + "=" + articleEnd + " is before " + ARTICLE_START + "="
                    + articleStart + "; the selection is [article_start, article_end)");
        }
        this.docStride = integer(DOC_STRIDE, 128, 0);
        this.decoder = new SpanDecoder(integer(N_BEST, 20, 1), integer(MAX_ANSWER_LENGTH, 30, 1));
    }

    private int integer(String key, int fallback, int min) {
        String v = options.values().get(key);
        if (v == null) {
            return fallback;
        }
        try {
            int n = Integer.parseInt(v.strip());
            if (n < min) {
                throw new NumberFormatException();
            }
            return n;
        } catch (NumberFormatException e) {
            throw new ConfigurationException("option " + key + "=" + v + " of task '" + NAME + "' is not an integer"
                    + " of at least " + min);
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
        return new HeadSpec(HeadKind.QUESTION_ANSWERING, 0);
    }

    @Override
    public Dataset read(Path file) {
        return new Dataset(file.toString(), SquadReader.read(file, articleStart, articleEnd), 0);
    }

    /**
     * Accepts {@code {"question": ..., "context": ...}}.
     *
     * @throws InvalidDataException when either is missing or blank, or another field is given
     */
    @Override
    public Example parseInput(Map<String, String> input) {
        for (String key : List.of("question", "context")) {
            String v = input.get(key);
            if (v == null || v.isBlank()) {
                throw new InvalidDataException("input has " + (v == null ? "no" : "an empty") + " '" + key + "' field;"
                        + " give {\"question\": ..., \"context\": ...}");
            }
        }
        Set<String> extra = new TreeSet<>(input.keySet());
        extra.removeAll(Set.of("question", "context"));
        if (!extra.isEmpty()) {
            throw new InvalidDataException("input has field(s) " + extra + " that task '" + NAME + "' does not read;"
                    + " give {\"question\": ..., \"context\": ...}");
        }
        return new QaExample("input", input.get("question"), input.get("context"), List.of(), "input");
    }

    @Override
    public List<Features> encode(Example example, int exampleIndex, TextTokenizer tokenizer, int maxLength) {
        return QaEncoder.encode(cast(example), exampleIndex, tokenizer, maxLength, docStride);
    }

    /** @return {@code input_ids} padded with the pad id, type ids and mask with 0 */
    @Override
    public Map<String, Long> padding(TextTokenizer tokenizer) {
        Map<String, Long> m = new LinkedHashMap<>();
        m.put(QaEncoder.INPUT_IDS, tokenizer.padTokenId());
        m.put(QaEncoder.TOKEN_TYPE_IDS, 0L);
        m.put(QaEncoder.ATTENTION_MASK, 0L);
        return m;
    }

    /** @return {@code start_positions} and {@code end_positions}: INT64 {@code [batch]}, absent at inference */
    @Override
    public List<InputSpec> labelInputs() {
        return List.of(new InputSpec(QaEncoder.START_POSITIONS, DType.INT64, 1, true),
                new InputSpec(QaEncoder.END_POSITIONS, DType.INT64, 1, true));
    }

    /** @return the mean of the cross-entropies of start and end logits {@code [B, T]} against the positions {@code [B]} */
    @Override
    public Tensor loss(Ops ops, Map<String, Tensor> outputs, Map<String, Tensor> inputs) {
        Tensor start = require(outputs, START_LOGITS, "head's outputs");
        Tensor end = require(outputs, END_LOGITS, "head's outputs");
        Tensor startGold = require(inputs, QaEncoder.START_POSITIONS, "inputs");
        Tensor endGold = require(inputs, QaEncoder.END_POSITIONS, "inputs");
        return ops.mul(ops.add(ops.crossEntropy(start, startGold, -100), ops.crossEntropy(end, endGold, -100)), 0.5f);
    }

    private static Tensor require(Map<String, Tensor> map, String key, String what) {
        Tensor t = map.get(key);
        if (t == null) {
            throw new IllegalArgumentException("the " + what + " have no '" + key + "'; they are " + map.keySet());
        }
        return t;
    }

    @Override
    public Evaluator evaluator(Dataset data) {
        return new QaEvaluator(data, decoder);
    }

    /** @return the best span over the example's windows ({@link SpanDecoder}) */
    @Override
    public Prediction decode(Example example, List<Features> features, List<Map<String, float[]>> outputs) {
        QaExample e = cast(example);
        if (features.size() != outputs.size()) {
            throw new IllegalArgumentException(features.size() + " features but " + outputs.size() + " outputs");
        }
        List<SpanDecoder.Scored> scored = new ArrayList<>();
        for (int i = 0; i < features.size(); i++) {
            ContextWindow w = window(features.get(i));
            scored.add(new SpanDecoder.Scored(w, output(outputs.get(i), START_LOGITS, w.length()),
                    output(outputs.get(i), END_LOGITS, w.length())));
        }
        return decoder.decode(e.context(), scored);
    }

    /** @return {@code f1} */
    @Override
    public String primaryMetric() {
        return SquadMetrics.F1;
    }

    /** @return true: a higher F1 is better */
    @Override
    public boolean greaterIsBetter() {
        return true;
    }

    static ContextWindow window(Features f) {
        if (f.context() instanceof ContextWindow w) {
            return w;
        }
        throw new IllegalArgumentException("question answering needs features it encoded itself (with a context"
                + " window), got context " + f.context());
    }

    static float[] output(Map<String, float[]> outputs, String name, int length) {
        float[] v = outputs.get(name);
        if (v == null) {
            throw new IllegalArgumentException("the model's outputs have no '" + name + "'; they are " + outputs.keySet());
        }
        if (v.length < length) {
            throw new IllegalArgumentException("'" + name + "' has " + v.length + " values for a feature of " + length
                    + " tokens");
        }
        return v;
    }

    static QaExample cast(Example e) {
        if (e instanceof QaExample q) {
            return q;
        }
        throw new IllegalArgumentException("task '" + NAME + "' needs examples it read or parsed itself, got "
                + (e == null ? "null" : e.getClass().getName()));
    }

    @Override
    public String toString() {
        return NAME + options.values();
    }
}
