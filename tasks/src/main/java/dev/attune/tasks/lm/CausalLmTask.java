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
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * Causal language modelling for chatbots and text generation: task {@value #NAME}, on a {@code
 * *LMHeadModel} / {@code *ForCausalLM} head (GPT-2).
 *
 * <p>Input ({@code input} option):
 *
 * <ul>
 *   <li>{@code dialogue} (default for {@code .jsonl} files): one dialogue per line, {@code
 *       {"turns": [{"speaker": "USER", "text": "..."}, {"speaker": "SYSTEM", "text": "..."}]}}. A
 *       dialogue is rendered one line per turn, {@code SPEAKER: text} followed by a newline, and the
 *       end-of-text token ({@code eos_token}) after the last line: the template of the HuggingFace
 *       reference fine-tune. The responses are the turns of {@code response_speaker}: the
 *       characters after {@code SPEAKER:} up to and including the line's newline;
 *   <li>{@code text} (default for {@code .txt} files, and whenever {@code text_column} is given):
 *       one document per line of a {@code .txt} file, or the {@code text_column} of a TSV, CSV or
 *       JSON Lines file, each followed by the end-of-text token.
 * </ul>
 *
 * <p>Loss ({@code loss_on}): {@code response} (default) trains on the response tokens only, every
 * other position's label being -100; {@code all} trains on every token, as HuggingFace's {@code
 * DataCollatorForLanguageModeling(mlm=False)} does. Plain text has no responses and always trains
 * on all tokens. Texts longer than the maximum length are truncated.
 *
 * <p>Metrics: {@code perplexity} over every next-token prediction of the evaluation texts and, for
 * dialogues, {@code response_perplexity} over the response tokens alone (both the exponential of
 * the mean negative log-likelihood per token; lower is better), with the token counts. Both are
 * computed whatever {@code loss_on} says.
 *
 * <p>Model inputs: {@code input_ids}, {@code attention_mask}, {@code next_ids} (each position's
 * next token) and {@code labels} (already shifted: the token each position must predict, or -100).
 * The task reduces the head's vocabulary logits to one negative log-likelihood per position ({@code
 * token_nll}) on the engine. The fine-tuned model saves as a plain {@code GPT2LMHeadModel} folder
 * that {@code attune generate} and the chat sample load. Immutable.
 */
public final class CausalLmTask implements Task {
    /** The task's name. */
    public static final String NAME = "causal-lm";

    static final String INPUT = "input";
    static final String RESPONSE_SPEAKER = "response_speaker";
    static final String LOSS_ON = "loss_on";
    static final String EOS_TOKEN = "eos_token";

    static final String INPUT_IDS = "input_ids";
    static final String ATTENTION_MASK = "attention_mask";
    static final String NEXT_IDS = "next_ids";
    static final String LABELS = "labels";

    /** How a data file is read. */
    enum Input { DIALOGUE, TEXT }

    private final TaskOptions options;
    private final Input input;
    private final String format;
    private final Column textColumn;
    private final String responseSpeaker;
    private final boolean lossOnAll;
    private final String eosToken;
    private final int limit;
    private final BadRowPolicy policy;

    /**
     * @param options the task options
     * @throws ConfigurationException on an unknown or invalid option
     */
    public CausalLmTask(TaskOptions options) {
        this.options = Objects.requireNonNull(options, "options");
        options.requireOnly(Set.of(INPUT, LmText.FORMAT, LmText.TEXT_COLUMN, RESPONSE_SPEAKER, LOSS_ON, EOS_TOKEN,
                LmText.LIMIT, BadRowPolicy.OPTION), NAME);
        String in = options.values().get(INPUT);
        if (in == null) {
            this.input = null;
        } else {
            this.input = switch (in.strip().toLowerCase(Locale.ROOT)) {
                case "dialogue" -> Input.DIALOGUE;
                case "text" -> Input.TEXT;
                default -> throw new ConfigurationException(
                        "option " + INPUT + "=" + in + " is not known; use " + INPUT + "=dialogue or " + INPUT + "=text");
            };
        }
        this.format = options.values().get(LmText.FORMAT);
        String column = options.values().get(LmText.TEXT_COLUMN);
        if (column != null && column.isBlank()) {
            throw new ConfigurationException("option " + LmText.TEXT_COLUMN + " is empty; name the text column");
        }
        this.textColumn = column == null ? null : new Column(column.strip(), LmText.TEXT_COLUMN);
        String speaker = options.get(RESPONSE_SPEAKER, "SYSTEM");
        if (speaker.isBlank()) {
            throw new ConfigurationException("option " + RESPONSE_SPEAKER + " is empty; name the speaker whose turns"
                    + " the model learns (SYSTEM)");
        }
        this.responseSpeaker = speaker.strip();
        String loss = options.get(LOSS_ON, "response").strip().toLowerCase(Locale.ROOT);
        if (!loss.equals("response") && !loss.equals("all")) {
            throw new ConfigurationException("option " + LOSS_ON + "=" + options.values().get(LOSS_ON)
                    + " is not known; use " + LOSS_ON + "=response (replies only) or " + LOSS_ON + "=all");
        }
        this.lossOnAll = loss.equals("all");
        this.eosToken = options.get(EOS_TOKEN, "<|endoftext|>");
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

    /**
     * @throws InvalidDataException when the loss is on responses and no dialogue of {@code data}
     *     has a turn by the response speaker
     */
    @Override
    public void validate(Dataset data) {
        if (lossOnAll) {
            return;
        }
        boolean dialogues = false;
        for (Example e : data.examples()) {
            LmExample x = cast(e);
            if (!x.responses().isEmpty()) {
                return;
            }
            dialogues |= x.dialogue();
        }
        if (dialogues) {
            throw new InvalidDataException(data.source() + ": no dialogue has a turn by '" + responseSpeaker
                    + "', so there is nothing to learn with " + LOSS_ON + "=response. Set " + RESPONSE_SPEAKER
                    + " to the speaker the model should imitate, or " + LOSS_ON + "=all");
        }
    }

    @Override
    public HeadSpec head() {
        return new HeadSpec(HeadKind.CAUSAL_LM, 0);
    }

    /**
     * @throws InvalidDataException naming the file and line of a malformed dialogue or text row
     */
    @Override
    public Dataset read(Path file) {
        Input mode = input != null ? input : defaultInput(file);
        List<LmExample> examples;
        if (mode == Input.DIALOGUE) {
            examples = LmText.readDialogues(file, policy, limit, this::render);
        } else {
            Column column = textColumn != null ? textColumn : new Column("text", LmText.TEXT_COLUMN);
            examples = LmText.map(LmText.readTexts(file, format, column, policy, limit),
                    t -> new LmExample(t.text() + eosToken, List.of(), false, t.location()));
        }
        return new Dataset(file.toString(), examples, 0);
    }

    private Input defaultInput(Path file) {
        if (textColumn != null || LmText.isPlainText(file, format)) {
            return Input.TEXT;
        }
        Path name = file.getFileName();
        String s = name == null ? "" : name.toString().toLowerCase(Locale.ROOT);
        boolean jsonl = format != null ? format.strip().equalsIgnoreCase("jsonl") : s.endsWith(".jsonl");
        return jsonl ? Input.DIALOGUE : Input.TEXT;
    }

    /**
     * Renders a dialogue through the template: {@code SPEAKER: text\n} per turn, then the
     * end-of-text token.
     *
     * @param turns the turns
     * @param location where the dialogue came from
     * @return the example, with the spans of the response speaker's turns
     */
    LmExample render(List<LmText.Dialogue.Turn> turns, String location) {
        StringBuilder text = new StringBuilder();
        List<LmExample.Span> responses = new ArrayList<>();
        for (LmText.Dialogue.Turn t : turns) {
            String speaker = t.speaker().strip();
            text.append(speaker).append(':');
            int start = text.length();
            text.append(' ').append(t.text().strip()).append('\n');
            if (speaker.equalsIgnoreCase(responseSpeaker)) {
                responses.add(new LmExample.Span(start, text.length()));
            }
        }
        text.append(eosToken);
        return new LmExample(text.toString(), responses, true, location);
    }

    /**
     * Accepts {@code {"text": ...}}: a text to score.
     *
     * @throws InvalidDataException when the text is missing or blank, or another field is given
     */
    @Override
    public Example parseInput(Map<String, String> fields) {
        String text = fields.get("text");
        if (text == null || text.isBlank() || fields.size() != 1) {
            throw new InvalidDataException("task '" + NAME + "' scores one text given as {\"text\": ...}; got fields "
                    + fields.keySet() + " (to continue a prompt, use attune generate)");
        }
        return new LmExample(text, List.of(), false, "input");
    }

    /**
     * Tokenises the text (truncated to {@code maxLength}) and derives, per position, the next token
     * and the label: the next token where it counts for the loss, else -100. The features' context
     * is a {@code boolean[]} marking response tokens.
     *
     * @throws ConfigurationException when the text ends with an end-of-text token the tokenizer
     *     does not know
     */
    @Override
    public List<Features> encode(Example example, int exampleIndex, TextTokenizer tokenizer, int maxLength) {
        LmExample e = cast(example);
        if (!eosToken.isEmpty() && e.text().endsWith(eosToken) && tokenizer.tokenToId(eosToken) < 0) {
            throw new ConfigurationException("the tokenizer has no token '" + eosToken + "' (option " + EOS_TOKEN
                    + "); set " + EOS_TOKEN + " to the model's end-of-text token, or " + EOS_TOKEN + "= for none");
        }
        Encoding enc = tokenizer.encode(e.text(), null, maxLength);
        long[] ids = enc.ids();
        int n = ids.length;
        boolean[] response = new boolean[n];
        int[] starts = enc.charStarts();
        int[] ends = enc.charEnds();
        int span = 0;
        List<LmExample.Span> spans = e.responses();
        for (int i = 0; i < n && !spans.isEmpty(); i++) {
            if (starts == null || starts[i] < 0) {
                continue;
            }
            while (span < spans.size() && spans.get(span).end() <= starts[i]) {
                span++;
            }
            response[i] = span < spans.size() && spans.get(span).contains(starts[i], ends[i]);
        }
        long[] next = new long[n];
        long[] labels = new long[n];
        Arrays.fill(labels, TokenScores.IGNORE_INDEX);
        boolean all = lossOnAll || spans.isEmpty();
        for (int i = 0; i + 1 < n; i++) {
            next[i] = ids[i + 1];
            if (all || response[i + 1]) {
                labels[i] = ids[i + 1];
            }
        }
        long[] mask = new long[n];
        Arrays.fill(mask, 1);
        Map<String, long[]> fields = new LinkedHashMap<>();
        fields.put(INPUT_IDS, ids);
        fields.put(ATTENTION_MASK, mask);
        fields.put(NEXT_IDS, next);
        fields.put(LABELS, labels);
        return List.of(new Features(exampleIndex, fields, response));
    }

    /** @return {@code input_ids} padded with the pad id (0 when there is none), the rest with 0 or -100 */
    @Override
    public Map<String, Long> padding(TextTokenizer tokenizer) {
        Map<String, Long> m = new LinkedHashMap<>();
        m.put(INPUT_IDS, Math.max(0, tokenizer.padTokenId()));
        m.put(ATTENTION_MASK, 0L);
        m.put(NEXT_IDS, 0L);
        m.put(LABELS, TokenScores.IGNORE_INDEX);
        return m;
    }

    /** @return {@code labels} and {@code next_ids}, INT64 [B, T] */
    @Override
    public List<InputSpec> labelInputs() {
        return List.of(new InputSpec(LABELS, DType.INT64, 2, true), new InputSpec(NEXT_IDS, DType.INT64, 2, true));
    }

    /** @return {@code token_nll} [B, T]: each position's negative log-likelihood of its next token */
    @Override
    public Map<String, Tensor> outputs(Ops ops, Map<String, Tensor> headOutputs, Map<String, Tensor> inputs) {
        Tensor next = inputs.get(NEXT_IDS);
        if (next == null) {
            return headOutputs;
        }
        Tensor logits = headOutputs.get("logits");
        if (logits == null) {
            throw new IllegalArgumentException("the head's outputs have no 'logits'; they are " + headOutputs.keySet());
        }
        Map<String, Tensor> out = new LinkedHashMap<>();
        out.put(TokenScores.TOKEN_NLL, TokenScores.nll(ops, logits, next));
        // the [B, T, V] logits are not an output of this task: with a large vocabulary (Qwen's 151,936
        // tokens: 620 MB at batch 4 x 256) an eager engine would otherwise hold them beside the log-softmax
        // until the forward pass ends (the log-softmax's backward needs only its own output)
        ops.release(logits);
        return out;
    }

    @Override
    public List<String> outputNames(List<String> headOutputs) {
        return List.of(TokenScores.TOKEN_NLL);
    }

    /** @return mean negative log-likelihood over the positions whose label is not -100 */
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

    /** @return perplexity over all tokens and over response tokens */
    @Override
    public Evaluator evaluator(Dataset data) {
        return new PerplexityEvaluator();
    }

    /** @return the text's perplexity and token count */
    @Override
    public Prediction decode(Example example, List<Features> features, List<Map<String, float[]>> outputs) {
        PerplexityEvaluator ev = new PerplexityEvaluator();
        for (int i = 0; i < features.size(); i++) {
            ev.accept(features.get(i), withTokenNll(features.get(i), outputs.get(i)));
        }
        Map<String, Double> m = ev.metrics();
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("perplexity", m.get(PerplexityEvaluator.PERPLEXITY));
        out.put("tokens", m.get(PerplexityEvaluator.TOKENS).longValue());
        return () -> out;
    }

    /**
     * A model that does not run this task's reduction (an ONNX language model served as stored)
     * returns the head's {@code logits} of one unpadded input, [T, V]: the per-token losses are
     * computed from them here, in double precision.
     *
     * @return the outputs, with {@code token_nll} where only {@code logits} came
     */
    static Map<String, float[]> withTokenNll(Features f, Map<String, float[]> outputs) {
        float[] logits = outputs.get("logits");
        long[] next = f.fields().get(NEXT_IDS);
        int n = f.length();
        if (outputs.containsKey(TokenScores.TOKEN_NLL) || logits == null || next == null || n == 0
                || logits.length % n != 0) {
            return outputs;
        }
        int v = logits.length / n;
        float[] nll = new float[n];
        for (int t = 0; t < n; t++) {
            double max = Double.NEGATIVE_INFINITY;
            for (int j = 0; j < v; j++) {
                max = Math.max(max, logits[t * v + j]);
            }
            double sum = 0;
            for (int j = 0; j < v; j++) {
                sum += Math.exp(logits[t * v + j] - max);
            }
            int target = (int) Math.max(0, Math.min(v - 1, next[t]));
            nll[t] = (float) (max + Math.log(sum) - logits[t * v + target]);
        }
        Map<String, float[]> out = new LinkedHashMap<>(outputs);
        out.put(TokenScores.TOKEN_NLL, nll);
        return out;
    }

    /** @return {@code perplexity} (lower is better) */
    @Override
    public String primaryMetric() {
        return PerplexityEvaluator.PERPLEXITY;
    }

    @Override
    public boolean greaterIsBetter() {
        return false;
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
