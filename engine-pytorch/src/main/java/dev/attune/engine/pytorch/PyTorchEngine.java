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

/** DJL's PyTorch engine (libtorch: CPU natives from Maven Central, or a CUDA build) running definitions eagerly. */
final class PyTorchEngine implements Engine {
    private static final Logger LOG = LoggerFactory.getLogger(PyTorchEngine.class);

    private final ai.djl.engine.Engine djl;

    private final NativeSelection.Choice natives;

    PyTorchEngine() {
        this(EngineOptions.defaults());
    }

    /**
     * Starts DJL's engine with the libtorch {@link NativeSelection} chooses for the requested device:
     * the CPU natives from Maven Central, a CUDA build (from DJL's cache, or downloaded by DJL on first
     * use), or the one {@code PYTORCH_LIBRARY_PATH} names.
     */
    PyTorchEngine(EngineOptions options) {
        NativeSelection.Choice choice = NativeSelection.choose(NativeFacts.detect(options.device().kind()));
        this.natives = choice;
        LOG.info("libtorch: {} ({})", choice.source(), choice.reason());
        Tf32.apply(Boolean.getBoolean(PyTorchEngineProvider.TF32), choice);
        // DJL's usage report stays off (offline mode, which Attune sets elsewhere, also did that)
        if (NativeFacts.envOrProperty("OPT_OUT_TRACKING") == null) {
            System.setProperty("OPT_OUT_TRACKING", "true");
        }
        if (!choice.downloads() && System.getProperty("ai.djl.offline") == null) {
            System.setProperty("ai.djl.offline", "true");
        }
        try {
            djl = NativeFacts.start(choice);
        } catch (RuntimeException | UnsatisfiedLinkError | AssertionError e) {
            String what = switch (choice.source()) {
                case BUNDLED_CPU -> "attune-engine-pytorch needs ai.djl.pytorch:pytorch-native-cpu (classifier"
                        + " linux-x86_64) on the classpath";
                case LIBRARY_PATH -> "PYTORCH_LIBRARY_PATH must name the lib folder of libtorch 2.7.1 (cpu or "
                        + NativeSelection.CUDA_FLAVOR + "), the version DJL 0.36's bridge is built for";
                case CUDA_CACHED -> "the CUDA libtorch in DJL's cache may be incomplete: delete that folder and run"
                        + " again online, or use --device cpu";
                case CUDA_DOWNLOAD -> "DJL could not download CUDA libtorch (" + choice.flavor() + "): check the"
                        + " network (https://publish.djl.ai), or set PYTORCH_LIBRARY_PATH, or use --device cpu";
            };
            throw new EngineException("could not start DJL's PyTorch engine: " + e.getMessage() + ". " + what, e);
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
        int gpus = gpuCount();
        return switch (spec.kind()) {
            case CPU -> Device.cpu();
            case AUTO -> gpus > 0 ? Device.gpu(0) : Device.cpu();
            case GPU -> {
                if (spec.index() >= gpus) {
                    throw new EngineException(
                            "device " + spec + " requested but the PyTorch engine sees " + gpus + " GPU(s) (libtorch: "
                                    + natives.source() + ", " + natives.reason() + "); use --device cpu, or a"
                                    + " device index below " + Math.max(gpus, 1) + (gpus == 0 ? "; libtorch loads"
                                    + " once per process, so a CPU build loaded earlier stays" : ""));
                }
                yield Device.gpu(spec.index());
            }
        };
    }

    /**
     * @return the GPUs this engine can use: none with the CPU build; else DJL's count (through a CUDA
     *     runtime on the library path) or the driver's (a machine with only the driver has no such runtime)
     */
    private int gpuCount() {
        if (natives.source() == NativeSelection.Source.BUNDLED_CPU) {
            return 0; // the CPU build was chosen (a GPU DJL counts would crash it)
        }
        int gpus = djl.getGpuCount();
        return gpus > 0 ? gpus : NativeFacts.driverGpuCount();
    }

    @Override
    public LoweredModel lower(ModelDefinition definition, ParameterSource values, EngineOptions options) {
        Device device = resolve(options.device());
        IntraOpThreads.apply(options.numThreads());
        JniUtils.setSeed(options.seed());
        PtNDManager root = (PtNDManager) djl.newBaseManager(device);
        try {
            LoweredModel lowered = new PtLoweredModel(definition, values, root, device, options.numThreads());
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
