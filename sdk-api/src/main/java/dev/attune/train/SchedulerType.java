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
    CONSTANT_WITH_WARMUP,
    /**
     * Linear warmup, then {@code numCycles} cosine waves each falling from the peak to 0 and jumping
     * back up (SGDR warm restarts; HuggingFace's {@code cosine_with_restarts}).
     */
    COSINE_WITH_RESTARTS,
    /**
     * Linear warmup, then polynomial decay {@code (1 - progress)^power} from the peak down to a final
     * rate (HuggingFace's {@code polynomial}, whose default end rate is 1e-7 and power 1).
     */
    POLYNOMIAL,
    /**
     * ULMFiT's slanted triangular rate (Howard and Ruder, 2018): a short linear rise over the warmup
     * steps (10% of the run when no warmup is set) from peak/32 to the peak, then a long linear fall
     * back to peak/32.
     */
    SLANTED_TRIANGULAR;

    /** Ratio of the peak to the lowest rate of {@link #SLANTED_TRIANGULAR} (the paper's value). */
    public static final double SLANTED_RATIO = 32;
    /** Rise fraction of {@link #SLANTED_TRIANGULAR} when no warmup is set (the paper's cut_frac). */
    public static final double SLANTED_CUT_FRACTION = 0.1;

    /**
     * @param name {@code linear}, {@code cosine}, {@code cosine_with_restarts}, {@code polynomial},
     *     {@code constant}, {@code constant_with_warmup} or {@code slanted_triangular}
     * @return the type
     */
    public static SchedulerType parse(String name) {
        try {
            return valueOf(name.trim().toUpperCase(java.util.Locale.ROOT).replace('-', '_'));
        } catch (IllegalArgumentException e) {
            throw new dev.attune.error.ConfigurationException("unknown lr scheduler '" + name + "'; use linear, cosine, "
                    + "cosine_with_restarts, polynomial, constant, constant_with_warmup or slanted_triangular");
        }
    }

    /**
     * The multiplier of the base learning rate for the update that follows {@code step} completed
     * updates, exactly as HuggingFace's {@code get_scheduler} lambdas compute it (one cosine cycle,
     * polynomial power 1 down to 0).
     *
     * @param step completed optimizer steps (0 for the first update)
     * @param warmup warmup steps
     * @param total total optimizer steps
     * @return the factor
     */
    public double factor(long step, long warmup, long total) {
        return factor(step, warmup, total, 1, 1.0, 0.0);
    }

    /**
     * The multiplier of the base learning rate for the update that follows {@code step} completed
     * updates.
     *
     * @param step completed optimizer steps (0 for the first update)
     * @param warmup warmup steps
     * @param total total optimizer steps
     * @param numCycles cosine waves of {@link #COSINE_WITH_RESTARTS} ({@code num_cycles})
     * @param power exponent of {@link #POLYNOMIAL} ({@code power})
     * @param endFactor final rate of {@link #POLYNOMIAL} as a fraction of the peak ({@code lr_end / lr})
     * @return the factor
     */
    public double factor(long step, long warmup, long total, double numCycles, double power, double endFactor) {
        if (this == CONSTANT) {
            return 1.0;
        }
        if (this == SLANTED_TRIANGULAR) {
            long cut = warmup > 0 ? warmup : Math.max(1, (long) Math.floor(total * SLANTED_CUT_FRACTION));
            double p = step < cut
                    ? (double) step / cut
                    : Math.max(0.0, 1.0 - (double) (step - cut) / Math.max(1, total - cut));
            return (1 + p * (SLANTED_RATIO - 1)) / SLANTED_RATIO;
        }
        if (step < warmup) {
            return (double) step / Math.max(1, warmup);
        }
        double progress = (double) (step - warmup) / Math.max(1, total - warmup);
        return switch (this) {
            case LINEAR -> Math.max(0.0, (double) (total - step) / Math.max(1, total - warmup));
            case COSINE -> Math.max(0.0, 0.5 * (1.0 + Math.cos(Math.PI * progress)));
            case COSINE_WITH_RESTARTS -> progress >= 1.0
                    ? 0.0
                    : Math.max(0.0, 0.5 * (1.0 + Math.cos(Math.PI * ((numCycles * progress) % 1.0))));
            case POLYNOMIAL -> step > total
                    ? endFactor
                    : (1 - endFactor) * Math.pow(1 - progress, power) + endFactor;
            default -> 1.0;
        };
    }
}
