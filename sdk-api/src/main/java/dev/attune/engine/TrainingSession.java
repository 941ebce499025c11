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

    /**
     * Snapshots the optimizer state (moments and step count) on the host, for a checkpoint.
     *
     * @return the state
     * @throws UnsupportedOperationException when the engine cannot save optimizer state
     */
    default OptimizerState optimizerState() {
        throw new UnsupportedOperationException(getClass().getSimpleName() + " cannot save optimizer state");
    }

    /**
     * Puts a model and its optimizer back as a checkpoint held them: parameter values, moments and
     * the step count. Every trainable parameter must be present in both maps.
     *
     * @param parameters parameter values by name (as {@code FineTunedModel.stateDict()} gives them)
     * @param state the optimizer state from {@link #optimizerState()}
     * @throws dev.attune.error.InvalidCheckpointException when a tensor is missing or has another shape
     * @throws UnsupportedOperationException when the engine cannot restore optimizer state
     */
    default void restore(java.util.Map<String, dev.attune.ops.TensorData> parameters, OptimizerState state) {
        throw new UnsupportedOperationException(getClass().getSimpleName() + " cannot restore optimizer state");
    }

    /**
     * Reseeds the engine's random generator that dropout draws from. The trainer calls this before
     * every forward pass with a seed derived from the run's seed and the pass's position, so the
     * random stream is a function of the position in training and a resumed run draws the same masks.
     *
     * @param seed the seed
     */
    default void reseed(long seed) {
    }

    /**
     * Stops or resumes updates of parameters during training (gradual unfreezing): frozen parameters
     * get no gradient, no moment update and no weight decay, and do not count in the gradient norm.
     * Parameters frozen in {@link OptimizerSettings#frozen()} stay frozen whatever this says.
     *
     * @param names the parameters to hold fixed from now on (replaces the previous set)
     * @throws UnsupportedOperationException when the engine cannot change this during training
     */
    default void setFrozen(java.util.Set<String> names) {
        if (!names.isEmpty()) {
            throw new UnsupportedOperationException(getClass().getSimpleName() + " cannot freeze during training");
        }
    }

    @Override
    void close();
}
