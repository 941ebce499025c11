package dev.attune.engine;

/**
 * How an engine runs a model.
 *
 * @param device where to run
 * @param numThreads intra-op CPU threads (0 = engine default)
 * @param seed seed for the engine's random numbers (dropout)
 */
public record EngineOptions(DeviceSpec device, int numThreads, long seed) {
    /** @return CPU, engine-default threads, seed 42 */
    public static EngineOptions defaults() {
        return new EngineOptions(DeviceSpec.AUTO, 0, 42);
    }
}
