package dev.attune.engine;

/**
 * The training side of a lowered model: forward and backward passes that accumulate gradients, and
 * optimizer steps.
 */
public interface TrainingSession extends AutoCloseable {
    /**
     * Runs forward (training mode) and backward, adding {@code lossScale * d(loss)} to the gradients.
     *
     * @param batch inputs including labels
     * @param lossScale factor on the loss before backward (1 / accumulation steps)
     * @return the unscaled loss of the batch
     */
    float forwardBackward(Batch batch, float lossScale);

    /**
     * Clips the accumulated gradients to the global norm, applies one AdamW step and clears the
     * gradients.
     *
     * @param learningRate learning rate for this step
     * @return the global gradient norm before clipping
     */
    float step(double learningRate);

    /** @return optimizer steps taken */
    long steps();

    @Override
    void close();
}
