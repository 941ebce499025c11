package dev.attune.tasks.seq2seq;

import dev.attune.error.ConfigurationException;
import dev.attune.error.InvalidDataException;
import dev.attune.generate.GenerationConfig.BeamSearchConfig;
import dev.attune.generate.GenerationConfig;
import dev.attune.generate.TextGenerator;
import dev.attune.model.TextTokenizer.Encoding;
import dev.attune.model.HeadSpec.HeadKind;
import dev.attune.model.HeadSpec;
import dev.attune.model.ModelDefinition.InputSpec;
import dev.attune.model.ModelConfig;
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
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * Text-to-text fine-tuning of an encoder-decoder model ({@code T5ForConditionalGeneration}), as
 * HuggingFace's translation and summarisation examples do it.
 *
 * <ul>
 *   <li>Data: TSV, CSV or JSON Lines with a source and a target column ({@code source_column},
 *       {@code target_column}, default {@code source} and {@code target}).
 *   <li>Encoding: {@code input_ids} = tokenizer({@code prefix + source}) (for example {@code
 *       "translate English to German: "}), truncated to the maximum length; {@code labels} =
 *       tokenizer(target) truncated to {@code max_target_length} (default: the same maximum);
 *       {@code decoder_input_ids} = the labels shifted right behind {@code decoder_start_token_id}
 *       (option; default the tokenizer's pad id, T5's convention).
 *   <li>Padding: {@code input_ids} and {@code decoder_input_ids} with the pad id, {@code
 *       attention_mask} with 0, {@code labels} with -100, which the loss ignores.
 *   <li>Loss: mean token cross-entropy over the labels that are not -100 (HuggingFace's).
 *   <li>Metrics: the model generates for every evaluation source (greedy, or beam search with {@code
 *       num_beams > 1}, {@code length_penalty}, {@code early_stopping}; at most {@code
 *       max_new_tokens}, default 64, stopping at {@code eos_token_id}); the decoded texts are scored
 *       against the targets with corpus {@code bleu} (sacreBLEU's defaults, 0-100, see {@link
 *       dev.attune.tasks.metrics.Bleu}), {@code rougeL} (mean F1, 0-1, see {@link
 *       dev.attune.tasks.metrics.RougeL}), {@code exact_match} (fraction of outputs equal to the
 *       target after trimming) and {@code gen_len} (mean generated tokens).
 * </ul>
 */
public final class Seq2SeqTask implements Task {
    /** The task's name. */
    public static final String NAME = "seq2seq";

    static final String SOURCE_COLUMN = "source_column";
    static final String TARGET_COLUMN = "target_column";
    static final String PREFIX = "prefix";
    static final String FORMAT = "format";
    static final String MAX_TARGET_LENGTH = "max_target_length";
    static final String DECODER_START = "decoder_start_token_id";
    static final String MAX_NEW_TOKENS = "max_new_tokens";
    static final String NUM_BEAMS = "num_beams";
    static final String LENGTH_PENALTY = "length_penalty";
    static final String EARLY_STOPPING = "early_stopping";

    /** Label value the loss ignores, as in HuggingFace. */
    public static final long IGNORE_INDEX = -100;

    static final String INPUT_IDS = "input_ids";
    static final String ATTENTION_MASK = "attention_mask";
    static final String DECODER_INPUT_IDS = "decoder_input_ids";
    static final String LABELS = "labels";
    static final String LOGITS = "logits";

    private final TaskOptions options;
    private final Column source;
    private final Column target;
    private final String prefix;
    private final DataFormat format;
    private final BadRowPolicy policy;
    private final int maxTargetLength;
    private final Long decoderStart;
    private final int maxNewTokens;
    private final BeamSearchConfig beams;

    /**
     * @param options task options (see the class comment)
     * @throws ConfigurationException on an unknown option or an invalid value
     */
    public Seq2SeqTask(TaskOptions options) {
        this.options = Objects.requireNonNull(options, "options");
        options.requireOnly(Set.of(SOURCE_COLUMN, TARGET_COLUMN, PREFIX, FORMAT, BadRowPolicy.OPTION,
                MAX_TARGET_LENGTH, DECODER_START, MAX_NEW_TOKENS, NUM_BEAMS, LENGTH_PENALTY, EARLY_STOPPING), NAME);
        this.source = new Column(column(SOURCE_COLUMN, "source"), SOURCE_COLUMN);
        this.target = new Column(column(TARGET_COLUMN, "target"), TARGET_COLUMN);
        if (source.name().equals(target.name())) {
            throw new ConfigurationException("task '" + NAME + "' reads column '" + source.name()
                    + "' as both source and target; give " + TARGET_COLUMN + " its own column");
        }
        this.prefix = options.get(PREFIX, "");
        String fmt = options.values().get(FORMAT);
        this.format = fmt == null ? null : DataFormat.parse(fmt);
        this.policy = BadRowPolicy.parse(options.values().get(BadRowPolicy.OPTION));
        this.maxTargetLength = intOption(MAX_TARGET_LENGTH, 0, 1);
        this.decoderStart = options.values().containsKey(DECODER_START) ? (long) intOption(DECODER_START, 0, 0) : null;
        this.maxNewTokens = intOption(MAX_NEW_TOKENS, 64, 1);
        int numBeams = intOption(NUM_BEAMS, 1, 1);
        double lengthPenalty;
        try {
            lengthPenalty = Double.parseDouble(options.get(LENGTH_PENALTY, "1.0"));
        } catch (NumberFormatException e) {
            throw new ConfigurationException("option " + LENGTH_PENALTY + " must be a number, got '"
                    + options.get(LENGTH_PENALTY, "") + "'");
        }
        BeamSearchConfig.EarlyStopping early = switch (options.get(EARLY_STOPPING, "false").strip().toLowerCase(Locale.ROOT)) {
            case "true" -> BeamSearchConfig.EarlyStopping.TRUE;
            case "false" -> BeamSearchConfig.EarlyStopping.FALSE;
            case "never" -> BeamSearchConfig.EarlyStopping.NEVER;
            default -> throw new ConfigurationException("option " + EARLY_STOPPING + " must be true, false or never, got '"
                    + options.get(EARLY_STOPPING, "") + "'");
        };
        this.beams = new BeamSearchConfig(numBeams, lengthPenalty, early, 1);
    }

    private String column(String key, String fallback) {
        String v = options.get(key, fallback);
        if (v.isBlank()) {
            throw new ConfigurationException("option " + key + " of task '" + NAME + "' is empty; name a column");
        }
        return v.strip();
    }

    private int intOption(String key, int fallback, int min) {
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
            throw new ConfigurationException("option " + key + " of task '" + NAME + "' must be an integer >= " + min
                    + ", got '" + v + "'");
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
        return new HeadSpec(HeadKind.SEQ2SEQ_LM, 0);
    }

    /** @return the text put before every source */
    public String prefix() {
        return prefix;
    }

    /** @return the beam settings used when evaluating (1 beam: greedy) */
    public BeamSearchConfig beams() {
        return beams;
    }

    /** @return tokens generated at most per source when evaluating */
    public int maxNewTokens() {
        return maxNewTokens;
    }

    @Override
    public Dataset read(Path file) {
        Table<Seq2SeqExample> table = new TableReader(format, policy).read(file, List.of(source, target),
                row -> new Seq2SeqExample(row.require(source), row.require(target), row.location()));
        return new Dataset(file.toString(), table.rows(), table.skipped());
    }

    /**
     * Accepts {@code source} (or the {@code source_column} name) and an optional {@code target} (or
     * the {@code target_column} name).
     */
    @Override
    public Example parseInput(Map<String, String> input) {
        Set<String> used = new LinkedHashSet<>();
        String s = field(input, "source", source, used);
        String t = field(input, "target", target, used);
        if (s == null || s.isBlank()) {
            throw new InvalidDataException("input has no or an empty 'source' field; give it as {\"source\": ...}");
        }
        Set<String> extra = new LinkedHashSet<>(input.keySet());
        extra.removeAll(used);
        if (!extra.isEmpty()) {
            throw new InvalidDataException("input has field(s) " + extra + " that task '" + NAME
                    + "' does not read; give {\"source\": ..., \"target\": ...}");
        }
        return new Seq2SeqExample(s, t, "input");
    }

    private static String field(Map<String, String> input, String key, Column column, Set<String> used) {
        String k = input.containsKey(key) ? key : column.name();
        if (input.containsKey(k)) {
            used.add(k);
        }
        return input.get(k);
    }

    private static Seq2SeqExample cast(Example example) {
        if (!(example instanceof Seq2SeqExample e)) {
            throw new IllegalArgumentException("task '" + NAME + "' encodes its own examples, got " + example.getClass());
        }
        return e;
    }

    /** @return labels shifted one place right behind {@code start}, the last label dropped */
    static long[] shiftRight(long[] labels, long start) {
        long[] out = new long[labels.length];
        if (out.length > 0) {
            out[0] = start;
            System.arraycopy(labels, 0, out, 1, labels.length - 1);
        }
        return out;
    }

    /** @return the decoder start id: the option, else the tokenizer's pad id */
    long decoderStart(TextTokenizer tokenizer) {
        return decoderStart != null ? decoderStart : tokenizer.padTokenId();
    }

    /**
     * @return one feature: {@code input_ids}, {@code attention_mask}, and with a target {@code
     *     decoder_input_ids} and {@code labels}; its context is the example
     */
    @Override
    public List<Features> encode(Example example, int exampleIndex, TextTokenizer tokenizer, int maxLength) {
        Seq2SeqExample e = cast(example);
        Encoding enc = tokenizer.encode(prefix + e.source(), null, maxLength);
        Map<String, long[]> fields = new LinkedHashMap<>();
        long[] ids = enc.ids();
        fields.put(INPUT_IDS, ids);
        long[] mask = new long[ids.length];
        Arrays.fill(mask, 1);
        fields.put(ATTENTION_MASK, mask);
        if (e.target() != null) {
            long[] labels = tokenizer.encode(e.target(), null, maxTargetLength > 0 ? maxTargetLength : maxLength).ids();
            if (labels.length == 0) {
                throw new InvalidDataException(e.location() + ": the target tokenises to nothing; give a target text");
            }
            fields.put(DECODER_INPUT_IDS, shiftRight(labels, decoderStart(tokenizer)));
            fields.put(LABELS, labels);
        }
        return List.of(new Features(exampleIndex, fields, e));
    }

    @Override
    public Map<String, Long> padding(TextTokenizer tokenizer) {
        Map<String, Long> m = new LinkedHashMap<>();
        m.put(INPUT_IDS, tokenizer.padTokenId());
        m.put(ATTENTION_MASK, 0L);
        m.put(DECODER_INPUT_IDS, tokenizer.padTokenId());
        m.put(LABELS, IGNORE_INDEX);
        return m;
    }

    /** @return {@code labels} [B, T], INT64, absent at inference */
    @Override
    public List<InputSpec> labelInputs() {
        return List.of(new InputSpec(LABELS, DType.INT64, 2, true));
    }

    /**
     * Mean cross-entropy of {@code logits} [B, T, V] against {@code labels} [B, T] over the labels that
     * are not -100 (written for any vocabulary size, which the task does not know).
     */
    @Override
    public Tensor loss(Ops ops, Map<String, Tensor> outputs, Map<String, Tensor> inputs) {
        Tensor logits = outputs.get(LOGITS);
        if (logits == null) {
            throw new IllegalArgumentException("the head's outputs have no 'logits'; they are " + outputs.keySet());
        }
        Tensor gold = inputs.get(LABELS);
        if (gold == null) {
            throw new IllegalArgumentException("the inputs have no 'labels'; the loss needs targets");
        }
        Tensor logp = ops.logSoftmax(logits, -1);
        Tensor valid = ops.notEqual(gold, IGNORE_INDEX);
        Tensor safe = ops.where(valid, gold, ops.cast(ops.scalar(0f), DType.INT64));
        Tensor picked = ops.reshape(ops.gather(logp, 2, ops.unsqueeze(safe, 2)), -1);
        Tensor weight = ops.reshape(ops.cast(valid, DType.FLOAT32), -1);
        return ops.neg(ops.div(ops.sumAll(ops.mul(picked, weight)), ops.sumAll(weight)));
    }

    @Override
    public Evaluator evaluator(Dataset data) {
        return new Seq2SeqEvaluator(this);
    }

    /** @return {@code bleu} (corpus BLEU of the generated targets) */
    @Override
    public String primaryMetric() {
        return "bleu";
    }

    /** @return true: a higher BLEU is better */
    @Override
    public boolean greaterIsBetter() {
        return true;
    }

    /**
     * Not available from one forward pass: a seq2seq output is generated token by token. Use {@link
     * #generate} (the {@code attune generate} command does).
     *
     * @throws UnsupportedOperationException always
     */
    @Override
    public Prediction decode(Example example, List<Features> features, List<Map<String, float[]>> outputs) {
        throw new UnsupportedOperationException("task '" + NAME + "' predicts by generation, which one forward pass"
                + " cannot do; use Seq2SeqTask.generate or the 'attune generate' command");
    }

    /**
     * @param config an encoder-decoder model's config
     * @return generation settings for it: {@code max_new_tokens} and the model's {@code eos_token_id}
     */
    public GenerationConfig generationConfig(ModelConfig config) {
        return GenerationConfig.builder().maxNewTokens(maxNewTokens).eosTokenIds(eosTokenIds(config)).build();
    }

    /** @return {@code eos_token_id} of a config, a number or a list; empty when absent */
    static List<Long> eosTokenIds(ModelConfig config) {
        List<Long> ids = new ArrayList<>();
        config.raw("eos_token_id").ifPresent(n -> {
            if (n.isArray()) {
                n.forEach(x -> ids.add(x.asLong()));
            } else {
                ids.add(n.asLong());
            }
        });
        return ids;
    }

    /**
     * Generates the output for one source with this task's settings (prefix, beams, max new tokens).
     *
     * @param generator decodes with an encoder-decoder model
     * @param config that model's config
     * @param tokenizer its tokenizer
     * @param sourceText the source (without prefix)
     * @param maxLength maximum source tokens
     * @return the generated text and ids
     */
    public Seq2SeqPrediction generate(TextGenerator generator, ModelConfig config, TextTokenizer tokenizer,
            String sourceText, int maxLength) {
        long[] ids = tokenizer.encode(prefix + sourceText, null, maxLength).ids();
        return generateIds(generator, tokenizer, ids, generationConfig(config));
    }

    Seq2SeqPrediction generateIds(TextGenerator generator, TextTokenizer tokenizer, long[] sourceIds,
            GenerationConfig config) {
        long[] out = beams.numBeams() > 1
                ? generator.beamSearch(sourceIds, config, beams)
                : generator.generate(sourceIds, config);
        return new Seq2SeqPrediction(tokenizer.decode(out, true), out);
    }
}
