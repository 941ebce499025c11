package dev.attune.engine.onnx;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.google.protobuf.ByteString;
import dev.attune.model.FineTunedModel;
import dev.attune.engine.LoweredModel;
import dev.attune.engine.Engine.ParameterSource;
import dev.attune.engine.onnx.internal.Int8Quantizer;
import dev.attune.engine.onnx.internal.OnnxGraph;
import dev.attune.engine.onnx.internal.OnnxOps;
import dev.attune.engine.onnx.internal.OnnxOps.Sym;
import dev.attune.engine.onnx.internal.OrtLoweredModel;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import dev.attune.engine.onnx.proto.OnnxProto.ModelProto;
import dev.attune.engine.onnx.proto.OnnxProto.OperatorSetIdProto;
import dev.attune.engine.onnx.proto.OnnxProto.StringStringEntryProto;
import dev.attune.engine.onnx.proto.OnnxProto.TensorProto;
import dev.attune.error.AttuneException;
import dev.attune.model.Exporter;
import dev.attune.model.ModelDefinition.InputSpec;
import dev.attune.model.ModelConfig;
import dev.attune.model.ModelDefinition;
import dev.attune.model.TextTokenizer;
import dev.attune.ops.DType;
import dev.attune.ops.Tensor;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Exports a model definition with its parameter values to ONNX by running its forward pass through
 * {@link OnnxOps}, the lowering of the ops contract to ONNX nodes, so every family and head written
 * against the contract exports without model-specific code.
 *
 * <p>The file follows HuggingFace's exporters: inputs {@code input_ids}, {@code attention_mask}
 * and {@code token_type_ids} (those the family reads) with dynamic {@code batch_size} and {@code
 * sequence_length} axes; outputs {@code logits} ({@code start_logits}, {@code end_logits} for
 * question answering); for GPT-2's LM head also {@code past_key_values.N.key/value} inputs and
 * {@code present.N.key/value} outputs. Weights are initializers under their HuggingFace names
 * (external data beyond 2 GB). Metadata ({@code metadata_props}) carries the labels, the task and
 * the tokenizer settings; {@link #export(FineTunedModel, Path, OnnxExportOptions)} also writes
 * config.json and the tokenizer files next to {@code model.onnx}.
 *
 * <p>An encoder-decoder whose definition splits itself ({@link ModelDefinition#encoderDecoder()}:
 * T5) is written as HuggingFace Optimum writes seq2seq models, one graph per part: {@value
 * #ENCODER_FILE}, {@value #DECODER_FILE} and (unless past key/values are off) {@value
 * #DECODER_WITH_PAST_FILE}; past key/value inputs are declared [batch, heads, length, {@code d_kv}].
 *
 * <p>It is the {@link Exporter} of the {@value #FORMAT} format, found with {@link
 * java.util.ServiceLoader}: {@code model.export("onnx", folder, options)} and {@code attune export
 * --format onnx} reach it without naming this module, and the runtime writes the folder aside and
 * renames it into place. Options: {@link OnnxExportOptions#fromMap}.
 */
public final class OnnxExporter implements Exporter {
    /** The export format's name. */
    public static final String FORMAT = "onnx";
    /** File name of the exported graph inside an export folder. */
    public static final String MODEL_FILE = "model.onnx";
    /** File name of the weights when they are stored as external data. */
    public static final String DATA_FILE = "model.onnx_data";
    /** An encoder-decoder's encoder graph inside an export folder (Optimum's name). */
    public static final String ENCODER_FILE = "encoder_model.onnx";
    /** An encoder-decoder's decoder graph, from the first step (Optimum's name). */
    public static final String DECODER_FILE = "decoder_model.onnx";
    /** An encoder-decoder's decoder graph with past keys and values (Optimum's name). */
    public static final String DECODER_WITH_PAST_FILE = "decoder_with_past_model.onnx";
    /** Metadata key (after {@link #META}) naming a quantized export's scheme ({@code int8}). */
    public static final String QUANTIZE_KEY = "quantize";
    /** Metadata key prefix. */
    public static final String META = "attune.";

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(OnnxExporter.class);

    /** Creates the exporter (found with {@link java.util.ServiceLoader}). */
    public OnnxExporter() {}

    @Override
    public String format() {
        return FORMAT;
    }

    /**
     * Writes {@code model.onnx} (and {@code model.onnx_data} above the threshold), config.json and
     * the tokenizer files into an empty folder.
     *
     * @param model the model
     * @param directory an empty folder
     * @param options {@link OnnxExportOptions#fromMap}
     * @throws IOException when writing fails
     */
    @Override
    public void export(FineTunedModel model, Path directory, Map<String, String> options) throws IOException {
        OnnxExportOptions o = OnnxExportOptions.fromMap(options);
        LoweredModel lowered = model.lowered();
        writeFolder(lowered, model.savedConfig(), model.tokenizer(), metadataOf(model), directory, o);
    }

    /**
     * Lowers a definition to an ONNX model held in memory.
     *
     * @param definition the model (a task's label inputs and loss are left out)
     * @param values parameter values
     * @param metadata string metadata to store
     * @param options export options
     * @return the model
     */
    public static ModelProto toProto(
            ModelDefinition definition, ParameterSource values, Map<String, String> metadata, OnnxExportOptions options) {
        ModelDefinition model = definition.inference();
        ModelConfig config = model.config();
        OnnxGraph g = new OnnxGraph();
        boolean fused = options.operators() == OnnxExportOptions.Operators.ORT;
        OnnxOps ops = new OnnxOps(g, cached(values), options.float16Weights(), fused);
        boolean hasPast = false;
        for (InputSpec in : model.inputs()) {
            hasPast |= isPast(in.name());
        }
        boolean withPast = hasPast && options.withPast();
        Map<String, Tensor> inputs = new LinkedHashMap<>();
        for (InputSpec in : model.inputs()) {
            if (isPast(in.name()) && !withPast) {
                continue;
            }
            Object[] dims;
            if (isPast(in.name())) {
                // T5's cross-attention past spans the source; its self-attention past, the decoder's past
                Object length = in.name().endsWith(".encoder.key") || in.name().endsWith(".encoder.value")
                        ? "encoder_sequence_length"
                        : in.name().endsWith(".decoder.key") || in.name().endsWith(".decoder.value")
                                ? "past_decoder_sequence_length" : "past_sequence_length";
                dims = new Object[] {"batch_size", headCount(config), length, headSize(config)};
            } else if (in.name().equals("encoder_attention_mask")) {
                dims = new Object[] {"batch_size", "encoder_sequence_length"};
            } else if (in.name().equals("encoder_hidden_states")) {
                dims = new Object[] {"batch_size", "encoder_sequence_length", hiddenSize(config)};
            } else if (in.rank() == 2) {
                dims = new Object[] {"batch_size",
                        withPast && in.name().equals("attention_mask") ? "past_sequence_length + sequence_length"
                                : "sequence_length"};
            } else if (in.rank() == 3 && in.dtype() == DType.INT64) {
                dims = new Object[] {"batch_size", "num_choices", "sequence_length"}; // a multiple-choice head
            } else {
                dims = new Object[in.rank()];
                dims[0] = "batch_size";
            }
            g.input(in.name(), in.dtype(), dims);
            inputs.put(in.name(), new Sym(in.name(), in.dtype(), in.rank()));
        }
        Map<String, Tensor> outputs = model.forward(ops, inputs);
        for (String name : model.outputs()) {
            Tensor t = outputs.get(name);
            if (t == null || (hasPast && !withPast && name.startsWith("present."))) {
                continue; // a decoder exported without past inputs has no cache outputs either (--no-past)
            }
            Sym s = (Sym) t;
            g.nodeInto("Identity", List.of(s.name()), name);
            Object[] dims = new Object[s.rank()];
            if (dims.length > 0) {
                dims[0] = "batch_size";
            }
            g.output(name, s.dtype(), dims);
        }
        if (fused) {
            g.pruneDeadNodes();
        }
        ModelProto.Builder m = ModelProto.newBuilder()
                .setIrVersion(8)
                .setProducerName("attune")
                .setProducerVersion(version())
                .setDomain("dev.attune")
                .setModelVersion(1)
                .setDocString(model.architecture() + " exported by Attune")
                .addOpsetImport(OperatorSetIdProto.newBuilder().setDomain("").setVersion(OnnxExportOptions.OPSET))
                .setGraph(g.build(model.architecture()));
        if (g.usesDomain(OnnxGraph.MICROSOFT)) {
            m.addOpsetImport(OperatorSetIdProto.newBuilder().setDomain(OnnxGraph.MICROSOFT).setVersion(1));
        }
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put(META + "architecture", model.architecture());
        meta.putAll(metadata);
        meta.put(META + "operators", options.operators().name().toLowerCase(java.util.Locale.ROOT));
        if (options.quantize() != OnnxExportOptions.Quantization.NONE) {
            meta.put(META + QUANTIZE_KEY, options.quantize().name().toLowerCase(java.util.Locale.ROOT));
        }
        meta.forEach((k, v) -> m.addMetadataProps(StringStringEntryProto.newBuilder().setKey(k).setValue(v)));
        if (options.quantize() == OnnxExportOptions.Quantization.INT8) {
            return Int8Quantizer.quantize(m.build(), fused);
        }
        return m.build();
    }

    /** Reads each parameter once, so tied parameters and a later {@code read} see the same value. */
    static ParameterSource cached(ParameterSource values) {
        Map<String, dev.attune.ops.TensorData> cache = new HashMap<>();
        return p -> cache.computeIfAbsent(p.name(), n -> values.valueOf(p));
    }

    static boolean isPast(String name) {
        return name.startsWith("past_key_values.");
    }

    /** Heads of the key/value cache: {@code num_key_value_heads} under grouped-query attention. */
    private static Object headCount(ModelConfig c) {
        for (String k : List.of("n_head", "num_key_value_heads", "num_attention_heads", "num_heads")) {
            if (c.has(k)) {
                return c.requireInt(k);
            }
        }
        return "num_heads";
    }

    /** @return the size of one attention head: {@code d_kv} where the config has it (T5), else hidden / heads */
    private static Object headSize(ModelConfig c) {
        if (c.has("d_kv")) {
            return c.requireInt("d_kv");
        }
        if (c.has("head_dim")) {
            return c.requireInt("head_dim");
        }
        Object heads = c.has("num_attention_heads") ? (Object) c.requireInt("num_attention_heads") : headCount(c);
        for (String k : List.of("n_embd", "hidden_size", "d_model")) {
            if (c.has(k) && heads instanceof Integer h) {
                return c.requireInt(k) / h;
            }
        }
        return "head_size";
    }

    private static Object hiddenSize(ModelConfig c) {
        for (String k : List.of("d_model", "hidden_size", "n_embd")) {
            if (c.has(k)) {
                return c.requireInt(k);
            }
        }
        return "hidden_size";
    }

    static String version() {
        String v = OnnxExporter.class.getPackage().getImplementationVersion();
        return v != null ? v : "dev";
    }

    /**
     * The metadata a fine-tuned model exports with: task, its options, labels (id2label), maximum
     * length, the saved config.json and the tokenizer settings (tokenizer_config.json, pad id).
     *
     * @param model the model
     * @return metadata by key
     */
    public static Map<String, String> metadataOf(FineTunedModel model) {
        Map<String, String> meta = new LinkedHashMap<>();
        try {
            meta.put(META + "task", model.task().name());
            meta.put(META + "task_options", JSON.writeValueAsString(model.task().options().values()));
            Map<String, String> id2label = new LinkedHashMap<>();
            List<String> labels = model.task().labels();
            for (int i = 0; i < labels.size(); i++) {
                id2label.put(Integer.toString(i), labels.get(i));
            }
            meta.put(META + "id2label", JSON.writeValueAsString(id2label));
            meta.put(META + "max_length", Integer.toString(model.maxLength()));
            meta.put(META + "config", model.savedConfig().toJson());
        } catch (IOException e) {
            throw new AttuneException("could not describe the model for ONNX metadata: " + e.getMessage(), e);
        }
        meta.putAll(tokenizerMetadata(model.tokenizer()));
        return meta;
    }

    /**
     * @param tokenizer a tokenizer
     * @return its settings as metadata: tokenizer_config.json (when it has one) and the pad id
     */
    public static Map<String, String> tokenizerMetadata(TextTokenizer tokenizer) {
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put(META + "pad_token_id", Long.toString(tokenizer.padTokenId()));
        try {
            Path tmp = Files.createTempDirectory("attune-tokenizer");
            try {
                tokenizer.saveTo(tmp);
                Path cfg = tmp.resolve("tokenizer_config.json");
                if (Files.isRegularFile(cfg)) {
                    meta.put(META + "tokenizer_config", Files.readString(cfg, StandardCharsets.UTF_8));
                }
            } finally {
                ExportFolders.deleteTree(tmp);
            }
        } catch (IOException e) {
            throw new AttuneException("could not read the tokenizer settings for ONNX metadata: " + e.getMessage(), e);
        }
        return meta;
    }

    /**
     * Exports a fine-tuned model into a folder: {@code model.onnx} (and {@code model.onnx_data}
     * when the weights exceed the threshold), config.json and the tokenizer files, so the folder is
     * served by {@code attune.open(folder)} on the {@code onnx} engine. The same as {@code
     * model.export("onnx", directory, options.toMap())}: the folder is written aside and renamed into
     * place.
     *
     * @param model the model
     * @param directory target folder (created or replaced)
     * @param options export options
     */
    public static void export(FineTunedModel model, Path directory, OnnxExportOptions options) {
        model.export(FORMAT, directory, options.toMap());
    }

    /**
     * Exports a lowered model (for example a causal LM lowered without a task) into a new folder.
     * The files are written into a hidden sibling that is renamed to {@code directory} once
     * complete; a failure leaves nothing behind. To replace an existing folder, export a {@link
     * FineTunedModel} instead.
     *
     * @param lowered the model and its current parameter values
     * @param savedConfig config.json to write next to it
     * @param tokenizer the tokenizer to write next to it
     * @param metadata metadata to store in the file
     * @param directory target folder: absent or empty
     * @param options export options
     * @throws dev.attune.error.ConfigurationException when the folder exists and is not empty
     */
    public static void export(LoweredModel lowered, ModelConfig savedConfig, TextTokenizer tokenizer,
            Map<String, String> metadata, Path directory, OnnxExportOptions options) {
        try {
            ExportFolders.writeNew(directory, tmp -> writeFolder(lowered, savedConfig, tokenizer, metadata, tmp, options));
        } catch (IOException e) {
            throw new AttuneException("could not export the model to " + directory + ": " + e.getMessage()
                    + "; check free space and permissions", e);
        }
    }

    private static void writeFolder(LoweredModel lowered, ModelConfig savedConfig, TextTokenizer tokenizer,
            Map<String, String> metadata, Path directory, OnnxExportOptions options) throws IOException {
        Map<String, String> meta = new LinkedHashMap<>(metadata);
        meta.putIfAbsent(META + "config", savedConfig.toJson());
        for (Map.Entry<String, String> e : tokenizerMetadata(tokenizer).entrySet()) {
            meta.putIfAbsent(e.getKey(), e.getValue());
        }
        var parts = lowered.definition().inference().encoderDecoder();
        if (parts.isPresent()) {
            // an encoder-decoder as HuggingFace Optimum writes it: the encoder once per source, the decoder per step
            ParameterSource values = cached(lowered::read);
            write(toProto(parts.get().encoder(), values, meta, options), directory.resolve(ENCODER_FILE),
                    options.externalDataThreshold());
            write(toProto(parts.get().decoder(), values, meta, options), directory.resolve(DECODER_FILE),
                    options.externalDataThreshold());
            if (options.withPast()) {
                write(toProto(parts.get().decoderWithPast(), values, meta, options),
                        directory.resolve(DECODER_WITH_PAST_FILE), options.externalDataThreshold());
            }
        } else {
            ModelProto proto = toProto(lowered.definition(), lowered::read, meta, options);
            write(proto, directory.resolve(MODEL_FILE), options.externalDataThreshold());
        }
        Files.writeString(directory.resolve("config.json"), savedConfig.toJson(), StandardCharsets.UTF_8);
        tokenizer.saveTo(directory);
        if (options.optimize()) {
            for (String name : List.of(MODEL_FILE, ENCODER_FILE, DECODER_FILE, DECODER_WITH_PAST_FILE)) {
                if (Files.isRegularFile(directory.resolve(name))) {
                    saveOptimized(directory.resolve(name));
                }
            }
        }
    }

    /** @return the file name ONNX Runtime's optimized graph of an exported file is saved under: {@code model_optimized.onnx} */
    public static String optimizedName(String exported) {
        String base = exported.endsWith(".onnx") ? exported.substring(0, exported.length() - 5) : exported;
        return base + OnnxExportOptions.OPTIMIZED_SUFFIX + ".onnx";
    }

    /**
     * Opens an exported file in ONNX Runtime with every graph optimization on and saves the graph it
     * optimized beside it ({@link #optimizedName}; weights over 2 GB in total go to its own {@code
     * _optimized.onnx_data}). ONNX Runtime's optimized graph is specific to its version and to this
     * CPU, which the log says.
     *
     * @param file an exported .onnx file
     * @throws IOException when ONNX Runtime cannot optimize or write it
     */
    static void saveOptimized(Path file) throws IOException {
        Path out = file.resolveSibling(optimizedName(file.getFileName().toString()));
        OrtEnvironment env = OnnxRuntimeEngine.environment();
        try (OrtSession.SessionOptions o = OrtLoweredModel.sessionOptions(0)) {
            o.setOptimizedModelFilePath(out.toString());
            if (Files.exists(file.resolveSibling(DATA_FILE)) || Files.size(file) > OnnxExportOptions.TWO_GB_LESS_MARGIN) {
                // protobuf's 2 GB limit holds for the optimized file too: its weights go beside it
                o.addConfigEntry("session.optimized_model_external_initializers_file_name",
                        out.getFileName() + "_data");
                o.addConfigEntry("session.optimized_model_external_initializers_min_size_in_bytes", "1024");
            }
            try (OrtSession ignored = env.createSession(file.toString(), o)) {
                // creating the session optimizes the graph and writes it
            }
        } catch (OrtException e) {
            throw new IOException(file + ": ONNX Runtime could not optimize and save it as " + out.getFileName()
                    + " (" + e.getMessage() + "); export without --optimize, ONNX Runtime optimizes at load time anyway", e);
        }
        if (!Files.isRegularFile(out)) {
            throw new IOException(file + ": ONNX Runtime wrote no optimized graph " + out.getFileName());
        }
        LOG.warn("{} (beside {} in the export folder) is ONNX Runtime {}'s graph optimized for this machine's CPU: it may"
                + " not load, or run slower, on other hardware or ONNX Runtime versions; {} is the portable model",
                out.getFileName(), file.getFileName(), ai.djl.engine.Engine.getEngine("OnnxRuntime").getVersion(),
                file.getFileName());
    }

    /**
     * Writes a model file; when its initializers hold more than {@code threshold} bytes, those of
     * 1 KiB or more are moved into the file's name plus {@code _data} beside it ({@value #DATA_FILE}
     * for {@value #MODEL_FILE}; ONNX external data, offsets
     * aligned to 4 KiB) and the file keeps only their location.
     *
     * @param proto the model
     * @param file target .onnx path (its folder must exist)
     * @param threshold external-data threshold in bytes
     * @throws IOException when writing fails
     */
    public static void write(ModelProto proto, Path file, long threshold) throws IOException {
        long total = 0;
        for (TensorProto t : proto.getGraph().getInitializerList()) {
            total += t.getRawData().size();
        }
        if (total <= threshold) {
            try (OutputStream out = new BufferedOutputStream(Files.newOutputStream(file))) {
                proto.writeTo(out);
            }
            return;
        }
        Path dataFile = file.resolveSibling(file.getFileName() + "_data"); // model.onnx_data for model.onnx
        ModelProto.Builder m = proto.toBuilder();
        var graph = m.getGraphBuilder();
        long offset = 0;
        try (OutputStream data = new BufferedOutputStream(Files.newOutputStream(dataFile), 1 << 20)) {
            for (int i = 0; i < graph.getInitializerCount(); i++) {
                TensorProto t = graph.getInitializer(i);
                ByteString raw = t.getRawData();
                if (raw.size() < 1024) {
                    continue;
                }
                long aligned = (offset + 4095) / 4096 * 4096;
                for (long p = offset; p < aligned; p++) {
                    data.write(0);
                }
                raw.writeTo(data);
                graph.setInitializer(i, t.toBuilder().clearRawData()
                        .setDataLocation(TensorProto.DataLocation.EXTERNAL)
                        .addExternalData(entry("location", dataFile.getFileName().toString()))
                        .addExternalData(entry("offset", Long.toString(aligned)))
                        .addExternalData(entry("length", Long.toString(raw.size()))));
                offset = aligned + raw.size();
            }
        }
        try (OutputStream out = new BufferedOutputStream(Files.newOutputStream(file))) {
            m.build().writeTo(out);
        }
    }

    private static StringStringEntryProto entry(String k, String v) {
        return StringStringEntryProto.newBuilder().setKey(k).setValue(v).build();
    }

    /** @return the names of a model's graph inputs, in order (for messages and tests) */
    static List<String> inputNames(ModelProto m) {
        List<String> out = new ArrayList<>();
        m.getGraph().getInputList().forEach(v -> out.add(v.getName()));
        return out;
    }

    /** @return the element type the exporter writes for a type */
    static int elemType(DType t) {
        return OnnxGraph.elemType(t);
    }
}
