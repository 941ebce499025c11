package dev.attune.engine.onnx;

import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import dev.attune.engine.EngineOptions.DeviceSpec;
import dev.attune.engine.Engine;
import dev.attune.engine.EngineOptions;
import dev.attune.engine.LoweredModel;
import dev.attune.engine.Engine.ParameterSource;
import dev.attune.engine.onnx.internal.OrtLoweredModel;
import dev.attune.engine.onnx.internal.OrtSeq2SeqModel;
import dev.attune.engine.onnx.proto.OnnxProto.ModelProto;
import dev.attune.error.EngineException;
import dev.attune.model.ModelDefinition;
import dev.attune.model.PretrainedModel;
import java.util.Map;
import java.util.Optional;

/**
 * ONNX Runtime through DJL's OnnxRuntime engine. Lowering a definition exports it to ONNX in memory
 * ({@link OnnxExporter}) and opens an ONNX Runtime session on it with every graph optimization on,
 * so a model runs exactly as its exported file would. A checkpoint opened from an ONNX file is
 * served as it is stored ({@link #serve}). Inference only.
 */
public final class OnnxRuntimeEngine implements Engine {
    private final OrtEnvironment env;
    private final String version;

    /** Starts DJL's OnnxRuntime engine (it must own the environment's thread pool settings first). */
    public OnnxRuntimeEngine() {
        this.env = environment();
        // the native library's own version: DJL reports the one it was built against, which the class
        // path may override
        this.version = env.getVersion();
    }

    /**
     * Initialises DJL's OnnxRuntime engine, then returns ONNX Runtime's environment. DJL must come
     * first: it fails if the environment was created before it with other thread settings.
     *
     * @return the environment
     * @throws EngineException when the natives cannot be loaded
     */
    public static OrtEnvironment environment() {
        try {
            ai.djl.engine.Engine.getEngine("OnnxRuntime");
            OrtEnvironment env = OrtEnvironment.getEnvironment();
            removeExtractionFolderOnExit();
            return env;
        } catch (RuntimeException | UnsatisfiedLinkError e) {
            throw new EngineException("ONNX Runtime could not be started: " + e.getMessage()
                    + "; check that com.microsoft.onnxruntime:onnxruntime is on the class path", e);
        }
    }

    private static boolean cleanupRegistered;

    /**
     * ONNX Runtime extracts its natives into a {@code onnxruntime-java*} folder in the temporary folder
     * and asks the JVM to delete the folder and its files at exit, the folder first, while it still
     * holds the files: every run left an empty folder behind. A shutdown hook (these run before the
     * JVM's deletions) removes the folder with its contents instead; the libraries stay mapped.
     */
    private static synchronized void removeExtractionFolderOnExit() {
        if (cleanupRegistered) {
            return;
        }
        cleanupRegistered = true;
        java.nio.file.Path folder;
        try {
            java.lang.reflect.Field f = Class.forName("ai.onnxruntime.OnnxRuntime").getDeclaredField("tempDirectory");
            f.setAccessible(true);
            folder = (java.nio.file.Path) f.get(null);
        } catch (ReflectiveOperationException | RuntimeException e) {
            return; // another ONNX Runtime version: its own cleanup stands
        }
        if (folder == null || !folder.getFileName().toString().startsWith("onnxruntime-java")) {
            return;
        }
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try (java.util.stream.Stream<java.nio.file.Path> walk = java.nio.file.Files.walk(folder)) {
                for (java.nio.file.Path p : walk.sorted(java.util.Comparator.reverseOrder()).toList()) {
                    java.nio.file.Files.deleteIfExists(p);
                }
            } catch (java.io.IOException | RuntimeException e) {
                // best effort at exit
            }
        }, "attune-onnxruntime-cleanup"));
    }

    @Override
    public String name() {
        return "onnx";
    }

    @Override
    public String describe() {
        return "onnxruntime " + version + " (DJL OnnxRuntime engine), cpu";
    }

    private static void checkDevice(EngineOptions options) {
        if (options.device().kind() == DeviceSpec.Kind.GPU) {
            throw new EngineException("the onnx engine runs on the CPU here (device " + options.device()
                    + " asked); use --device cpu or auto");
        }
    }

    /**
     * Serves a checkpoint that the {@code onnx} source provider opened from an ONNX file: the file's
     * own graph runs in ONNX Runtime (its inputs and outputs as the file declares them), not a graph
     * rebuilt from its weights.
     *
     * @return the running file, or empty for a checkpoint of another format
     */
    @Override
    public Optional<LoweredModel> serve(PretrainedModel checkpoint, EngineOptions options) {
        if (!(checkpoint.weights() instanceof OnnxWeights onnx)) {
            return Optional.empty();
        }
        checkDevice(options);
        return Optional.of(OnnxModels.load(onnx.file(), checkpoint.config(), options));
    }

    /**
     * Exports the definition in memory and opens it in ONNX Runtime. An encoder-decoder ({@link
     * ModelDefinition#encoderDecoder()}) becomes three sessions, as Optimum exports it: encoder,
     * decoder and decoder with past ({@link OrtSeq2SeqModel}).
     */
    @Override
    public LoweredModel lower(ModelDefinition definition, ParameterSource values, EngineOptions options) {
        checkDevice(options);
        ParameterSource cached = OnnxExporter.cached(values);
        var parts = definition.inference().encoderDecoder();
        if (parts.isPresent()) {
            OrtLoweredModel encoder = session(parts.get().encoder(), cached, options);
            OrtLoweredModel decoder = null;
            try {
                decoder = session(parts.get().decoder(), cached, options);
                OrtLoweredModel withPast = session(parts.get().decoderWithPast(), cached, options);
                return new OrtSeq2SeqModel(definition, encoder, decoder, withPast, cached::valueOf);
            } catch (RuntimeException e) {
                encoder.close();
                if (decoder != null) {
                    decoder.close();
                }
                throw e;
            }
        }
        return session(definition, cached, options);
    }

    private OrtLoweredModel session(ModelDefinition definition, ParameterSource cached, EngineOptions options) {
        ModelProto proto = OnnxExporter.toProto(definition, cached, Map.of(), OnnxExportOptions.defaults());
        try {
            OrtSession session = env.createSession(proto.toByteArray(), OrtLoweredModel.sessionOptions(options.numThreads()));
            return new OrtLoweredModel(definition, session, cached::valueOf);
        } catch (OrtException e) {
            throw new EngineException("ONNX Runtime rejected the exported " + definition.architecture() + ": "
                    + e.getMessage(), e);
        }
    }

    @Override
    public void close() {
        // the environment is process-wide and owned by DJL
    }
}
