package dev.attune.cli;

import dev.attune.formats.hf.HfSources;
import dev.attune.Attune;
import dev.attune.model.FineTunedModel;
import dev.attune.engine.LoweredModel;
import dev.attune.engine.onnx.OnnxExportOptions;
import dev.attune.engine.onnx.OnnxExporter;
import dev.attune.error.ConfigurationException;
import dev.attune.model.HeadKind;
import dev.attune.model.HeadSpec;
import dev.attune.model.ModelSource;
import dev.attune.model.PretrainedModel;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code attune export --format onnx}: writes a model folder as ONNX (model.onnx, config.json and
 * the tokenizer files) for ONNX Runtime or any other ONNX consumer.
 */
@Command(name = "export", mixinStandardHelpOptions = true,
        description = "Export a fine-tuned model (or a HuggingFace checkpoint with its head) to ONNX.")
final class ExportCommand implements Callable<Integer> {
    @Option(names = "--format", defaultValue = "onnx", description = "export format: onnx (default: ${DEFAULT-VALUE})")
    String format;

    @Option(names = "--model", required = true,
            description = "a folder saved by attune fine-tune, or a HuggingFace checkpoint with a head")
    Path model;

    @Option(names = "--output", required = true, description = "folder to write (model.onnx, config.json, tokenizer)")
    Path output;

    @Option(names = "--head", description = "head for a checkpoint without attune settings: sequence-classification,"
            + " token-classification, question-answering, masked-lm, causal-lm (default: from config.json architectures)")
    String head;

    @Option(names = "--fp16", description = "store weights as float16 (half the size; compute stays float32)")
    boolean fp16;

    @Option(names = "--no-past", description = "export a decoder without past key/value inputs and outputs")
    boolean noPast;

    @Option(names = "--external-data-mb", defaultValue = "1984",
            description = "weights above this many MiB go to model.onnx_data (default: ${DEFAULT-VALUE})")
    long externalDataMb;

    @Option(names = "--max-length", defaultValue = "512", description = "maximum tokens recorded for prediction")
    int maxLength;

    @Mixin
    EngineOptionsMixin engineOptions;

    @Override
    public Integer call() {
        if (!format.toLowerCase(Locale.ROOT).equals("onnx")) {
            throw new ConfigurationException("--format " + format + " is not supported; supported formats: [onnx]");
        }
        OnnxExportOptions options = new OnnxExportOptions(fp16, !noPast, externalDataMb << 20);
        try (Attune attune = engineOptions.builder().build()) {
            HeadKind kind = headKind();
            if (kind == null || kind == HeadKind.SEQUENCE_CLASSIFICATION) {
                try (FineTunedModel m = LogitsCommand.openAny(attune, model, maxLength)) {
                    OnnxExporter.export(m, output, options);
                    System.out.println("exported " + m.lowered().definition().architecture() + " to "
                            + output.resolve(OnnxExporter.MODEL_FILE));
                    return 0;
                }
            }
            try (PretrainedModel base = attune.load(HfSources.folder(model), Map.of());
                    LoweredModel lowered = attune.lower(base, new HeadSpec(kind, labelCount(base)))) {
                OnnxExporter.export(lowered, base.config().with("architectures",
                        List.of(lowered.definition().architecture())), base.tokenizer(), Map.of(), output, options);
                System.out.println("exported " + lowered.definition().architecture() + " to "
                        + output.resolve(OnnxExporter.MODEL_FILE));
            }
        }
        return 0;
    }

    private static int labelCount(PretrainedModel base) {
        return base.config().labels().map(List::size).orElse(base.config().getInt("num_labels", 2));
    }

    /** @return the head asked for or named by config.json; null when the folder is attune's own */
    private HeadKind headKind() {
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
        String arch;
        try (PretrainedModel base = HfSources.folder(model).open(Map.of())) {
            if (base.config().has(FineTunedModel.CONFIG_KEY)) {
                return null;
            }
            arch = base.config().raw("architectures").map(a -> a.path(0).asText("")).orElse("");
        }
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
