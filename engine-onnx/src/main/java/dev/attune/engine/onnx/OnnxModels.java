package dev.attune.engine.onnx;

import ai.onnxruntime.NodeInfo;
import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.TensorInfo;
import com.google.protobuf.CodedInputStream;
import com.google.protobuf.WireFormat;
import dev.attune.engine.EngineOptions;
import dev.attune.engine.LoweredModel;
import dev.attune.engine.onnx.internal.OrtLoweredModel;
import dev.attune.engine.onnx.proto.OnnxProto.ModelProto;
import dev.attune.engine.onnx.proto.OnnxProto.StringStringEntryProto;
import dev.attune.error.EngineException;
import dev.attune.error.InvalidCheckpointException;
import dev.attune.model.ModelDefinition.InputSpec;
import dev.attune.model.ModelConfig;
import dev.attune.model.ModelDefinition;
import dev.attune.ops.DType;
import dev.attune.ops.Ops;
import dev.attune.ops.ParameterSet;
import dev.attune.ops.Tensor;
import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * ONNX files behind the SDK: files exported by Attune and files made elsewhere, such as {@code
 * torch.onnx.export} or HuggingFace Optimum output, with the tokenizer and config.json of their
 * folder.
 *
 * <p>How an ONNX folder is served, and why in two parts: the {@code onnx} {@linkplain
 * OnnxSourceProvider source provider} opens a file or export folder as a checkpoint like any other
 * ({@code attune.load(folder)}: config from the file's metadata or config.json, the tokenizer of the
 * folder, weights from the initializers, which Attune names by their HuggingFace names), so an
 * exported model also reopens, trains or runs on PyTorch and TensorFlow; and the {@code onnx}
 * engine's {@link OnnxRuntimeEngine#serve} hook runs such a checkpoint's own graph in ONNX Runtime
 * rather than a graph rebuilt from its weights, so {@code attune.open(folder)} on that engine serves
 * exactly the file exported (float16 weights included) and also files whose initializers do not
 * carry HuggingFace names. Neither part needs the runtime module: the task, its labels and the
 * predictor come from the runtime's {@code open}, as for any saved model.
 */
public final class OnnxModels {
    private OnnxModels() {}

    /**
     * @param location an .onnx file, or a folder holding {@value OnnxExporter#MODEL_FILE}
     * @return the .onnx file it names
     */
    static Path modelFile(Path location) {
        return Files.isDirectory(location) ? location.resolve(OnnxExporter.MODEL_FILE) : location;
    }

    /**
     * Loads an ONNX file into ONNX Runtime (every graph optimization on) as a bare model: inputs and
     * outputs by name, no task. For generation with a decoder exported with past key/values, hand it
     * to the runtime's generator.
     *
     * @param file an .onnx file (external data beside it), or an export folder
     * @param options threads (intra-op)
     * @return the model; the caller closes it
     * @throws InvalidCheckpointException when ONNX Runtime cannot load it
     */
    public static LoweredModel load(Path file, EngineOptions options) {
        return load(file, null, options);
    }

    /**
     * @param file an .onnx file or an export folder
     * @param config the model's config, or null to read it from the file's metadata or config.json
     * @param options threads (intra-op)
     * @return the model; the caller closes it
     */
    static LoweredModel load(Path file, ModelConfig config, EngineOptions options) {
        Path onnx = modelFile(file);
        if (!Files.isRegularFile(onnx)) {
            throw new InvalidCheckpointException(onnx + ": no such ONNX file; pass an .onnx file or a folder written by"
                    + " `attune export --format onnx`");
        }
        ExternalDataCheck.check(onnx); // ONNX Runtime would read any location it is given
        OrtEnvironment env = OnnxRuntimeEngine.environment();
        OrtSession session;
        try {
            session = env.createSession(onnx.toString(), OrtLoweredModel.sessionOptions(options.numThreads()));
        } catch (OrtException e) {
            throw new InvalidCheckpointException(onnx + ": ONNX Runtime cannot load it (" + e.getMessage()
                    + "); check that it is a complete ONNX model (and its external data file is beside it)", e);
        }
        try {
            Map<String, String> meta = session.getMetadata().getCustomMetadata();
            ModelConfig c = config != null ? config : config(onnx.toAbsolutePath().getParent(), meta, onnx);
            return new OrtLoweredModel(new FileDefinition(c,
                    meta.getOrDefault(OnnxExporter.META + "architecture", onnx.getFileName().toString()), session),
                    session, null);
        } catch (IOException | OrtException | RuntimeException e) {
            try {
                session.close();
            } catch (OrtException ignored) {
                // reporting the first failure
            }
            throw new InvalidCheckpointException(onnx + ": cannot be described: " + e.getMessage(), e);
        }
    }

    /**
     * Reads a model file's metadata ({@code metadata_props}) without loading its graph or weights:
     * the file is streamed and every other field skipped.
     *
     * @param file an .onnx file
     * @return metadata by key
     * @throws InvalidCheckpointException when the file is not an ONNX model
     */
    static Map<String, String> metadata(Path file) {
        Map<String, String> meta = new LinkedHashMap<>();
        try (InputStream in = new BufferedInputStream(Files.newInputStream(file), 1 << 16)) {
            CodedInputStream coded = CodedInputStream.newInstance(in);
            coded.setSizeLimit(Integer.MAX_VALUE);
            int field = ModelProto.METADATA_PROPS_FIELD_NUMBER;
            for (int tag = coded.readTag(); tag != 0; tag = coded.readTag()) {
                if (WireFormat.getTagFieldNumber(tag) == field
                        && WireFormat.getTagWireType(tag) == WireFormat.WIRETYPE_LENGTH_DELIMITED) {
                    StringStringEntryProto e = StringStringEntryProto.parseFrom(coded.readBytes());
                    meta.put(e.getKey(), e.getValue());
                } else if (!coded.skipField(tag)) {
                    break;
                }
            }
        } catch (IOException e) {
            throw new InvalidCheckpointException(file + ": not a readable ONNX model (" + e.getMessage()
                    + "); check that the file is complete", e);
        }
        return meta;
    }

    /**
     * @param file an .onnx file
     * @return its config: Attune's metadata, else config.json beside it, else an empty config
     * @throws InvalidCheckpointException when the file or config.json cannot be read
     */
    static ModelConfig config(Path file) {
        try {
            return config(file.toAbsolutePath().getParent(), metadata(file), file);
        } catch (IOException e) {
            throw new InvalidCheckpointException(file + ": its config cannot be read: " + e.getMessage(), e);
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
