package dev.attune.train;

/** When the trainer evaluates, as HuggingFace's {@code eval_strategy}. */
public enum EvalStrategy {
    /** Never during training. */
    NO,
    /** Every {@code eval_steps} optimizer steps (and at the end). */
    STEPS,
    /** At the end of every epoch. */
    EPOCH
}
