package dev.attune.engine.onnx;

import dev.attune.core.DefaultFineTunedModel;

import ai.onnxruntime.NodeInfo;
import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.TensorInfo;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.attune.model.FineTunedModel;
import dev.attune.PluginRegistry;
import dev.attune.engine.EngineOptions;
import dev.attune.engine.onnx.internal.OrtLoweredModel;
import dev.attune.error.EngineException;
import dev.attune.error.InvalidCheckpointException;
import dev.attune.formats.hf.HfTokenizer;
import dev.attune.model.InputSpec;
import dev.attune.model.ModelConfig;
import dev.attune.model.ModelDefinition;
import dev.attune.model.TextTokenizer;
import dev.attune.ops.DType;
import dev.attune.ops.Ops;
import dev.attune.ops.ParameterSet;
import dev.attune.ops.Tensor;
import dev.attune.task.Task;
import dev.attune.task.TaskOptions;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Serves ONNX files with ONNX Runtime behind the SDK's predictor API (text in, answer out): files
 * exported by Attune (task, labels and settings come from their metadata) and files made elsewhere,
 * such as {@code torch.onnx.export} or HuggingFace Optimum output, with the tokenizer of their
 * folder (tokenizer.json, config.json for the labels).
 */
public final class OnnxModels {
    private static final ObjectMapper JSON = new ObjectMapper();

    private OnnxModels() {}

    /**
     * @param location an export folder (with model.onnx) or an .onnx file whose folder holds the
     *     tokenizer
     * @return the model, on the default thread settings
     */
    public static FineTunedModel open(Path location) {
        return open(location, null, EngineOptions.defaults());
    }

    /**
     * @param location an export folder (with model.onnx) or an .onnx file whose folder holds the
     *     tokenizer and config.json
     * @param taskName the task for a file without Attune metadata (null: text-classification)
     * @param options threads (intra-op); the device must be the CPU or auto
     * @return the model; closing it closes the session
     * @throws InvalidCheckpointException when the file or its tokenizer is missing or unreadable
     */
    public static FineTunedModel open(Path location, String taskName, EngineOptions options) {
        Path file = Files.isDirectory(location) ? location.resolve(OnnxExporter.MODEL_FILE) : location;
        if (!Files.isRegularFile(file)) {
            throw new InvalidCheckpointException(file + ": no such ONNX file; pass an .onnx file or a folder written by"
                    + " `attune export --format onnx`");
        }
        Path folder = file.toAbsolutePath().getParent();
        OrtEnvironment env = OnnxRuntimeEngine.environment();
        OrtSession session;
        Map<String, String> meta;
        try {
            session = env.createSession(file.toString(), OrtLoweredModel.sessionOptions(options.numThreads()));
            meta = session.getMetadata().getCustomMetadata();
        } catch (OrtException e) {
            throw new InvalidCheckpointException(file + ": ONNX Runtime cannot load it (" + e.getMessage()
                    + "); check that it is a complete ONNX model (and its external data file is beside it)", e);
        }
        try {
            ModelConfig config = config(folder, meta, file);
            TextTokenizer tokenizer = HfTokenizer.load(folder);
            String name = meta.getOrDefault(OnnxExporter.META + "task", taskName != null ? taskName : "text-classification");
            Map<String, String> taskOptions = new LinkedHashMap<>();
            if (meta.containsKey(OnnxExporter.META + "task_options")) {
                JSON.readTree(meta.get(OnnxExporter.META + "task_options")).fields()
                        .forEachRemaining(e -> taskOptions.put(e.getKey(), e.getValue().asText()));
            }
            Task task = PluginRegistry.discover().task(name).create(new TaskOptions(taskOptions));
            List<String> labels = labels(meta, config);
            if (labels.isEmpty() && name.endsWith("classification")) {
                // HuggingFace's default names for a config without id2label
                for (int i = 0; i < config.getInt("num_labels", 2); i++) {
                    labels.add("LABEL_" + i);
                }
            }
            if (!labels.isEmpty()) {
                task = task.withLabels(labels);
            }
            int maxLength = Integer.parseInt(meta.getOrDefault(OnnxExporter.META + "max_length",
                    Integer.toString(Math.min(512, config.getInt("max_position_embeddings", 512)))));
            ModelDefinition definition = new FileDefinition(config, meta.getOrDefault(OnnxExporter.META + "architecture",
                    file.getFileName().toString()), session);
            return DefaultFineTunedModel.of(new OrtLoweredModel(definition, session, null), task, config, tokenizer, maxLength,
                    "onnx");
        } catch (IOException | OrtException | RuntimeException e) {
            try {
                session.close();
            } catch (OrtException ignored) {
                // reporting the first failure
            }
            if (e instanceof RuntimeException r) {
                throw r;
            }
            throw new InvalidCheckpointException(file + ": its metadata cannot be read: " + e.getMessage(), e);
        }
    }

    /**
     * Loads an ONNX file into ONNX Runtime (every graph optimization on) as a bare model: inputs and
     * outputs by name, no task. For generation with a decoder exported with past key/values, hand it
     * to {@link dev.attune.core.generate.Generator}.
     *
     * @param file an .onnx file (external data beside it)
     * @param options threads (intra-op)
     * @return the model; the caller closes it
     * @throws InvalidCheckpointException when ONNX Runtime cannot load it
     */
    public static dev.attune.engine.LoweredModel load(Path file, EngineOptions options) {
        if (Files.isDirectory(file)) {
            file = file.resolve(OnnxExporter.MODEL_FILE);
        }
        OrtEnvironment env = OnnxRuntimeEngine.environment();
        OrtSession session;
        try {
            session = env.createSession(file.toString(), OrtLoweredModel.sessionOptions(options.numThreads()));
        } catch (OrtException e) {
            throw new InvalidCheckpointException(file + ": ONNX Runtime cannot load it (" + e.getMessage()
                    + "); check that it is a complete ONNX model (and its external data file is beside it)", e);
        }
        try {
            Map<String, String> meta = session.getMetadata().getCustomMetadata();
            ModelConfig config = config(file.toAbsolutePath().getParent(), meta, file);
            return new OrtLoweredModel(new FileDefinition(config,
                    meta.getOrDefault(OnnxExporter.META + "architecture", file.getFileName().toString()), session),
                    session, null);
        } catch (IOException | OrtException | RuntimeException e) {
            try {
                session.close();
            } catch (OrtException ignored) {
                // reporting the first failure
            }
            throw new InvalidCheckpointException(file + ": cannot be described: " + e.getMessage(), e);
        }
    }

    private static ModelConfig config(Path folder, Map<String, String> meta, Path file) throws IOException {
        if (meta.containsKey(OnnxExporter.META + "config")) {
            return ModelConfig.parse(meta.get(OnnxExporter.META + "config"), file + " (metadata)");
        }
        Path json = folder.resolve("config.json");
        if (Files.isRegularFile(json)) {
            return ModelConfig.parse(Files.readString(json, StandardCharsets.UTF_8), json.toString());
        }
        return ModelConfig.of(Map.of(), file.toString());
    }

    private static List<String> labels(Map<String, String> meta, ModelConfig config) throws IOException {
        List<String> out = new ArrayList<>();
        String id2label = meta.get(OnnxExporter.META + "id2label");
        if (id2label != null) {
            JsonNode node = JSON.readTree(id2label);
            for (int i = 0; i < node.size(); i++) {
                out.add(node.path(Integer.toString(i)).asText());
            }
            return out;
        }
        return new ArrayList<>(config.labels().orElse(List.of()));
    }

    /** The interface of a file: its inputs and outputs; its forward pass exists only inside the file. */
    static final class FileDefinition implements ModelDefinition {
        private final ModelConfig config;
        private final String architecture;
        private final List<InputSpec> inputs = new ArrayList<>();
        private final List<String> outputs;

        FileDefinition(ModelConfig config, String architecture, OrtSession session) throws OrtException {
            this.config = config;
            this.architecture = architecture;
            for (Map.Entry<String, NodeInfo> e : session.getInputInfo().entrySet()) {
                TensorInfo info = (TensorInfo) e.getValue().getInfo();
                DType type = info.type == OnnxJavaType.FLOAT ? DType.FLOAT32
                        : info.type == OnnxJavaType.INT32 ? DType.INT32 : DType.INT64;
                inputs.add(new InputSpec(e.getKey(), type, info.getShape().length, !e.getKey().equals("input_ids")));
            }
            this.outputs = List.copyOf(session.getOutputNames());
        }

        @Override
        public ModelConfig config() {
            return config;
        }

        @Override
        public String architecture() {
            return architecture;
        }

        @Override
        public String baseModelPrefix() {
            return "";
        }

        @Override
        public ParameterSet parameters() {
            return new ParameterSet();
        }

        @Override
        public List<InputSpec> inputs() {
            return inputs;
        }

        @Override
        public List<String> outputs() {
            return outputs;
        }

        @Override
        public Map<String, Tensor> forward(Ops ops, Map<String, Tensor> in) {
            throw new EngineException(architecture + " was loaded from an ONNX file; it runs only in ONNX Runtime");
        }
    }
}
