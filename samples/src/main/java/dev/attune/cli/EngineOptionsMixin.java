package dev.attune.cli;

import dev.attune.Attune;
import dev.attune.PluginRegistry;
import dev.attune.engine.EngineOptions.DeviceSpec;
import dev.attune.model.ModelSource;
import picocli.CommandLine.Option;

/** Options every command that runs a model shares: engine, device, threads. */
final class EngineOptionsMixin {
    @Option(names = "--engine", description = "engine to run on (pytorch, tensorflow, ...); default: the one on the class path")
    String engine;

    @Option(names = "--device", defaultValue = "auto", description = "auto, cpu, gpu or gpu:N (default: ${DEFAULT-VALUE})")
    String device;

    @Option(names = "--threads", defaultValue = "0", description = "intra-op CPU threads; 0 = engine default")
    int threads;

    @Option(names = "--tf32", description = "pytorch on a GPU: let float32 matrix products use TF32 tensor cores"
            + " (Ampere and newer; HuggingFace's --tf32); no effect on the CPU")
    boolean tf32;

    Attune.Builder builder() {
        if (tf32) {
            System.setProperty(dev.attune.engine.pytorch.PyTorchEngineProvider.TF32, "true");
        }
        return Attune.builder().engine(engine).device(DeviceSpec.parse(device)).numThreads(threads);
    }

    /**
     * The builder for running a model: without {@code --engine}, the engine its source prefers (the
     * onnx engine for an ONNX file or export folder), else the default.
     *
     * @param registry the plugins the model was resolved with
     * @param model the model's source
     * @return the builder
     */
    Attune.Builder builder(PluginRegistry registry, ModelSource model) {
        String chosen = engine != null ? engine : model.preferredEngine().orElse(null);
        return builder().registry(registry).engine(chosen);
    }
}
