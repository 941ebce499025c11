package dev.attune.engine.pytorch;

import ai.djl.Device;
import ai.djl.pytorch.engine.PtNDManager;
import ai.djl.pytorch.jni.JniUtils;
import dev.attune.engine.EngineOptions.DeviceSpec;
import dev.attune.engine.Engine;
import dev.attune.engine.EngineOptions;
import dev.attune.engine.LoweredModel;
import dev.attune.engine.Engine.ParameterSource;
import dev.attune.error.EngineException;
import dev.attune.model.ModelDefinition;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** DJL's PyTorch engine (libtorch, CPU natives from Maven Central) running definitions eagerly. */
final class PyTorchEngine implements Engine {
    private static final Logger LOG = LoggerFactory.getLogger(PyTorchEngine.class);

    private final ai.djl.engine.Engine djl;

    PyTorchEngine() {
        // The native jar is on the classpath; never let DJL try its download server.
        if (System.getProperty("ai.djl.offline") == null) {
            System.setProperty("ai.djl.offline", "true");
        }
        try {
            djl = ai.djl.engine.Engine.getEngine("PyTorch");
        } catch (RuntimeException | UnsatisfiedLinkError e) {
            throw new EngineException(
                    "could not start DJL's PyTorch engine: " + e.getMessage()
                            + ". attune-engine-pytorch needs ai.djl.pytorch:pytorch-native-cpu (classifier"
                            + " linux-x86_64) on the classpath",
                    e);
        }
    }

    @Override
    public String name() {
        return "pytorch";
    }

    @Override
    public String describe() {
        return "PyTorch " + djl.getVersion() + " via DJL " + ai.djl.engine.Engine.getDjlVersion();
    }

    Device resolve(DeviceSpec spec) {
        int gpus = djl.getGpuCount();
        return switch (spec.kind()) {
            case CPU -> Device.cpu();
            case AUTO -> gpus > 0 ? Device.gpu(0) : Device.cpu();
            case GPU -> {
                if (spec.index() >= gpus) {
                    throw new EngineException(
                            "device " + spec + " requested but the PyTorch engine sees " + gpus + " GPU(s);"
                                    + " use --device cpu, or put ai.djl.pytorch:pytorch-native-cu* natives on the"
                                    + " classpath of a machine with CUDA");
                }
                yield Device.gpu(spec.index());
            }
        };
    }

    @Override
    public LoweredModel lower(ModelDefinition definition, ParameterSource values, EngineOptions options) {
        Device device = resolve(options.device());
        if (options.numThreads() > 0) {
            JniUtils.setNumThreads(options.numThreads());
        }
        JniUtils.setSeed(options.seed());
        PtNDManager root = (PtNDManager) djl.newBaseManager(device);
        try {
            LoweredModel lowered = new PtLoweredModel(definition, values, root, device);
            LOG.debug("lowered {} onto {} ({} parameters)", definition.architecture(), device,
                    definition.parameters().elementCount());
            return lowered;
        } catch (RuntimeException e) {
            root.close();
            throw e;
        }
    }

    @Override
    public void close() {
        // DJL's engine is process-wide; models own and release their memory.
    }
}
