package dev.attune.cli;

import dev.attune.Attune;
import dev.attune.core.generate.Generator;
import dev.attune.engine.LoweredModel;
import dev.attune.error.InvalidDataException;
import dev.attune.generate.GenerationConfig;
import dev.attune.model.HeadSpec.HeadKind;
import dev.attune.model.FineTunedModel;
import dev.attune.model.HeadSpec;
import dev.attune.model.PretrainedModel;
import dev.attune.model.TextTokenizer.ChatEncoding;
import dev.attune.model.TextTokenizer.ChatMessage;
import dev.attune.model.TextTokenizer;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code attune chat}: an interactive chat in the terminal with a causal LM that has a chat template
 * (Llama, Qwen, Mistral instruct folders, or any model with {@code --chat-template}). Each turn the
 * conversation is rendered with the template and its generation prompt, the reply is streamed as it
 * is generated (with the key/value cache) and kept in the history; the oldest turns are dropped when
 * the conversation no longer fits the model's positions. With {@code --adapter} the replies come
 * from the model with a PEFT LoRA adapter (as {@code attune.open(base, adapter).generator()}), rendered
 * with the adapter folder's template when it saved one. {@code /reset} forgets the history, {@code
 * /system TEXT} sets the system message (and resets), {@code /quit} or end of input ends.
 */
@Command(name = "chat", mixinStandardHelpOptions = true,
        description = "Chat with a causal LM in the terminal through its chat template: replies stream as they are"
                + " generated; /reset forgets the history, /system TEXT sets the system message, /quit ends.")
final class ChatCommand implements Callable<Integer> {
    @Option(names = "--model", required = true, description = "a HuggingFace folder of a causal LM with a chat template")
    Path model;

    @Option(names = "--chat-template", description = "a Jinja chat template file to use instead of the model's")
    Path chatTemplate;

    @Option(names = "--adapter", paramLabel = "FOLDER", description = "a PEFT LoRA adapter folder over --model (made by"
            + " fine-tune --use-peft or Python's PEFT); replies come from the model with the adapter")
    Path adapter;

    @Option(names = "--system", description = "system message to start with")
    String system;

    @Option(names = "--greedy", description = "pick the most likely token each step (default: the folder's"
            + " generation_config.json, else sampling with temperature 0.7, top-p 0.9)")
    boolean greedy;

    @Option(names = "--temperature") Double temperature;
    @Option(names = "--top-k") Integer topK;
    @Option(names = "--top-p") Double topP;
    @Option(names = "--repetition-penalty") Double repetitionPenalty;
    @Option(names = "--seed") Long seed;

    @Option(names = "--max-new-tokens", defaultValue = "256", description = "longest reply, in tokens")
    int maxNewTokens;

    @Mixin
    EngineOptionsMixin engineOptions;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws IOException {
        PrintWriter out = spec.commandLine().getOut();
        GenerationConfig config = settings();
        try (Attune attune = engineOptions.builder().build();
                PretrainedModel base = attune.load(model);
                FineTunedModel adapted = adapter == null ? null : PeftOptionsMixin.open(attune, base, adapter,
                        attune.task("causal-lm", Map.of()), positions(base));
                TextTokenizer tokenizer = tokenizer(base, adapted);
                LoweredModel lm = adapted != null ? null : attune.lower(base, new HeadSpec(HeadKind.CAUSAL_LM, 0))) {
            if (!tokenizer.hasChatTemplate()) {
                throw new InvalidDataException(model + " has no chat template (no chat_template.jinja, no 'chat_template'"
                        + " in tokenizer_config.json); pass one with --chat-template FILE");
            }
            int positions = positions(base);
            Generator generator = new Generator(adapted != null ? adapted.lowered() : lm);
            List<ChatMessage> history = new ArrayList<>();
            String systemMessage = system;
            BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
            out.println("Chat with " + model + " (/reset, /system TEXT, /quit)");
            while (true) {
                out.print("user> ");
                out.flush();
                String line = in.readLine();
                if (line == null || line.strip().equals("/quit")) {
                    out.println();
                    out.flush();
                    return 0;
                }
                String text = line.strip();
                if (text.isEmpty()) {
                    continue;
                }
                if (text.equals("/reset")) {
                    history.clear();
                    out.println("(history cleared)");
                    continue;
                }
                if (text.startsWith("/system")) {
                    systemMessage = text.substring("/system".length()).strip();
                    history.clear();
                    out.println(systemMessage.isEmpty() ? "(system message removed; history cleared)"
                            : "(system message set; history cleared)");
                    continue;
                }
                history.add(new ChatMessage("user", text));
                long[] prompt = prompt(tokenizer, systemMessage, history, positions - config.maxNewTokens());
                out.print("assistant> ");
                out.flush();
                StringBuilder shown = new StringBuilder();
                List<Long> generated = new ArrayList<>();
                long[] all = generator.generate(prompt, config, (step, logits, token) -> {
                    GracefulStop.checkInterrupted();
                    if (config.eosTokenIds().contains(token)) {
                        return;
                    }
                    generated.add(token);
                    String now = tokenizer.decode(generated.stream().mapToLong(Long::longValue).toArray(), true);
                    // print what is new; a token that ends inside a multi-byte character waits for the next
                    if (now.length() > shown.length() && now.startsWith(shown.toString()) && !now.endsWith("\uFFFD")) {
                        out.print(now.substring(shown.length()));
                        out.flush();
                        shown.setLength(0);
                        shown.append(now);
                    }
                });
                long[] reply = Arrays.copyOfRange(all, prompt.length, all.length);
                String answer = tokenizer.decode(reply, true);
                if (answer.length() > shown.length() && answer.startsWith(shown.toString())) {
                    out.print(answer.substring(shown.length()));
                }
                out.println();
                out.flush();
                history.add(new ChatMessage("assistant", answer.strip()));
            }
        }
    }

    /** The conversation rendered with its generation prompt, the oldest exchanges dropped until it fits. */
    static long[] prompt(TextTokenizer tokenizer, String system, List<ChatMessage> history, int budget) {
        while (true) {
            List<ChatMessage> messages = new ArrayList<>();
            if (system != null && !system.isBlank()) {
                messages.add(new ChatMessage("system", system));
            }
            messages.addAll(history);
            ChatEncoding e = tokenizer.applyChatTemplate(messages, true, false); // a prompt needs no mask
            if (e.ids().length <= budget || history.size() <= 1) {
                if (e.ids().length > budget) {
                    throw new InvalidDataException("the message is " + e.ids().length + " tokens with the template, more"
                            + " than the " + budget + " the model has room for besides the reply; shorten it or lower"
                            + " --max-new-tokens");
                }
                return e.ids();
            }
            history.subList(0, Math.min(2, history.size() - 1)).clear(); // the oldest user turn and its reply
        }
    }

    private static int positions(PretrainedModel base) {
        return base.config().getInt("max_position_embeddings", base.config().getInt("n_positions", 2048));
    }

    /**
     * The tokenizer the chat renders with: {@code --chat-template}'s template, else the adapter folder's
     * tokenizer (an adapter trained by Attune saves the template it was trained with), else the model's.
     */
    private TextTokenizer tokenizer(PretrainedModel base, FineTunedModel adapted) throws IOException {
        TextTokenizer own = adapted != null && adapted.tokenizer().hasChatTemplate() ? adapted.tokenizer() : base.tokenizer();
        return chatTemplate == null ? own.copy() : own.withChatTemplate(readTemplate());
    }

    private String readTemplate() throws IOException {
        if (!Files.isRegularFile(chatTemplate)) {
            throw new InvalidDataException(chatTemplate + ": no such chat template file");
        }
        return Files.readString(chatTemplate, StandardCharsets.UTF_8);
    }

    /** The folder's generation defaults (end tokens of config.json and generation_config.json) and the options. */
    GenerationConfig settings() {
        boolean sampling = temperature != null || topK != null || topP != null || seed != null;
        if (greedy && sampling) {
            throw new CommandLine.ParameterException(spec.commandLine(),
                    "--greedy cannot be combined with --temperature, --top-k, --top-p or --seed");
        }
        GenerationConfig.Builder b = GenerationConfig.fromFolder(model).maxNewTokens(maxNewTokens);
        if (greedy) {
            b.doSample(false);
        } else if (sampling || !Files.isRegularFile(model.resolve(GenerationConfig.FILE_NAME))) {
            b.doSample(true).temperature(temperature != null ? temperature : 0.7).topP(topP != null ? topP : 0.9);
        }
        if (topK != null) {
            b.topK(topK);
        }
        if (seed != null) {
            b.seed(seed);
        }
        if (repetitionPenalty != null) {
            b.repetitionPenalty(repetitionPenalty);
        }
        try {
            return b.build();
        } catch (IllegalArgumentException e) {
            throw new CommandLine.ParameterException(spec.commandLine(), e.getMessage());
        }
    }
}
