package dev.attune.engine.tensorflow;

import dev.attune.engine.Engine;
import dev.attune.engine.EngineOptions;
import dev.attune.engine.LoweredModel;
import dev.attune.engine.Engine.ParameterSource;
import dev.attune.error.EngineException;
import dev.attune.model.ModelDefinition;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * TensorFlow (the TensorFlow Java release bundled by DJL's tensorflow engine, natives from Maven
 * Central) running definitions as graphs, with graph-mode training.
 */
final class TensorFlowEngine implements Engine {
    private static final Logger LOG = LoggerFactory.getLogger(TensorFlowEngine.class);

    private final ai.djl.engine.Engine djl;

    TensorFlowEngine() {
        if (System.getProperty("ai.djl.offline") == null) {
            System.setProperty("ai.djl.offline", "true");
        }
        TfNatives.prepare();
        try {
            // DJL loads the natives (and points JavaCPP at them) for its own engine and for TF Java
            djl = ai.djl.engine.Engine.getEngine("TensorFlow");
        } catch (RuntimeException | UnsatisfiedLinkError e) {
            throw new EngineException("could not start DJL's TensorFlow engine: " + e.getMessage()
                    + ". attune-engine-tensorflow needs org.tensorflow:tensorflow-core-native:" + TfNatives.VERSION
                    + " (classifier linux-x86_64) on the classpath", e);
        }
    }

    @Override
    public String name() {
        return "tensorflow";
    }

    @Override
    public String describe() {
        return "TensorFlow " + djl.getVersion() + " (TensorFlow Java " + TfNatives.VERSION + ") via DJL "
                + ai.djl.engine.Engine.getDjlVersion();
    }

    @Override
    public LoweredModel lower(ModelDefinition definition, ParameterSource values, EngineOptions options) {
        if (options.device().kind() == dev.attune.engine.EngineOptions.DeviceSpec.Kind.GPU) {
            throw new EngineException("device " + options.device() + " requested but attune-engine-tensorflow ships CPU "
                    + "natives only; use --device cpu, or the PyTorch engine for GPUs");
        }
        TfLoweredModel lowered = new TfLoweredModel(definition, values, options.numThreads());
        LOG.debug("lowered {} into a TensorFlow graph ({} parameters)", definition.architecture(),
                definition.parameters().elementCount());
        return lowered;
    }

    @Override
    public void close() {
        // sessions and graphs belong to the lowered models
    }
}
