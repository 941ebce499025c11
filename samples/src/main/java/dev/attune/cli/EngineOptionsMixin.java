package dev.attune.cli;

import dev.attune.Attune;
import dev.attune.engine.DeviceSpec;
import picocli.CommandLine.Option;

/** Options every command that runs a model shares: engine, device, threads. */
final class EngineOptionsMixin {
    @Option(names = "--engine", description = "engine to run on (pytorch, tensorflow, ...); default: the one on the class path")
    String engine;

    @Option(names = "--device", defaultValue = "auto", description = "auto, cpu, gpu or gpu:N (default: ${DEFAULT-VALUE})")
    String device;

    @Option(names = "--threads", defaultValue = "0", description = "intra-op CPU threads; 0 = engine default")
    int threads;

    Attune.Builder builder() {
        return Attune.builder().engine(engine).device(DeviceSpec.parse(device)).numThreads(threads);
    }
}
