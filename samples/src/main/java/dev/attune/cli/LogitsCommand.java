package dev.attune.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.attune.Attune;
import dev.attune.PluginRegistry;
import dev.attune.model.FineTunedModel;
import dev.attune.model.TextTokenizer.Encoding;
import dev.attune.model.ModelSource;
import dev.attune.model.PretrainedModel;
import dev.attune.ops.TensorData;
import dev.attune.engine.Batch;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code attune logits}: raw model outputs for checking fidelity against other implementations. */
@Command(name = "logits", mixinStandardHelpOptions = true,
        description = "Token ids and raw logits for each {\"text\", optional \"text_pair\"} line of a JSONL file.")
final class LogitsCommand implements Callable<Integer> {
    @Option(names = "--model", required = true,
            description = "a HuggingFace folder (fine-tuned by attune, or a *ForSequenceClassification checkpoint), or an"
                    + " ONNX export of one (run on the onnx engine unless --engine names another)")
    Path model;

    @Option(names = "--input", required = true, description = "JSONL input")
    Path input;

    @Option(names = "--output", description = "JSONL output (default: standard output)")
    Path output;

    @Option(names = "--max-length", defaultValue = "512")
    int maxLength;

    @Mixin
    EngineOptionsMixin engineOptions;

    @Option(names = "--adapter", paramLabel = "FOLDER", description = "a PEFT LoRA adapter folder over --model")
    Path adapter;

    @Override
    public Integer call() throws IOException {
        List<Map<String, String>> inputs = PredictCommand.readJsonl(input, "text").stream()
                .map(PredictCommand.JsonlRow::fields).toList();
        ObjectMapper json = new ObjectMapper();
        PluginRegistry registry = PluginRegistry.discover();
        ModelSource source = registry.source(model);
        try (Attune attune = engineOptions.builder(registry, source).build();
                FineTunedModel m = adapter == null ? openAny(attune, attune.load(source, Map.of()), maxLength)
                        : PeftOptionsMixin.open(attune, attune.load(source, Map.of()), adapter, null, maxLength);
                Writer out = output == null
                        ? new BufferedWriter(new OutputStreamWriter(System.out, StandardCharsets.UTF_8))
                        : Files.newBufferedWriter(output, StandardCharsets.UTF_8)) {
            for (Map<String, String> row : inputs) {
                GracefulStop.checkInterrupted(); // lines written so far stay whole
                Encoding enc = m.tokenizer().encode(row.get("text"), row.get("text_pair"), maxLength);
                long[] shape = {1, enc.length()};
                Map<String, TensorData> in = new LinkedHashMap<>();
                in.put("input_ids", TensorData.ofLongs(shape, enc.ids()));
                in.put("attention_mask", TensorData.ofLongs(shape, enc.attentionMask()));
                in.put("token_type_ids", TensorData.ofLongs(shape, enc.typeIds()));
                Map<String, TensorData> result = m.lowered().predict(new Batch(in, 1));
                Map<String, Object> line = new LinkedHashMap<>();
                line.put("text", row.get("text"));
                if (row.get("text_pair") != null) {
                    line.put("text_pair", row.get("text_pair"));
                }
                line.put("input_ids", enc.ids());
                for (Map.Entry<String, TensorData> e : result.entrySet()) {
                    if (!e.getKey().equals("loss")) {
                        line.put(e.getKey(), e.getValue().toFloatArray());
                    }
                }
                out.write(json.writeValueAsString(line));
                out.write('\n');
            }
            out.flush();
        }
        return 0;
    }

    /**
     * Opens a model saved or exported by attune, or a plain classification checkpoint (labels from
     * its id2label, else HuggingFace's default of two), such as a HuggingFace folder or an ONNX file
     * made by {@code torch.onnx.export}.
     */
    static FineTunedModel openAny(Attune attune, PretrainedModel base, int maxLength) {
        if (base.config().has(FineTunedModel.CONFIG_KEY)) {
            return attune.open(base);
        }
        return attune.open(base, attune.task("text-classification", Map.of()).withLabels(labels(base)), maxLength);
    }

    /** @return a checkpoint's labels: its id2label, else HuggingFace's names for {@code num_labels} (2) */
    static List<String> labels(PretrainedModel base) {
        return base.config().labels().orElseGet(() -> {
            int n = base.config().getInt("num_labels", 2);
            List<String> names = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                names.add("LABEL_" + i);
            }
            return names;
        });
    }
}
