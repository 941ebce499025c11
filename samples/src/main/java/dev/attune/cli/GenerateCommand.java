package dev.attune.cli;

import dev.attune.Attune;
import dev.attune.PluginRegistry;
import dev.attune.model.ModelSource;
import dev.attune.engine.LoweredModel;
import dev.attune.generate.GenerationConfig;
import dev.attune.core.generate.Generator;
import dev.attune.core.generate.StopStrings;
import dev.attune.model.HeadSpec.HeadKind;
import dev.attune.model.HeadSpec;
import dev.attune.model.PretrainedModel;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code attune generate}: continues a prompt with a causal language model (a HuggingFace GPT-2
 * folder). Settings the command line leaves out come from the folder's {@code
 * generation_config.json}, else HuggingFace's defaults.
 */
@Command(name = "generate", mixinStandardHelpOptions = true,
        description = "Continue a prompt with a causal language model (GPT-2), or generate the output of an encoder-decoder model (T5) for it.")
final class GenerateCommand implements Callable<Integer> {
    @Option(names = "--model", required = true, description = "a HuggingFace GPT-2 or T5 folder, or an ONNX export of"
            + " a GPT-2 (run as stored on the onnx engine, its key/value cache included, unless --engine names another)")
    Path model;

    @Option(names = "--prompt", required = true, description = "text to continue")
    String prompt;

    @Option(names = "--greedy", description = "pick the most likely token each step (no sampling)")
    boolean greedy;

    @Option(names = "--temperature", description = "sample, dividing the logits by this")
    Double temperature;

    @Option(names = "--top-k", description = "sample among the K most likely tokens (0 = all)")
    Integer topK;

    @Option(names = "--top-p", description = "sample among the most likely tokens that make up probability P")
    Double topP;

    @Option(names = "--seed", description = "seed of the sampling random numbers")
    Long seed;

    @Option(names = "--repetition-penalty", description = "penalise tokens already in the text (1 = off)")
    Double repetitionPenalty;

    @Option(names = "--max-new-tokens", description = "tokens to generate at most (default: generation_config.json, else 20)")
    Integer maxNewTokens;

    @Option(names = "--print-ids", description = "also print the token ids (prompt and new) as a JSON array")
    boolean printIds;

    @Option(names = "--no-cache", description = "run the whole sequence every step instead of caching keys and values")
    boolean noCache;

    @Option(names = "--stop", paramLabel = "TEXT", description = "end the text before the first occurrence of TEXT"
            + " in the new text, and stop generating there (repeatable; \\n and \\t mean newline and tab, so --stop '\\n'"
            + " keeps one line)")
    List<String> stops = new ArrayList<>();

    @Option(names = "--num-beams", description = "beam search with this many beams (encoder-decoder models; 1 = off)")
    Integer numBeams;

    @Option(names = "--length-penalty", defaultValue = "1.0", description = "beam search length penalty exponent")
    double lengthPenalty;

    @Option(names = "--early-stopping", defaultValue = "false", description = "beam search: true, false or never")
    String earlyStopping;

    @Mixin
    EngineOptionsMixin engineOptions;

    @Mixin
    PrecisionMixin precision;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--adapter", paramLabel = "FOLDER", description = "a PEFT LoRA adapter folder over --model (a"
            + " causal language model)")
    java.nio.file.Path adapter;

    @Override
    public Integer call() {
        GenerationConfig config = settings();
        List<String> stopTexts = stopTexts();
        PrintWriter out = spec.commandLine().getOut();
        PluginRegistry registry = PluginRegistry.discover();
        ModelSource source = registry.source(model);
        try (Attune attune = engineOptions.builder(registry, source).build();
                PretrainedModel base = attune.load(source, Map.of())) {
            if (Seq2SeqGenerate.applies(base)) { // T5 and other encoder-decoder models
                if (precision.type() != dev.attune.ops.DType.FLOAT32) {
                    throw new CommandLine.ParameterException(spec.commandLine(), "--dtype " + precision.dtype
                            + " works with causal language models for now; run " + model + " with --dtype fp32");
                }
                if (!stopTexts.isEmpty()) {
                    throw new CommandLine.ParameterException(spec.commandLine(), "--stop works with causal language"
                            + " models (GPT-2); " + model + " is an encoder-decoder model, which ends at its"
                            + " end-of-sequence token");
                }
                Seq2SeqGenerate.run(attune, base, prompt, config, beams(), printIds, out);
                return 0;
            }
            StopStrings stop = new StopStrings(base.tokenizer(), stopTexts);
            int maxLength = base.config().getInt("n_positions", base.config().getInt("max_position_embeddings", 1024));
            try (dev.attune.model.FineTunedModel adapted = adapter == null ? null : PeftOptionsMixin.open(attune, base,
                    adapter, attune.task("causal-lm", java.util.Map.of()), maxLength);
                    LoweredModel lm = adapted != null ? null : attune.lower(base, new HeadSpec(HeadKind.CAUSAL_LM, 0))) {
                precision.applyTo(adapted != null ? adapted.lowered() : lm);
                long[] promptIds = base.tokenizer().encode(prompt, null, maxLength).ids();
                long[] ids = new Generator(adapted != null ? adapted.lowered() : lm).generate(promptIds, config,
                        (step, logits, token) -> GracefulStop.checkInterrupted(), stop);
                String text = base.tokenizer().decode(ids, true);
                String promptText = base.tokenizer().decode(promptIds, true);
                out.println(stop.cut(text, text.startsWith(promptText) ? promptText.length() : 0));
                if (printIds) {
                    out.println(Arrays.stream(ids).mapToObj(Long::toString).collect(Collectors.joining(", ", "[", "]")));
                }
                out.flush();
            }
        }
        return 0;
    }

    /** @return the {@code --stop} strings with their escapes read */
    List<String> stopTexts() {
        List<String> read = new ArrayList<>();
        for (String s : stops) {
            String t = unescape(s);
            if (t.isEmpty()) {
                throw new CommandLine.ParameterException(spec.commandLine(), "--stop needs a non-empty text, e.g."
                        + " --stop '\\n' to keep one line");
            }
            read.add(t);
        }
        return read;
    }

    /** Reads {@code \n}, {@code \t} and {@code \\}; any other character stands for itself. */
    static String unescape(String s) {
        StringBuilder b = new StringBuilder(s.length());
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '\\' && i + 1 < s.length() && "nt\\".indexOf(s.charAt(i + 1)) >= 0) {
                char e = s.charAt(++i);
                b.append(e == 'n' ? '\n' : e == 't' ? '\t' : '\\');
            } else {
                b.append(c);
            }
        }
        return b.toString();
    }

    /** @return the beam settings of the options, or null without {@code --num-beams} */
    dev.attune.generate.GenerationConfig.BeamSearchConfig beams() {
        if (numBeams == null) {
            return null;
        }
        try {
            return dev.attune.generate.GenerationConfig.BeamSearchConfig.of(numBeams).withLengthPenalty(lengthPenalty).withEarlyStopping(
                    dev.attune.generate.GenerationConfig.BeamSearchConfig.EarlyStopping.valueOf(earlyStopping.strip().toUpperCase(java.util.Locale.ROOT)));
        } catch (IllegalArgumentException e) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--num-beams must be >= 1 and --early-stopping"
                    + " true, false or never (" + e.getMessage() + ")");
        }
    }

    /** The folder's generation defaults overridden by the options given. */
    GenerationConfig settings() {
        boolean sampling = temperature != null || topK != null || topP != null || seed != null;
        if (greedy && sampling) {
            throw new CommandLine.ParameterException(spec.commandLine(),
                    "--greedy cannot be combined with --temperature, --top-k, --top-p or --seed");
        }
        GenerationConfig.Builder b = GenerationConfig.fromFolder(model);
        if (greedy) {
            b.doSample(false);
        } else if (sampling) {
            b.doSample(true);
        }
        if (temperature != null) {
            b.temperature(temperature);
        }
        if (topK != null) {
            b.topK(topK);
        }
        if (topP != null) {
            b.topP(topP);
        }
        if (seed != null) {
            b.seed(seed);
        }
        if (repetitionPenalty != null) {
            b.repetitionPenalty(repetitionPenalty);
        }
        if (maxNewTokens != null) {
            b.maxNewTokens(maxNewTokens);
        }
        if (noCache) {
            b.useCache(false);
        }
        try {
            return b.build();
        } catch (IllegalArgumentException e) {
            throw new CommandLine.ParameterException(spec.commandLine(), e.getMessage());
        }
    }
}
