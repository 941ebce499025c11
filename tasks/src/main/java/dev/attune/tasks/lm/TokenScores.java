package dev.attune.tasks.lm;

import dev.attune.ops.DType;
import dev.attune.ops.Ops;
import dev.attune.ops.Tensor;

/**
 * Per-token scores of vocabulary logits, computed on the engine so that only one value per token
 * leaves it: negative log-likelihood of a target token and whether it is the arg-max.
 */
final class TokenScores {
    /** Output: negative log-likelihood of each position's target, [B, T]. */
    static final String TOKEN_NLL = "token_nll";
    /** Output: 1 where the target is (one of) the most probable tokens, else 0, [B, T]. */
    static final String TOKEN_CORRECT = "token_correct";
    /** The label value that excludes a position from the loss, as in HuggingFace. */
    static final long IGNORE_INDEX = -100;

    private TokenScores() {}

    /**
     * @param targets [B, T] INT64 token ids, each in the vocabulary
     * @return the targets as [B, T, 1], for gathering along the vocabulary axis
     */
    private static Tensor index(Ops ops, Tensor targets) {
        return ops.unsqueeze(targets, -1);
    }

    /**
     * @param logits [B, T, V]
     * @param targets [B, T] INT64 ids in [0, V)
     * @return [B, T]: {@code -log softmax(logits)[target]}
     */
    static Tensor nll(Ops ops, Tensor logits, Tensor targets) {
        Tensor logp = ops.logSoftmax(logits, -1);
        Tensor picked = ops.gather(logp, 2, index(ops, targets));
        // [B, T, V]: the backward pass keeps what it needs of it by itself; an eager engine drops its handle now
        ops.release(logp);
        return ops.neg(ops.sum(picked, 2, false));
    }

    /**
     * @param logits [B, T, V]
     * @param targets [B, T] INT64 ids in [0, V)
     * @return [B, T] FLOAT32: 1 where no logit exceeds the target's (ties count as correct)
     */
    static Tensor correct(Ops ops, Tensor logits, Tensor targets) {
        Tensor best = ops.max(logits, 2, false);
        Tensor picked = ops.sum(ops.gather(logits, 2, index(ops, targets)), 2, false);
        return ops.sub(ops.scalar(1f), ops.cast(ops.greater(best, picked), DType.FLOAT32));
    }

    /**
     * @param labels [B, T] INT64, {@link #IGNORE_INDEX} where a position is not scored
     * @return the labels with ignored positions replaced by id 0, so that they can be gathered
     */
    static Tensor safe(Ops ops, Tensor labels) {
        return ops.where(ops.notEqual(labels, IGNORE_INDEX), labels, ops.cast(ops.scalar(0f), DType.INT64));
    }

    /**
     * @param nll [B, T] per-position losses
     * @param labels [B, T] INT64, {@link #IGNORE_INDEX} where a position does not count
     * @return the mean of {@code nll} over counted positions (0 when none counts), as PyTorch's
     *     cross-entropy with {@code ignore_index} computes it
     */
    static Tensor maskedMean(Ops ops, Tensor nll, Tensor labels) {
        Tensor weight = ops.cast(ops.notEqual(labels, IGNORE_INDEX), DType.FLOAT32);
        Tensor total = ops.sumAll(ops.mul(nll, weight));
        // a batch whose every position is ignored gives 0 rather than 0/0
        return ops.div(total, ops.add(ops.sumAll(weight), 1e-12f));
    }
}
