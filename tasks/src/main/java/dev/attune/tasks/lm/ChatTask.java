package dev.attune.tasks.lm;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.attune.error.ConfigurationException;
import dev.attune.error.InvalidDataException;
import dev.attune.model.HeadSpec;
import dev.attune.model.ModelDefinition.InputSpec;
import dev.attune.model.TextTokenizer;
import dev.attune.model.TextTokenizer.ChatEncoding;
import dev.attune.model.TextTokenizer.ChatMessage;
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
import java.io.BufferedReader;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Supervised fine-tuning of a chat model on conversations: task {@value #NAME}, on a causal LM
 * head of any family (Llama, Qwen, Mistral, GPT-2, ...), TRL's {@code SFTTrainer} data formats.
 *
 * <p>Input: JSON Lines, one example per line, either
 *
 * <ul>
 *   <li>conversational: {@code {"messages": [{"role": "system"|"user"|"assistant", "content": "..."}, ...]}};
 *   <li>prompt/completion: {@code {"prompt": ..., "completion": ...}}, each a string or a list of
 *       messages (TRL's conversational prompt/completion); a string pair is the conversation
 *       {@code [user: prompt, assistant: completion]};
 *   <li>with {@code input=dialogue}: {@code {"turns": [{"speaker": "USER"|"SYSTEM", "text": ...}]}}
 *       (the causal-lm task's dialogues), {@code USER} turns as user messages and every other
 *       speaker's as assistant messages.
 * </ul>
 *
 * Every conversation is rendered with the tokenizer's chat template ({@code chat_template.jinja},
 * {@code tokenizer_config.json}'s {@code chat_template}), or the Jinja file of the {@code
 * chat_template} option, and tokenised as {@code apply_chat_template} does.
 *
 * <p>Loss ({@code loss_on}): {@code assistant} (default) trains on the tokens of assistant replies
 * and the end-of-turn token after each (the template's assistant mask); {@code all} on every token
 * (and then a template that rewrites replies is fine, since no mask is needed).
 * Conversations longer than the maximum length are cut at it, and a warning counts them; one whose
 * cut leaves no assistant token to learn is an error naming its file and line.
 *
 * <p>Metrics: {@code response_perplexity} over assistant tokens (the primary metric), {@code
 * perplexity} over every next-token prediction, and the token counts. Model inputs and the saved
 * folder are those of {@link CausalLmTask}. Immutable.
 */
public final class ChatTask implements Task {
    /** The task's name. */
    public static final String NAME = "chat";

    static final String LOSS_ON = "loss_on";
    static final String PACKING = "packing";
    static final String INPUT = "input";
    static final String CHAT_TEMPLATE = "chat_template";

    private static final Logger LOG = LoggerFactory.getLogger(ChatTask.class);
    private static final ObjectMapper JSON = new ObjectMapper();

    private final TaskOptions options;
    private final boolean lossOnAll;
    private final boolean dialogues;
    private final int limit;
    private final BadRowPolicy policy;
    /** The causal LM task whose head, inputs, loss and metrics this task shares. */
    private final CausalLmTask lm;
    private final AtomicLong truncated = new AtomicLong();
    /** The Jinja source of the {@code chat_template} option, or null to use the tokenizer's. */
    private final String template;
    /** The last tokenizer seen and the same with {@link #template}; guarded by this. */
    private TextTokenizer lastBase;
    private TextTokenizer lastTemplated;

    /** A conversation read from a data file. */
    record ChatExample(List<ChatMessage> messages, String location) implements Example {
        ChatExample {
            messages = List.copyOf(messages);
        }
    }

    /**
     * @param options the task options ({@code loss_on}, {@code input}, {@code limit}, {@code on_bad_row})
     * @throws ConfigurationException on an unknown or invalid option
     */
    public ChatTask(TaskOptions options) {
        this.options = Objects.requireNonNull(options, "options");
        options.requireOnly(Set.of(LOSS_ON, PACKING, INPUT, CHAT_TEMPLATE, LmText.LIMIT, BadRowPolicy.OPTION), NAME);
        String templateFile = options.values().get(CHAT_TEMPLATE);
        if (templateFile == null) {
            this.template = null;
        } else {
            Path file = Path.of(templateFile.strip());
            if (!Files.isRegularFile(file)) {
                throw new ConfigurationException("option " + CHAT_TEMPLATE + "=" + templateFile + ": no such file; give a"
                        + " Jinja chat template file");
            }
            try {
                this.template = Files.readString(file, StandardCharsets.UTF_8);
            } catch (IOException e) {
                throw new ConfigurationException("option " + CHAT_TEMPLATE + "=" + templateFile + " cannot be read ("
                        + e.getMessage() + ")", e);
            }
        }
        String loss = options.get(LOSS_ON, "assistant").strip().toLowerCase(Locale.ROOT);
        if (!loss.equals("assistant") && !loss.equals("all") && !loss.equals("completion")) {
            throw new ConfigurationException("option " + LOSS_ON + "=" + options.values().get(LOSS_ON)
                    + " is not known; use " + LOSS_ON + "=assistant (replies only, the default) or " + LOSS_ON + "=all");
        }
        this.lossOnAll = loss.equals("all");
        String packing = options.get(PACKING, "false").strip().toLowerCase(Locale.ROOT);
        if (!packing.equals("false")) {
            throw new ConfigurationException("option " + PACKING + "=" + options.values().get(PACKING)
                    + " is not supported yet: packing needs attention kept within each conversation (a block-diagonal"
                    + " mask and positions restarting per conversation), which the model inputs do not carry; leave"
                    + " the option out (each conversation is its own sequence) and use --group-by-length to cut padding");
        }
        String in = options.get(INPUT, "messages").strip().toLowerCase(Locale.ROOT);
        if (!in.equals("messages") && !in.equals("dialogue")) {
            throw new ConfigurationException("option " + INPUT + "=" + options.values().get(INPUT)
                    + " is not known; use " + INPUT + "=messages (messages or prompt/completion lines, the default) or "
                    + INPUT + "=dialogue ({\"turns\": [{\"speaker\", \"text\"}]} lines)");
        }
        this.dialogues = in.equals("dialogue");
        this.limit = LmText.limit(options.values().get(LmText.LIMIT));
        this.policy = BadRowPolicy.parse(options.values().get(BadRowPolicy.OPTION));
        this.lm = new CausalLmTask(new TaskOptions(Map.of("loss_on", lossOnAll ? "all" : "response")));
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
        return lm.head();
    }

    /**
     * @throws InvalidDataException naming the file and line of a line that is not a conversation
     */
    @Override
    public Dataset read(Path file) {
        if (!Files.isRegularFile(file)) {
            throw new InvalidDataException(file + ": no such file; give a JSON Lines file of conversations");
        }
        List<ChatExample> examples = new ArrayList<>();
        int skipped = 0;
        try (BufferedReader r = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            String line;
            long n = 0;
            while ((line = r.readLine()) != null && examples.size() < limit) {
                n++;
                if (line.isBlank()) {
                    continue;
                }
                String where = file + ":" + n;
                try {
                    examples.add(new ChatExample(parse(line, where), where));
                } catch (InvalidDataException e) {
                    if (policy == BadRowPolicy.FAIL) {
                        throw e;
                    }
                    skipped++;
                    LOG.warn("skipped {}", e.getMessage());
                }
            }
        } catch (IOException e) {
            throw new InvalidDataException(file + ": cannot be read (" + e.getMessage() + ")", e);
        }
        if (examples.isEmpty()) {
            throw new InvalidDataException(file + ": no conversations; give one JSON object per line with \"messages\""
                    + " or \"prompt\" and \"completion\"");
        }
        return new Dataset(file.toString(), examples, skipped);
    }

    /** @return the conversation of one JSON line */
    List<ChatMessage> parse(String line, String where) {
        JsonNode node;
        try {
            node = JSON.readTree(line);
        } catch (IOException e) {
            throw new InvalidDataException(where + ": not valid JSON (" + e.getMessage() + ")");
        }
        if (node == null || !node.isObject()) {
            throw new InvalidDataException(where + ": expected a JSON object, one per line");
        }
        if (dialogues) {
            return fromDialogue(node, where);
        }
        if (node.has("messages")) {
            return messages(node.get("messages"), where, "messages");
        }
        if (node.has("prompt") && node.has("completion")) {
            JsonNode prompt = node.get("prompt");
            JsonNode completion = node.get("completion");
            if (prompt.isTextual() && completion.isTextual()) {
                return List.of(new ChatMessage("user", prompt.asText()), new ChatMessage("assistant", completion.asText()));
            }
            List<ChatMessage> all = new ArrayList<>(messages(prompt, where, "prompt"));
            all.addAll(messages(completion, where, "completion"));
            return all;
        }
        throw new InvalidDataException(where + ": expected \"messages\" (a list of {\"role\", \"content\"}) or"
                + " \"prompt\" and \"completion\"; found fields " + fieldNames(node));
    }

    private static List<String> fieldNames(JsonNode node) {
        List<String> names = new ArrayList<>();
        node.fieldNames().forEachRemaining(names::add);
        return names;
    }

    static List<ChatMessage> messages(JsonNode list, String where, String field) {
        if (list == null || !list.isArray() || list.isEmpty()) {
            throw new InvalidDataException(where + ": \"" + field + "\" must be a non-empty list of {\"role\", \"content\"}");
        }
        List<ChatMessage> out = new ArrayList<>();
        for (int i = 0; i < list.size(); i++) {
            JsonNode m = list.get(i);
            if (!m.path("role").isTextual()) {
                throw new InvalidDataException(where + ": message " + (i + 1) + " of \"" + field + "\" has no string \"role\"");
            }
            if (!m.path("content").isTextual()) {
                throw new InvalidDataException(where + ": message " + (i + 1) + " (" + m.get("role").asText() + ") of \""
                        + field + "\" has no string \"content\"; every message needs its text");
            }
            out.add(new ChatMessage(m.get("role").asText(), m.get("content").asText()));
        }
        return out;
    }

    private static List<ChatMessage> fromDialogue(JsonNode node, String where) {
        JsonNode turns = node.get("turns");
        if (turns == null || !turns.isArray() || turns.isEmpty()) {
            throw new InvalidDataException(where + ": \"turns\" must be a non-empty list of {\"speaker\", \"text\"}");
        }
        List<ChatMessage> out = new ArrayList<>();
        for (int i = 0; i < turns.size(); i++) {
            JsonNode t = turns.get(i);
            if (!t.path("speaker").isTextual() || !t.path("text").isTextual()) {
                throw new InvalidDataException(where + ": turn " + (i + 1) + " needs a string \"speaker\" and \"text\"");
            }
            String role = t.get("speaker").asText().strip().equalsIgnoreCase("USER") ? "user" : "assistant";
            out.add(new ChatMessage(role, t.get("text").asText()));
        }
        return out;
    }

    /**
     * @throws InvalidDataException when the loss is on assistant tokens and no conversation has an
     *     assistant message
     */
    @Override
    public void validate(Dataset data) {
        if (lossOnAll) {
            return;
        }
        for (Example e : data.examples()) {
            if (cast(e).messages().stream().anyMatch(m -> m.role().equals("assistant"))) {
                return;
            }
        }
        throw new InvalidDataException(data.source() + ": no conversation has an assistant message, so there is nothing"
                + " to learn with " + LOSS_ON + "=assistant; use " + LOSS_ON + "=all");
    }

    /**
     * Accepts {@code {"text": ...}} (scored as it is) or {@code {"messages": "[...]"}} (a JSON list,
     * rendered with the template).
     */
    @Override
    public Example parseInput(Map<String, String> fields) {
        String messages = fields.get("messages");
        if (messages != null) {
            return new ChatExample(parse("{\"messages\": " + messages + "}", "input"), "input");
        }
        return lm.parseInput(fields);
    }

    /**
     * Renders the conversation with the chat template, cuts it at {@code maxLength}, and labels
     * each position with its next token where that token counts for the loss (assistant tokens, or
     * all), else -100. The features' context marks the assistant tokens.
     *
     * @throws InvalidDataException naming the file and line when the tokenizer has no chat
     *     template, the template refuses the conversation, or the cut leaves no assistant token
     */
    @Override
    public List<Features> encode(Example example, int exampleIndex, TextTokenizer tokenizer, int maxLength) {
        if (!(example instanceof ChatExample c)) {
            return lm.encode(example, exampleIndex, tokenizer, maxLength);
        }
        ChatEncoding enc;
        try {
            enc = templated(tokenizer).applyChatTemplate(c.messages(), false, !lossOnAll);
        } catch (InvalidDataException e) {
            throw new InvalidDataException(c.location() + ": " + e.getMessage(), e);
        }
        long[] ids = enc.ids();
        long[] assistant = enc.assistantMask();
        if (ids.length > maxLength) {
            long count = truncated.incrementAndGet();
            if (count <= 3 || Long.bitCount(count) == 1) {
                LOG.warn("{}: {} tokens, cut at the maximum length {} ({} conversation{} cut so far)", c.location(),
                        ids.length, maxLength, count, count == 1 ? "" : "s");
            }
            ids = Arrays.copyOf(ids, maxLength);
            assistant = Arrays.copyOf(assistant, maxLength);
        }
        int n = ids.length;
        boolean[] response = new boolean[n];
        boolean anyAssistant = false;
        for (int i = 0; i < n; i++) {
            response[i] = assistant[i] != 0;
            anyAssistant |= response[i] && i > 0;
        }
        if (!lossOnAll && !anyAssistant && c.messages().stream().anyMatch(m -> m.role().equals("assistant"))) {
            throw new InvalidDataException(c.location() + ": no assistant token within the first " + maxLength
                    + " tokens, so nothing is left to learn; raise --max-length or shorten the earlier turns");
        }
        long[] next = new long[n];
        long[] labels = new long[n];
        Arrays.fill(labels, TokenScores.IGNORE_INDEX);
        for (int i = 0; i + 1 < n; i++) {
            next[i] = ids[i + 1];
            if (lossOnAll || response[i + 1]) {
                labels[i] = ids[i + 1];
            }
        }
        long[] mask = new long[n];
        Arrays.fill(mask, 1);
        Map<String, long[]> fields = new LinkedHashMap<>();
        fields.put(CausalLmTask.INPUT_IDS, ids);
        fields.put(CausalLmTask.ATTENTION_MASK, mask);
        fields.put(CausalLmTask.NEXT_IDS, next);
        fields.put(CausalLmTask.LABELS, labels);
        return List.of(new Features(exampleIndex, fields, response));
    }

    /** @return {@code base}, or a copy rendering the {@code chat_template} option's template */
    private synchronized TextTokenizer templated(TextTokenizer base) {
        if (template == null) {
            return base;
        }
        if (base != lastBase) {
            lastTemplated = base.withChatTemplate(template);
            lastBase = base;
        }
        return lastTemplated;
    }

    /**
     * @return with the {@code chat_template} option, a copy of {@code base} that renders (and saves,
     *     as {@code chat_template.jinja}) that template, so the fine-tuned folder chats as it trained;
     *     else a copy of {@code base}
     */
    @Override
    public TextTokenizer tokenizerFor(TextTokenizer base) {
        return template == null ? base.copy() : base.withChatTemplate(template);
    }

    /** @return how many conversations this task has cut at the maximum length so far */
    public long truncatedCount() {
        return truncated.get();
    }

    @Override
    public Map<String, Long> padding(TextTokenizer tokenizer) {
        return lm.padding(tokenizer);
    }

    @Override
    public List<InputSpec> labelInputs() {
        return lm.labelInputs();
    }

    @Override
    public Map<String, Tensor> outputs(Ops ops, Map<String, Tensor> headOutputs, Map<String, Tensor> inputs) {
        return lm.outputs(ops, headOutputs, inputs);
    }

    @Override
    public List<String> outputNames(List<String> headOutputs) {
        return lm.outputNames(headOutputs);
    }

    @Override
    public Tensor loss(Ops ops, Map<String, Tensor> outputs, Map<String, Tensor> inputs) {
        return lm.loss(ops, outputs, inputs);
    }

    @Override
    public Evaluator evaluator(Dataset data) {
        return lm.evaluator(data);
    }

    @Override
    public Prediction decode(Example example, List<Features> features, List<Map<String, float[]>> outputs) {
        return lm.decode(example, features, outputs);
    }

    /** @return {@code response_perplexity} (assistant tokens), or {@code perplexity} with {@code loss_on=all} */
    @Override
    public String primaryMetric() {
        return lossOnAll ? PerplexityEvaluator.PERPLEXITY : PerplexityEvaluator.RESPONSE_PERPLEXITY;
    }

    @Override
    public boolean greaterIsBetter() {
        return false;
    }

    private static ChatExample cast(Example e) {
        if (e instanceof ChatExample c) {
            return c;
        }
        throw new IllegalArgumentException("task '" + NAME + "' needs examples it read itself, got "
                + (e == null ? "null" : e.getClass().getName()));
    }

    @Override
    public String toString() {
        return NAME + options.values();
    }
}
