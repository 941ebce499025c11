package dev.attune.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.attune.Attune;
import dev.attune.core.internal.ConfigLimits;
import dev.attune.error.InvalidDataException;
import dev.attune.PluginRegistry;
import dev.attune.model.FineTunedModel;
import dev.attune.model.TextTokenizer.Encoding;
import dev.attune.model.ModelSource;
import dev.attune.model.PretrainedModel;
import dev.attune.ops.TensorData;
import dev.attune.engine.Batch;
import dev.attune.error.ConfigurationException;
import dev.attune.model.HeadSpec.HeadKind;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code attune logits}: raw model outputs for checking fidelity against other implementations. The
 * head is the one a model saved by attune was trained with, else {@code --head}, else the one
 * config.json's {@code architectures} names (as HuggingFace's {@code AutoModel} reads it); a head the
 * checkpoint has no weights for is an error unless {@code --allow-new-head}. An encoder-decoder model
 * (T5) reads {@code {"text", "target"}} lines and prints the decoder's logits for the target, teacher
 * forced (the decoder's inputs are the target's ids shifted right behind {@code
 * decoder_start_token_id}), as HuggingFace's {@code model(input_ids, labels=target_ids)} computes them.
 */
@Command(name = "logits", mixinStandardHelpOptions = true,
        description = "Token ids and raw logits for each {\"text\", optional \"text_pair\"} line of a JSONL file"
                + " ({\"text\", \"target\"} for encoder-decoder models such as T5: teacher-forced decoder logits).")
final class LogitsCommand implements Callable<Integer> {
    @Option(names = "--model", required = true,
            description = "a HuggingFace folder (fine-tuned by attune, or any checkpoint with a head), or an"
                    + " ONNX export or .onnx file with its tokenizer beside it (run on the onnx engine unless --engine"
                    + " names another)")
    Path model;

    @Option(names = "--input", required = true, description = "JSONL input")
    Path input;

    @Option(names = "--output", description = "JSONL output (default: standard output)")
    Path output;

    @Option(names = "--max-length", defaultValue = "512")
    int maxLength;

    @Option(names = "--head", description = "the head to run: sequence-classification, token-classification,"
            + " question-answering, masked-lm, causal-lm, seq2seq-lm (default: the saved task's, else config.json's"
            + " architectures)")
    String head;

    @Option(names = "--allow-new-head", description = "run a head the checkpoint has no weights for, started new"
            + " (random: its logits mean nothing until it is fine-tuned)")
    boolean allowNewHead;

    @Mixin
    EngineOptionsMixin engineOptions;

    @Mixin
    PrecisionMixin precision;

    @Option(names = "--adapter", paramLabel = "FOLDER", description = "a PEFT LoRA adapter folder over --model")
    Path adapter;

    @Override
    public Integer call() throws IOException {
        List<PredictCommand.JsonlRow> rows = PredictCommand.readJsonl(input, "text");
        ObjectMapper json = new ObjectMapper();
        PluginRegistry registry = PluginRegistry.discover();
        ModelSource source = registry.source(model);
        try (Attune attune = engineOptions.builder(registry, source).build();
                PretrainedModel base = attune.load(source, Map.of());
                FineTunedModel m = adapter == null ? attune.open(base, headKind(), allowNewHead)
                        : PeftOptionsMixin.open(attune, base, adapter, null, 0);
                Writer out = output == null
                        ? new BufferedWriter(new OutputStreamWriter(System.out, StandardCharsets.UTF_8))
                        : Files.newBufferedWriter(output, StandardCharsets.UTF_8)) {
            precision.applyTo(m.lowered());
            boolean seq2seq = m.task().head().kind() == HeadKind.SEQ2SEQ_LM;
            if (seq2seq) {
                for (PredictCommand.JsonlRow row : rows) {
                    if (row.fields().get("target") == null) {
                        throw new InvalidDataException(input + ":" + row.line() + ": expected a string \"target\": "
                                + m.lowered().definition().architecture() + " is an encoder-decoder model, whose"
                                + " logits are the decoder's for a target ({\"text\": ..., \"target\": ...})");
                    }
                }
            }
            java.util.OptionalLong positions = ConfigLimits.usablePositions(m.config());
            for (PredictCommand.JsonlRow jsonl : rows) {
                GracefulStop.checkInterrupted(); // lines written so far stay whole
                Map<String, String> row = jsonl.fields();
                Encoding enc = m.tokenizer().encode(row.get("text"), seq2seq ? null : row.get("text_pair"), maxLength);
                if (positions.isPresent() && enc.length() > positions.getAsLong()) {
                    // the model has no position embedding beyond its last one: say so, not an index error
                    throw new InvalidDataException(input + ":" + jsonl.line() + ": the text has " + enc.length()
                            + " tokens, more than the " + positions.getAsLong() + " positions the model has"
                            + " (max_position_embeddings); shorten it, or pass --max-length " + positions.getAsLong()
                            + " to cut it there");
                }
                long[] shape = {1, enc.length()};
                Map<String, TensorData> in = new LinkedHashMap<>();
                in.put("input_ids", TensorData.ofLongs(shape, enc.ids()));
                in.put("attention_mask", TensorData.ofLongs(shape, enc.attentionMask()));
                Map<String, Object> line = new LinkedHashMap<>();
                line.put("text", row.get("text"));
                if (seq2seq) {
                    long[] labels = m.tokenizer().encode(row.get("target"), null, maxLength).ids();
                    in.put("decoder_input_ids", TensorData.ofLongs(new long[] {1, labels.length},
                            shiftRight(labels, decoderStart(m))));
                    line.put("target", row.get("target"));
                    line.put("input_ids", enc.ids());
                    line.put("labels", labels);
                } else {
                    in.put("token_type_ids", TensorData.ofLongs(shape, enc.typeIds()));
                    if (row.get("text_pair") != null) {
                        line.put("text_pair", row.get("text_pair"));
                    }
                    line.put("input_ids", enc.ids());
                }
                Map<String, TensorData> result = m.lowered().predict(new Batch(in, 1));
                for (Map.Entry<String, TensorData> e : result.entrySet()) {
                    if (printed(e.getKey())) {
                        line.put(e.getKey(), nested(e.getValue()));
                    }
                }
                out.write(json.writeValueAsString(line));
                out.write('\n');
            }
            out.flush();
        }
        return 0;
    }

    /** @return the head {@code --head} names, or null */
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

    /** Logits are printed; a loss, the key/value cache and the encoder's hidden states are not. */
    private static boolean printed(String output) {
        return !output.equals("loss") && !output.startsWith("present.") && !output.equals("encoder_last_hidden_state");
    }

    /** @return {@code decoder_start_token_id}, else the pad id (T5's), else 0 */
    private static long decoderStart(FineTunedModel m) {
        return m.config().getInt("decoder_start_token_id", m.config().getInt("pad_token_id", 0));
    }

    /** @return the decoder's teacher-forced inputs: the start token, then the labels but the last */
    static long[] shiftRight(long[] labels, long start) {
        long[] out = new long[labels.length];
        out[0] = start;
        System.arraycopy(labels, 0, out, 1, labels.length - 1);
        return out;
    }

    /**
     * @param t an output of one example, batch axis first
     * @return its values as nested lists without the batch axis ({@code [classes]}, {@code [tokens][classes]})
     */
    static Object nested(TensorData t) {
        float[] v = t.toFloatArray();
        long[] shape = t.shape();
        if (shape.length <= 1) {
            return v;
        }
        return nest(v, shape, 1, 0);
    }

    private static Object nest(float[] v, long[] shape, int axis, int offset) {
        if (axis == shape.length - 1) {
            return Arrays.copyOfRange(v, offset, offset + (int) shape[axis]);
        }
        int stride = 1;
        for (int a = axis + 1; a < shape.length; a++) {
            stride *= (int) shape[a];
        }
        List<Object> out = new ArrayList<>();
        for (int i = 0; i < shape[axis]; i++) {
            out.add(nest(v, shape, axis + 1, offset + i * stride));
        }
        return out;
    }
}
