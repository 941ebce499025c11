package dev.attune.cli;

import dev.attune.Attune;
import dev.attune.core.internal.OutputFolder;
import dev.attune.PluginRegistry;
import dev.attune.error.ConfigurationException;
import dev.attune.model.FineTunedModel;
import dev.attune.model.HeadSpec.HeadKind;
import dev.attune.model.PretrainedModel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
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
            description = "folder to write (for onnx: model.onnx, or for T5 encoder_model.onnx, decoder_model.onnx and"
                    + " decoder_with_past_model.onnx; config.json, tokenizer)")
    Path output;

    @Option(names = "--overwrite-output-dir", description = "write into an --output folder that holds files attune"
            + " did not write (they are left as they are); without it such a folder is refused")
    boolean overwriteOutputDir;

    @Option(names = "--head", description = "head for a checkpoint without attune settings: sequence-classification,"
            + " token-classification, question-answering, masked-lm, causal-lm, seq2seq-lm (default: the saved task's,"
            + " else config.json's architectures); the checkpoint must hold its weights")
    String head;

    @Option(names = "--fp16", description = "onnx: store weights as float16 (half the size; compute stays float32)")
    boolean fp16;

    @Option(names = "--save-dtype", paramLabel = "fp32|bf16|fp16", description = "hf: floating-point type of the"
            + " saved weights (default fp32); config.json's dtype names it")
    String saveDtype;

    @Option(names = "--onnx-ops", paramLabel = "ort|plain", description = "onnx: ort (default) writes ONNX Runtime's"
            + " fused transformer kernels (com.microsoft MultiHeadAttention, SkipLayerNormalization, BiasGelu, FastGelu)"
            + " where the model has them, the fastest graph for ONNX Runtime; plain writes standard ONNX operators only,"
            + " for other runtimes")
    String onnxOps;

    @Option(names = "--quantize", paramLabel = "int8", description = "onnx: int8 weights (one scale per output"
            + " channel) with activations quantized at run time, as ONNX Runtime's quantize_dynamic: about a quarter"
            + " of the float32 file, faster on CPUs; ONNX Runtime only")
    String quantize;

    @Option(names = "--optimize", description = "onnx: also save ONNX Runtime's optimized graph beside each file"
            + " (model_optimized.onnx): specific to this ONNX Runtime version and this machine's CPU; model.onnx stays"
            + " the portable one")
    boolean optimize;

    @Option(names = "--no-past", description = "onnx: export a decoder without past key/value inputs and outputs")
    boolean noPast;

    @Option(names = "--external-data-mb", defaultValue = "1984",
            description = "onnx: weights above this many MiB go to model.onnx_data (default: ${DEFAULT-VALUE})")
    long externalDataMb;

    @Option(names = "--max-length", defaultValue = "0", description = "maximum tokens recorded for prediction, for a"
            + " checkpoint without attune settings (default: its max_position_embeddings)")
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
        if (mergeAdapter && adapter == null) {
            throw new ConfigurationException("--merge-adapter needs --adapter FOLDER");
        }
        Map<String, String> options = options(name);
        // a folder of the user's is refused when the export is written (a plugin format's own names are its)
        OutputFolder.check(output, true, FineTunedModel.OVERWRITE_OUTPUT_DIR);
        options.put(FineTunedModel.OVERWRITE_OUTPUT_DIR, Boolean.toString(overwriteOutputDir));
        try (Attune attune = engineOptions.builder().registry(registry).build();
                PretrainedModel base = attune.load(model);
                FineTunedModel m = adapter != null ? PeftOptionsMixin.open(attune, base, adapter, null, maxLength)
                        : attune.open(base, headKind(), false, maxLength)) {
            m.export(name, output, options);
            // an encoder-decoder exports as encoder_model.onnx and decoder graphs: name the folder
            Path written = name.equals("onnx") && Files.isRegularFile(output.resolve("model.onnx"))
                    ? output.resolve("model.onnx") : output;
            System.out.println("exported " + m.lowered().definition().architecture() + " to " + written);
        }
        return 0;
    }

    /** @return the exporter options the command line sets: the onnx ones only with --format onnx */
    private Map<String, String> options(String name) {
        Map<String, String> options = new LinkedHashMap<>();
        if (saveDtype != null) {
            if (!name.equals("hf")) {
                throw new ConfigurationException("--save-dtype applies to --format hf, not " + format
                        + " (for onnx, --fp16 stores float16 weights)");
            }
            options.put("dtype", saveDtype);
        }
        if (!name.equals("onnx")) {
            if (fp16 || noPast) {
                throw new ConfigurationException("--fp16 and --no-past apply to --format onnx, not " + format);
            }
            if (onnxOps != null || quantize != null || optimize) {
                throw new ConfigurationException("--quantize, --onnx-ops and --optimize apply to --format onnx, not "
                        + format
                        + "; export with --format onnx, or leave them out");
            }
            return options;
        }
        if (onnxOps != null) {
            options.put("ops", onnxOps);
        }
        if (quantize != null) {
            options.put("quantize", quantize);
        }
        if (optimize) {
            options.put("optimize", "true");
        }
        options.put("fp16", Boolean.toString(fp16));
        options.put("past", Boolean.toString(!noPast));
        options.put("external_data_mb", Long.toString(externalDataMb));
        return options;
    }

    /** @return the head {@code --head} names, or null for the saved task's or config.json's */
    private HeadKind headKind() {
        if (head == null) {
            return null;
        }
        try {
            return HeadKind.parse(head);
        } catch (IllegalArgumentException e) {
            throw new ConfigurationException("--head: " + e.getMessage());
        }
    }
}
