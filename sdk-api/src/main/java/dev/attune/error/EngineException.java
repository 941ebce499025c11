package dev.attune.error;

import org.apiguardian.api.API;

/** The engine failed: no engine was found, the requested device is unavailable, or a native call failed. */
@API(status = API.Status.STABLE, since = "0.1")
public class EngineException extends AttuneException {
    private static final long serialVersionUID = 1L;

    /** @param message what went wrong, where, and what to do */
    public EngineException(String message) {
        super(message);
    }

    /**
     * @param message what went wrong, where, and what to do
     * @param cause the underlying failure
     */
    public EngineException(String message, Throwable cause) {
        super(message, cause);
    }

    /**
     * The engine ran out of memory: a native allocation failed (libtorch's CPU allocator, CUDA), or the
     * JVM threw {@link OutOfMemoryError} inside an engine call. The model and the optimizer are as they
     * were before the failed call; its gradients may hold part of the failed pass and should be
     * dropped. The trainer's {@code autoFindBatchSize} catches it and retries with half the batch.
     */
    @API(status = API.Status.EXPERIMENTAL, since = "0.2")
    public static class OutOfMemory extends EngineException {
        private static final long serialVersionUID = 1L;

        /**
         * @param message what ran out, where, and what to do
         * @param cause the engine's failure
         */
        public OutOfMemory(String message, Throwable cause) {
            super(message, cause);
        }
    }
}
