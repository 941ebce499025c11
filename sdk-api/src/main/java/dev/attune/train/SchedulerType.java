package dev.attune.train;

/** Learning-rate schedules, named as HuggingFace's {@code lr_scheduler_type}. */
public enum SchedulerType {
    /** Linear warmup, then linear decay to 0 at the last step. */
    LINEAR,
    /** Linear warmup, then half a cosine wave down to 0. */
    COSINE,
    /** The same rate throughout (warmup ignored, as HuggingFace's {@code constant}). */
    CONSTANT,
    /** Linear warmup, then constant. */
    CONSTANT_WITH_WARMUP;

    /**
     * @param name {@code linear}, {@code cosine}, {@code constant} or {@code constant_with_warmup}
     * @return the type
     */
    public static SchedulerType parse(String name) {
        try {
            return valueOf(name.trim().toUpperCase(java.util.Locale.ROOT).replace('-', '_'));
        } catch (IllegalArgumentException e) {
            throw new dev.attune.error.ConfigurationException(
                    "unknown lr scheduler '" + name + "'; use linear, cosine, constant or constant_with_warmup");
        }
    }

    /**
     * The multiplier of the base learning rate for the update that follows {@code step} completed
     * updates, exactly as HuggingFace's {@code get_scheduler} lambdas compute it.
     *
     * @param step completed optimizer steps (0 for the first update)
     * @param warmup warmup steps
     * @param total total optimizer steps
     * @return the factor
     */
    public double factor(long step, long warmup, long total) {
        if (this == CONSTANT) {
            return 1.0;
        }
        if (step < warmup) {
            return (double) step / Math.max(1, warmup);
        }
        return switch (this) {
            case LINEAR -> Math.max(0.0, (double) (total - step) / Math.max(1, total - warmup));
            case COSINE -> {
                double progress = (double) (step - warmup) / Math.max(1, total - warmup);
                yield Math.max(0.0, 0.5 * (1.0 + Math.cos(Math.PI * progress)));
            }
            default -> 1.0;
        };
    }
}
