package dev.attune.cli;

import dev.attune.Attune;
import dev.attune.PluginRegistry;
import dev.attune.error.ConfigurationException;
import dev.attune.error.InvalidCheckpointException;
import dev.attune.model.FineTunedModel;
import dev.attune.model.HeadSpec.HeadKind;
import dev.attune.model.PretrainedModel;
import dev.attune.task.Task;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code attune export --format onnx|savedmodel|hf}: writes a model in another format through the
 * exporter of that format, found with {@link java.util.ServiceLoader} ({@code model.export(format,
 * folder, options)}), so this command names no engine module.
 */
@Command(name = "export", mixinStandardHelpOptions = true,
        description = "Export a fine-tuned model (or a checkpoint with a head) to ONNX, a TensorFlow SavedModel or a"
                + " HuggingFace folder.")
final class ExportCommand implements Callable<Integer> {
    @Option(names = "--format", defaultValue = "onnx",
            description = "export format: onnx, savedmodel, hf, or a plugin's (default: ${DEFAULT-VALUE})")
    String format;

    @Option(names = "--model", required = true,
            description = "a folder saved by attune fine-tune, or a checkpoint with a head (HuggingFace folder, TF Hub"
                    + " SavedModel, ONNX export)")
    Path model;

    @Option(names = "--output", required = true,
            description = "folder to write (for onnx: model.onnx, config.json, tokenizer)")
    Path output;

    @Option(names = "--head", description = "head for a checkpoint without attune settings: sequence-classification,"
            + " token-classification, question-answering, masked-lm, causal-lm (default: from config.json architectures)")
    String head;

    @Option(names = "--fp16", description = "onnx: store weights as float16 (half the size; compute stays float32)")
    boolean fp16;

    @Option(names = "--no-past", description = "onnx: export a decoder without past key/value inputs and outputs")
    boolean noPast;

    @Option(names = "--external-data-mb", defaultValue = "1984",
            description = "onnx: weights above this many MiB go to model.onnx_data (default: ${DEFAULT-VALUE})")
    long externalDataMb;

    @Option(names = "--max-length", defaultValue = "512", description = "maximum tokens recorded for prediction")
    int maxLength;

    @Mixin
    EngineOptionsMixin engineOptions;

    @Option(names = "--adapter", paramLabel = "FOLDER", description = "a PEFT LoRA adapter folder over --model; the"
            + " export merges it into the weights (a full model)")
    Path adapter;

    @Option(names = "--merge-adapter", description = "merge the --adapter into the weights (what every export of an"
            + " adapter does; accepted for symmetry with fine-tune)")
    boolean mergeAdapter;

    @Override
    public Integer call() {
        PluginRegistry registry = PluginRegistry.discover();
        String name = format.toLowerCase(Locale.ROOT);
        if (!registry.exporters().containsKey(name)) {
            throw new ConfigurationException("--format " + format + " is not supported; supported formats: "
                    + registry.exporters().keySet());
        }
        Map<String, String> options = options(name);
        try (Attune attune = engineOptions.builder().registry(registry).build();
                FineTunedModel m = open(attune, attune.load(model))) {
            m.export(name, output, options);
            Path written = name.equals("onnx") ? output.resolve("model.onnx") : output;
            System.out.println("exported " + m.lowered().definition().architecture() + " to " + written);
        }
        return 0;
    }

    /** @return the exporter options the command line sets: the onnx ones only with --format onnx */
    private Map<String, String> options(String name) {
        Map<String, String> options = new LinkedHashMap<>();
        if (!name.equals("onnx")) {
            if (fp16 || noPast) {
                throw new ConfigurationException("--fp16 and --no-past apply to --format onnx, not " + format);
            }
            return options;
        }
        options.put("fp16", Boolean.toString(fp16));
        options.put("past", Boolean.toString(!noPast));
        options.put("external_data_mb", Long.toString(externalDataMb));
        return options;
    }

    /**
     * A model saved by attune (or a classifier) as it is; another checkpoint with the task of its
     * head, whose weights it must hold.
     */
    private FineTunedModel open(Attune attune, PretrainedModel base) {
        if (adapter != null) {
            return PeftOptionsMixin.open(attune, base, adapter, null, maxLength);
        }
        if (mergeAdapter) {
            throw new ConfigurationException("--merge-adapter needs --adapter FOLDER");
        }
        HeadKind kind = headKind(base);
        if (kind == null || kind == HeadKind.SEQUENCE_CLASSIFICATION) {
            return LogitsCommand.openAny(attune, base, maxLength);
        }
        Task task = switch (kind) {
            case TOKEN_CLASSIFICATION -> attune.task("token-classification", Map.of())
                    .withLabels(LogitsCommand.labels(base));
            case QUESTION_ANSWERING -> attune.task("question-answering", Map.of());
            case MASKED_LM -> attune.task("masked-lm", Map.of());
            case CAUSAL_LM -> attune.task("causal-lm", Map.of());
            default -> throw new ConfigurationException("--head " + head + " cannot be exported");
        };
        FineTunedModel m = attune.prepare(base, task, maxLength);
        List<String> missing = m.loadReport().missing();
        if (!missing.isEmpty()) {
            m.close();
            throw new InvalidCheckpointException(base.origin() + " lacks weights that "
                    + m.lowered().definition().architecture() + " needs: " + missing
                    + "; use a checkpoint saved with that head");
        }
        return m;
    }

    /** @return the head asked for or named by config.json; null when the folder is attune's own */
    private HeadKind headKind(PretrainedModel base) {
        if (head != null) {
            return switch (head.toLowerCase(Locale.ROOT)) {
                case "sequence-classification" -> HeadKind.SEQUENCE_CLASSIFICATION;
                case "token-classification" -> HeadKind.TOKEN_CLASSIFICATION;
                case "question-answering" -> HeadKind.QUESTION_ANSWERING;
                case "masked-lm" -> HeadKind.MASKED_LM;
                case "causal-lm" -> HeadKind.CAUSAL_LM;
                default -> throw new ConfigurationException("--head " + head + " is not known; use one of"
                        + " sequence-classification, token-classification, question-answering, masked-lm, causal-lm");
            };
        }
        if (base.config().has(FineTunedModel.CONFIG_KEY)) {
            return null;
        }
        String arch = base.config().raw("architectures").map(a -> a.path(0).asText("")).orElse("");
        if (arch.endsWith("ForTokenClassification")) {
            return HeadKind.TOKEN_CLASSIFICATION;
        }
        if (arch.endsWith("ForQuestionAnswering")) {
            return HeadKind.QUESTION_ANSWERING;
        }
        if (arch.endsWith("ForMaskedLM")) {
            return HeadKind.MASKED_LM;
        }
        if (arch.endsWith("LMHeadModel") || arch.endsWith("ForCausalLM")) {
            return HeadKind.CAUSAL_LM;
        }
        return null;
    }
}
