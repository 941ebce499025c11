package dev.attune.core.train;

import dev.attune.error.InvalidCheckpointException;
import dev.attune.ops.TensorData;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import org.apiguardian.api.API;

/**
 * Dynamic loss scaling for float16 training, with {@code torch.amp.GradScaler}'s defaults: the loss
 * is multiplied by the scale before the backward pass (so small float16 gradients do not flush to
 * zero), the optimizer divides the gradients by it again, and a step whose gradients hold an inf or
 * a NaN is skipped. Each skipped step halves the scale ({@value #BACKOFF_FACTOR}); after {@value
 * #GROWTH_INTERVAL} good steps in a row it doubles ({@value #GROWTH_FACTOR}). It starts at {@value
 * #INIT_SCALE}.
 *
 * <p>Its state (the scale and the count of good steps since the last change) is two tensors that a
 * checkpoint keeps next to the optimizer's moments ({@link #state()}, {@link #fromState}), so a
 * resumed run scales exactly as the interrupted one would have.
 */
@API(status = API.Status.INTERNAL, since = "0.2")
public final class GradScaler {
    /** The first scale ({@code init_scale}). */
    public static final double INIT_SCALE = 65536.0;
    /** Factor on the scale after {@link #GROWTH_INTERVAL} good steps ({@code growth_factor}). */
    public static final double GROWTH_FACTOR = 2.0;
    /** Factor on the scale after a step with an inf or NaN gradient ({@code backoff_factor}). */
    public static final double BACKOFF_FACTOR = 0.5;
    /** Good steps in a row before the scale grows ({@code growth_interval}). */
    public static final int GROWTH_INTERVAL = 2000;

    /** Checkpoint tensor of the scale (torch's state_dict key {@code scale}). */
    public static final String SCALE_KEY = "grad_scaler/scale";
    /** Checkpoint tensor of the good-step count (torch's {@code _growth_tracker}). */
    public static final String GROWTH_TRACKER_KEY = "grad_scaler/growth_tracker";

    private double scale;
    private long growthTracker;
    private long skipped;

    /** A scaler at its initial scale. */
    public GradScaler() {
        this(INIT_SCALE, 0);
    }

    /**
     * @param scale the current scale (positive)
     * @param growthTracker good steps since the scale last changed
     */
    public GradScaler(double scale, long growthTracker) {
        if (!(scale > 0) || Double.isInfinite(scale) || growthTracker < 0) {
            throw new IllegalArgumentException("a loss scale is positive and finite and the tracker non-negative, got "
                    + scale + " and " + growthTracker);
        }
        this.scale = scale;
        this.growthTracker = growthTracker;
    }

    /** @return the factor on the loss for the next backward passes */
    public double scale() {
        return scale;
    }

    /** @return good steps since the scale last changed */
    public long growthTracker() {
        return growthTracker;
    }

    /** @return steps skipped by this scaler since it was made (not kept in checkpoints) */
    public long skipped() {
        return skipped;
    }

    /**
     * Moves the scale after a step, as {@code GradScaler.update()}.
     *
     * @param foundInf whether the step's gradients held an inf or NaN (the step was skipped)
     */
    public void update(boolean foundInf) {
        if (foundInf) {
            scale *= BACKOFF_FACTOR;
            growthTracker = 0;
            skipped++;
            return;
        }
        growthTracker++;
        if (growthTracker == GROWTH_INTERVAL) {
            scale *= GROWTH_FACTOR;
            growthTracker = 0;
        }
    }

    /** @return the scale and the tracker as two one-element FLOAT32 tensors, for a checkpoint */
    public Map<String, TensorData> state() {
        Map<String, TensorData> s = new LinkedHashMap<>();
        s.put(SCALE_KEY, TensorData.ofFloats(new long[] {1}, new float[] {(float) scale}));
        s.put(GROWTH_TRACKER_KEY, TensorData.ofFloats(new long[] {1}, new float[] {growthTracker}));
        return s;
    }

    /**
     * @param tensors a checkpoint's optimizer tensors
     * @return the scaler they hold, or empty when they hold none (a run without loss scaling)
     * @throws InvalidCheckpointException when only one of the two tensors is there or a value is invalid
     */
    public static Optional<GradScaler> fromState(Map<String, TensorData> tensors) {
        TensorData s = tensors.get(SCALE_KEY);
        TensorData t = tensors.get(GROWTH_TRACKER_KEY);
        if (s == null && t == null) {
            return Optional.empty();
        }
        if (s == null || t == null) {
            throw new InvalidCheckpointException("the checkpoint's optimizer tensors hold " + (s == null ? "" : SCALE_KEY)
                    + (t == null ? "" : GROWTH_TRACKER_KEY) + " without its partner; the checkpoint is damaged: resume"
                    + " from an earlier one");
        }
        float scale = s.toFloatArray()[0];
        float tracker = t.toFloatArray()[0];
        if (!(scale > 0) || Float.isInfinite(scale) || tracker < 0 || tracker != Math.rint(tracker)) {
            throw new InvalidCheckpointException("the checkpoint's loss scaler holds scale " + scale + " and tracker "
                    + tracker + "; the checkpoint is damaged: resume from an earlier one");
        }
        return Optional.of(new GradScaler(scale, (long) tracker));
    }
}
