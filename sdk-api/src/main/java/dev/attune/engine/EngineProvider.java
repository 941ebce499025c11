package dev.attune.engine;

import org.apiguardian.api.API;

/**
 * SPI of an engine module, found with {@link java.util.ServiceLoader}. Cheap to construct: native
 * libraries load only in {@link #create()}.
 */
@API(status = API.Status.STABLE, since = "0.1")
public interface EngineProvider {
    /** @return the engine's name ({@code pytorch}, {@code tensorflow}, {@code onnx}) */
    String name();

    /** @return preference when several engines are present: the lowest rank is the default */
    int rank();

    /** @return whether this engine can train (false for inference-only engines) */
    default boolean canTrain() {
        return true;
    }

    /**
     * Starts the engine, loading its natives.
     *
     * @return the engine
     * @throws dev.attune.error.EngineException when the natives cannot be loaded
     */
    Engine create();

    /**
     * Starts the engine for the options it will lower with, so it can load the natives the device needs
     * (the CUDA build for a GPU). By default {@link #create()}.
     *
     * @param options device, threads and seed
     * @return the engine
     * @throws dev.attune.error.EngineException when the natives cannot be loaded, or the device cannot be had
     */
    @API(status = API.Status.EXPERIMENTAL, since = "0.2")
    default Engine create(EngineOptions options) {
        return create();
    }
}
