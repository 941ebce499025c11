package dev.attune.tasks.lm;

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
import dev.attune.tasks.io.BadRowPolicy;
import dev.attune.tasks.io.Column;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * Masked language modelling, for continued pretraining of an encoder (BERT) on a user's own text
 * before fine-tuning it (domain adaptation): task {@value #NAME}, on a {@code *ForMaskedLM} head.
 *
 * <p>Input: one document per line of a {@code .txt} file, or the {@code text_column} (default
 * {@code text}) of a TSV, CSV or JSON Lines file; each document is truncated to the maximum length.
 *
 * <p>Masking follows HuggingFace's {@code DataCollatorForLanguageModeling}: {@code mlm_probability}
 * (default 0.15) of the ordinary tokens are selected (special tokens never), and of those 80% become
 * the mask token, 10% a random token and 10% stay; the loss is cross-entropy on the selected
 * positions only. The mask of an example is drawn once, when it is encoded, from the {@code seed}
 * option (default 42) and the example's index, so it is reproducible and the same in every epoch
 * (static masking, as in the original BERT data preparation, rather than the collator's new mask per
 * batch).
 *
 * <p>Metrics: {@code accuracy} (masked-token accuracy), {@code perplexity} (of the selected tokens)
 * and {@code masked_tokens}. The model saves as a {@code BertForMaskedLM} folder. Predictions
 * ({@code {"text": "paris is the [MASK] of france."}}) list the most probable tokens for every mask
 * token of the text. Immutable.
 */
public final class MaskedLmTask implements Task {
    /** The task's name. */
    public static final String NAME = "masked-lm";

    static final String MLM_PROBABILITY = "mlm_probability";
    static final String SEED = "seed";
    static final String MASK_TOKEN = "mask_token";

    static final String INPUT_IDS = "input_ids";
    static final String TOKEN_TYPE_IDS = "token_type_ids";
    static final String ATTENTION_MASK = "attention_mask";
    static final String LABELS = "labels";

    /** Candidates shown per mask token in a prediction. */
    private static final int TOP_K = 5;

    private final TaskOptions options;
    private final String format;
    private final Column textColumn;
    private final double probability;
    private final long seed;
    private final String maskToken;
    private final int limit;
    private final BadRowPolicy policy;

    /**
     * @param options the task options
     * @throws ConfigurationException on an unknown or invalid option
     */
    public MaskedLmTask(TaskOptions options) {
        this.options = Objects.requireNonNull(options, "options");
        options.requireOnly(Set.of(LmText.FORMAT, LmText.TEXT_COLUMN, MLM_PROBABILITY, SEED, MASK_TOKEN, LmText.LIMIT,
                BadRowPolicy.OPTION), NAME);
        this.format = options.values().get(LmText.FORMAT);
        String column = options.get(LmText.TEXT_COLUMN, "text");
        if (column.isBlank()) {
            throw new ConfigurationException("option " + LmText.TEXT_COLUMN + " is empty; name the text column");
        }
        this.textColumn = new Column(column.strip(), LmText.TEXT_COLUMN);
        String p = options.get(MLM_PROBABILITY, "0.15");
        try {
            this.probability = Double.parseDouble(p.strip());
        } catch (NumberFormatException e) {
            throw new ConfigurationException("option " + MLM_PROBABILITY + "=" + p + " is not a number; give the"
                    + " share of tokens to mask, e.g. 0.15");
        }
        if (!(probability > 0 && probability < 1)) {
            throw new ConfigurationException("option " + MLM_PROBABILITY + "=" + p + " must lie strictly between 0"
                    + " and 1 (0.15 is usual)");
        }
        String s = options.get(SEED, "42");
        try {
            this.seed = Long.parseLong(s.strip());
        } catch (NumberFormatException e) {
            throw new ConfigurationException("option " + SEED + "=" + s + " is not a whole number");
        }
        this.maskToken = options.values().get(MASK_TOKEN);
        this.limit = LmText.limit(options.values().get(LmText.LIMIT));
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
        return new HeadSpec(HeadKind.MASKED_LM, 0);
    }

    /** @throws InvalidDataException naming the file and line of a bad row */
    @Override
    public Dataset read(Path file) {
        List<LmExample> examples = LmText.map(LmText.readTexts(file, format, textColumn, policy, limit),
                t -> new LmExample(t.text(), List.of(), false, t.location()));
        return new Dataset(file.toString(), examples, 0);
    }

    /**
     * Accepts {@code {"text": ...}}, which may contain mask tokens to fill in.
     *
     * @throws InvalidDataException when the text is missing or blank, or another field is given
     */
    @Override
    public Example parseInput(Map<String, String> input) {
        String text = input.get("text");
        if (text == null || text.isBlank() || input.size() != 1) {
            throw new InvalidDataException("task '" + NAME + "' reads one text given as {\"text\": ...}; got fields "
                    + input.keySet());
        }
        return new LmExample(text, List.of(), false, PREDICT);
    }

    /** Location of examples given for prediction: they are not masked at random. */
    private static final String PREDICT = "input";

    /**
     * @param tokenizer the model's tokenizer
     * @return the mask token's id ({@code mask_token}, else {@code [MASK]} or {@code <mask>})
     * @throws ConfigurationException when the tokenizer has none
     */
    long maskId(TextTokenizer tokenizer) {
        List<String> candidates = maskToken != null ? List.of(maskToken) : List.of("[MASK]", "<mask>");
        for (String c : candidates) {
            long id = tokenizer.tokenToId(c);
            if (id >= 0) {
                return id;
            }
        }
        throw new ConfigurationException("the tokenizer has no mask token " + candidates + "; set the option "
                + MASK_TOKEN + " to the model's mask token");
    }

    /**
     * Tokenises with special tokens and, for examples read from files, masks them with this
     * example's seeded random source. Examples given for prediction keep their text (and any mask
     * tokens the user wrote) and get no labels.
     */
    @Override
    public List<Features> encode(Example example, int exampleIndex, TextTokenizer tokenizer, int maxLength) {
        LmExample e = cast(example);
        long maskId = maskId(tokenizer);
        Encoding enc = tokenizer.encode(e.text(), null, maxLength);
        long[] ids = enc.ids();
        int n = ids.length;
        Map<String, long[]> fields = new LinkedHashMap<>();
        boolean predict = PREDICT.equals(e.location());
        MlmMasking.Masked masked = predict ? null : MlmMasking.mask(ids, specials(enc, ids, maskId,
                tokenizer.padTokenId()), probability, maskId, tokenizer.vocabularySize(),
                MlmMasking.randomFor(seed, exampleIndex));
        fields.put(INPUT_IDS, predict ? ids : masked.inputIds());
        fields.put(TOKEN_TYPE_IDS, enc.typeIds() != null ? enc.typeIds() : new long[n]);
        long[] mask = new long[n];
        Arrays.fill(mask, 1);
        fields.put(ATTENTION_MASK, mask);
        if (!predict) {
            fields.put(LABELS, masked.labels());
        }
        return List.of(new Features(exampleIndex, fields, new FillContext(tokenizer, maskId)));
    }

    private static boolean[] specials(Encoding enc, long[] ids, long maskId, long pad) {
        boolean[] special = new boolean[ids.length];
        int[] seq = enc.sequenceIds();
        for (int i = 0; i < ids.length; i++) {
            special[i] = (seq != null && seq[i] < 0) || ids[i] == maskId || ids[i] == pad;
        }
        return special;
    }

    /** What decoding a prediction needs: the tokenizer (for token texts) and the mask id. */
    record FillContext(TextTokenizer tokenizer, long maskId) {}

    @Override
    public Map<String, Long> padding(TextTokenizer tokenizer) {
        Map<String, Long> m = new LinkedHashMap<>();
        m.put(INPUT_IDS, tokenizer.padTokenId());
        m.put(TOKEN_TYPE_IDS, 0L);
        m.put(ATTENTION_MASK, 0L);
        m.put(LABELS, TokenScores.IGNORE_INDEX);
        return m;
    }

    /** @return {@code labels}, INT64 [B, T]: the original id at selected positions, else -100 */
    @Override
    public List<InputSpec> labelInputs() {
        return List.of(new InputSpec(LABELS, DType.INT64, 2, true));
    }

    /**
     * @return with labels, {@code token_nll} and {@code token_correct} [B, T] (meaningful at
     *     selected positions); without, the head's {@code logits}
     */
    @Override
    public Map<String, Tensor> outputs(Ops ops, Map<String, Tensor> headOutputs, Map<String, Tensor> inputs) {
        Tensor labels = inputs.get(LABELS);
        if (labels == null) {
            return headOutputs;
        }
        Tensor logits = headOutputs.get("logits");
        if (logits == null) {
            throw new IllegalArgumentException("the head's outputs have no 'logits'; they are " + headOutputs.keySet());
        }
        Tensor safe = TokenScores.safe(ops, labels);
        Map<String, Tensor> out = new LinkedHashMap<>();
        out.put(TokenScores.TOKEN_NLL, TokenScores.nll(ops, logits, safe));
        out.put(TokenScores.TOKEN_CORRECT, TokenScores.correct(ops, logits, safe));
        return out;
    }

    @Override
    public List<String> outputNames(List<String> headOutputs) {
        return List.of(TokenScores.TOKEN_NLL, TokenScores.TOKEN_CORRECT);
    }

    /** @return cross-entropy over the selected positions */
    @Override
    public Tensor loss(Ops ops, Map<String, Tensor> outputs, Map<String, Tensor> inputs) {
        Tensor nll = outputs.get(TokenScores.TOKEN_NLL);
        Tensor labels = inputs.get(LABELS);
        if (nll == null || labels == null) {
            throw new IllegalArgumentException("the loss needs 'token_nll' and 'labels'; outputs are "
                    + outputs.keySet() + ", inputs " + inputs.keySet());
        }
        return TokenScores.maskedMean(ops, nll, labels);
    }

    @Override
    public Evaluator evaluator(Dataset data) {
        return new MaskedLmEvaluator();
    }

    /**
     * @return for every mask token of the text, in order, the {@value #TOP_K} most probable tokens
     *     with their probabilities
     */
    @Override
    public Prediction decode(Example example, List<Features> features, List<Map<String, float[]>> outputs) {
        Features f = features.get(0);
        float[] logits = outputs.get(0).get("logits");
        if (!(f.context() instanceof FillContext ctx) || logits == null) {
            throw new IllegalArgumentException("fill-mask decoding needs the features of parseInput and 'logits'");
        }
        long[] ids = f.fields().get(INPUT_IDS);
        int vocab = ctx.tokenizer().vocabularySize();
        if (logits.length % vocab != 0 || logits.length / vocab < ids.length) {
            throw new IllegalArgumentException("logits of " + logits.length + " values do not match a vocabulary of "
                    + vocab + " tokens over " + ids.length + " positions");
        }
        int modelVocab = vocab;
        List<Object> masks = new ArrayList<>();
        for (int t = 0; t < ids.length; t++) {
            if (ids[t] != ctx.maskId()) {
                continue;
            }
            double[] p = softmax(logits, t * modelVocab, modelVocab);
            Integer[] order = new Integer[modelVocab];
            for (int i = 0; i < modelVocab; i++) {
                order[i] = i;
            }
            Arrays.sort(order, (a, b) -> Double.compare(p[b], p[a]));
            List<Map<String, Object>> top = new ArrayList<>();
            for (int k = 0; k < Math.min(TOP_K, modelVocab); k++) {
                Map<String, Object> c = new LinkedHashMap<>();
                c.put("token", ctx.tokenizer().decode(new long[] {order[k]}, false).strip());
                c.put("token_id", order[k]);
                c.put("probability", p[order[k]]);
                top.add(c);
            }
            masks.add(Map.of("position", t, "candidates", top));
        }
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("masks", masks);
        return () -> out;
    }

    private static double[] softmax(float[] x, int from, int n) {
        double max = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++) {
            max = Math.max(max, x[from + i]);
        }
        double[] out = new double[n];
        double sum = 0;
        for (int i = 0; i < n; i++) {
            out[i] = Math.exp(x[from + i] - max);
            sum += out[i];
        }
        for (int i = 0; i < n; i++) {
            out[i] /= sum;
        }
        return out;
    }

    /** @return {@code accuracy}: masked-token accuracy */
    @Override
    public String primaryMetric() {
        return MaskedLmEvaluator.ACCURACY;
    }

    /** @return true: a higher masked-token accuracy is better */
    @Override
    public boolean greaterIsBetter() {
        return true;
    }

    private static LmExample cast(Example e) {
        if (e instanceof LmExample x) {
            return x;
        }
        throw new IllegalArgumentException("task '" + NAME + "' needs examples it read or parsed itself, got "
                + (e == null ? "null" : e.getClass().getName()));
    }

    @Override
    public String toString() {
        return NAME + options.values();
    }
}
