package dev.attune.samples;

import dev.attune.Attune;
import dev.attune.engine.LoweredModel;
import dev.attune.generate.GenerationConfig;
import dev.attune.core.generate.Generator;
import dev.attune.model.HeadSpec.HeadKind;
import dev.attune.model.HeadSpec;
import dev.attune.model.PretrainedModel;
import dev.attune.model.TextTokenizer;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;

/**
 * An interactive chat on a GPT-2 checkpoint: keeps the dialogue, renders it through a plain prompt
 * template ({@code USER: ...} / {@code SYSTEM: ...}, one line each: the template the {@code causal-lm}
 * task fine-tunes on) and lets the model write the next {@code SYSTEM:} line, stopping at a newline or the end-of-sequence token. The oldest turns are
 * dropped when the dialogue no longer fits the model's positions. Run from the project root with
 * {@code java -cp "samples/target/classes:samples/target/lib/*" dev.attune.samples.Chat [model folder]};
 * an empty line or end of input quits, and so does Ctrl-C (a reply being written stops at its next
 * token first: the JVM must not exit while libtorch is running).
 */
public final class Chat {
    private static final int MAX_REPLY_TOKENS = 48;
    /** Held while the model runs; Ctrl-C's shutdown hook takes it and keeps it until the JVM ends. */
    private static final ReentrantLock MODEL_IN_USE = new ReentrantLock();
    private static volatile boolean quitting;
    /** Set when the person ended the chat (empty line or end of input): the exit hook has nothing to do. */
    private static volatile boolean ended;

    private Chat() {}

    /** One exchange of the dialogue. */
    private record Turn(String user, String system) {}

    /**
     * @param args optional: a HuggingFace GPT-2 folder
     * @throws IOException when standard input fails
     */
    public static void main(String[] args) throws IOException {
        Path folder = Path.of(args.length > 0 ? args[0] : "../shared/models/gpt-small-bpe-clm");
        Runtime.getRuntime().addShutdownHook(new Thread(Chat::onExit, "chat-exit"));
        try (Attune attune = Attune.create();
                PretrainedModel base = attune.load(folder);
                LoweredModel model = attune.lower(base, new HeadSpec(HeadKind.CAUSAL_LM, 0))) {
            TextTokenizer tokenizer = base.tokenizer();
            int positions = base.config().getInt("n_positions", 1024);
            GenerationConfig defaults = GenerationConfig.fromFolder(folder).build();
            List<Long> stops = new ArrayList<>(defaults.eosTokenIds());
            stops.addAll(newlineTokens(tokenizer));
            GenerationConfig config = defaults.toBuilder()
                    .doSample(true).temperature(0.8).topK(40).topP(0.95).repetitionPenalty(1.2)
                    .maxNewTokens(MAX_REPLY_TOKENS).eosTokenIds(stops).seed(System.nanoTime())
                    .build();
            Generator generator = new Generator(model);
            List<Turn> history = new ArrayList<>();
            BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
            System.out.println("Chat with " + folder + " (empty line quits)");
            while (true) {
                System.out.print("User: ");
                System.out.flush();
                String line = in.readLine();
                if (line == null || line.isBlank()) {
                    if (line == null) {
                        System.out.println(); // end of input left the cursor after the prompt
                    }
                    ended = true;
                    return;
                }
                long[] prompt = promptIds(tokenizer, history, line.strip(), positions - MAX_REPLY_TOKENS);
                long[] all;
                MODEL_IN_USE.lock();
                try {
                    all = generator.generate(prompt, config, (step, logits, token) -> {
                        if (quitting) {
                            throw new CancellationException("Ctrl-C");
                        }
                    });
                } catch (CancellationException e) {
                    continue; // the exit hook now holds the lock: the next turn never starts
                } finally {
                    MODEL_IN_USE.unlock();
                }
                String reply = tokenizer.decode(Arrays.copyOfRange(all, prompt.length, all.length), true);
                int newline = reply.indexOf('\n');
                reply = (newline >= 0 ? reply.substring(0, newline) : reply).strip();
                System.out.println("System: " + reply);
                history.add(new Turn(line.strip(), reply));
            }
        }
    }

    /** Ctrl-C: lets a reply in progress stop at its next token, then keeps the model from running again. */
    private static void onExit() {
        if (ended) {
            return;
        }
        quitting = true;
        try {
            MODEL_IN_USE.tryLock(60, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        System.out.println();
    }

    /** Renders the dialogue and the new message, dropping the oldest turns until it fits. */
    private static long[] promptIds(TextTokenizer tokenizer, List<Turn> history, String message, int budget) {
        for (int first = 0; ; first++) {
            StringBuilder text = new StringBuilder();
            for (Turn t : history.subList(Math.min(first, history.size()), history.size())) {
                text.append("USER: ").append(t.user()).append("\nSYSTEM: ").append(t.system()).append('\n');
            }
            text.append("USER: ").append(message).append("\nSYSTEM:");
            long[] ids = tokenizer.encode(text.toString(), null, 1 << 20).ids();
            if (ids.length <= budget || first >= history.size()) {
                return ids.length <= budget ? ids : Arrays.copyOfRange(ids, ids.length - budget, ids.length);
            }
        }
    }

    /** @return every token whose text contains a line break, so that a reply ends at its line */
    private static List<Long> newlineTokens(TextTokenizer tokenizer) {
        List<Long> out = new ArrayList<>();
        for (long id = 0; id < tokenizer.vocabularySize(); id++) {
            if (tokenizer.decode(new long[] {id}, false).contains("\n")) {
                out.add(id);
            }
        }
        return out;
    }
}
