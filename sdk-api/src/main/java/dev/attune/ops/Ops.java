package dev.attune.ops;

import org.apiguardian.api.API;

/**
 * The ops contract: the only operations architectures ({@code models/}) and task heads are written
 * against. Each engine lowers it once: engine-pytorch to eager DJL arrays with autograd,
 * engine-tensorflow to graph nodes, engine-onnx to ONNX nodes.
 *
 * <p>Shapes follow NumPy broadcasting. Axes may be negative (counted from the end). Batch and
 * sequence dimensions are dynamic, so shape-changing ops take relative specifications: in {@link
 * #reshape} a 0 copies the input dimension at that position and a -1 is inferred, as in ONNX.
 *
 * <p>Default methods are composites written once in terms of the primitives; an engine may override
 * one with a fused kernel when the result is the same within float32 rounding.
 */
@API(status = API.Status.STABLE, since = "0.1")
public interface Ops {

    // ---------------------------------------------------------------- values

    /**
     * @param p a parameter declared by the definition being run
     * @return its current value
     */
    Tensor parameter(Parameter p);

    /**
     * @param value a float32 scalar
     * @return a rank-0 constant
     */
    Tensor scalar(float value);

    /**
     * @param shape dimensions (static)
     * @param values row-major float32 values
     * @return a constant tensor
     */
    Tensor constant(long[] shape, float[] values);

    /** @return true while training (dropout active) */
    boolean isTraining();

    // ---------------------------------------------------------------- elementwise

    /** @return {@code a + b} (broadcasting) */
    Tensor add(Tensor a, Tensor b);

    /** @return {@code a - b} (broadcasting) */
    Tensor sub(Tensor a, Tensor b);

    /** @return {@code a * b} (broadcasting) */
    Tensor mul(Tensor a, Tensor b);

    /** @return {@code a / b} (broadcasting) */
    Tensor div(Tensor a, Tensor b);

    /** @return {@code x * s} */
    default Tensor mul(Tensor x, float s) {
        return mul(x, scalar(s));
    }

    /** @return {@code x + s} */
    default Tensor add(Tensor x, float s) {
        return add(x, scalar(s));
    }

    /** @return {@code -x} */
    default Tensor neg(Tensor x) {
        return mul(x, -1f);
    }

    /** @return {@code e^x} */
    Tensor exp(Tensor x);

    /** @return natural logarithm */
    Tensor log(Tensor x);

    /** @return square root */
    Tensor sqrt(Tensor x);

    /** @return {@code x^exponent} */
    Tensor pow(Tensor x, float exponent);

    /** @return hyperbolic tangent */
    Tensor tanh(Tensor x);

    /** @return logistic sigmoid */
    Tensor sigmoid(Tensor x);

    /** @return {@code max(x, 0)} */
    Tensor relu(Tensor x);

    /** @return the Gauss error function */
    Tensor erf(Tensor x);

    /**
     * Cosine (ONNX {@code Cos}, {@code tf.cos}); with {@link #sin} it builds rotary position
     * embeddings (Llama, Qwen, Mistral) from position angles.
     *
     * @param x angles in radians
     * @return elementwise {@code cos(x)}
     */
    Tensor cos(Tensor x);

    /**
     * Sine (ONNX {@code Sin}, {@code tf.sin}).
     *
     * @param x angles in radians
     * @return elementwise {@code sin(x)}
     */
    Tensor sin(Tensor x);

    /** @return exact GELU, {@code x * Phi(x)} (HuggingFace {@code gelu}) */
    default Tensor gelu(Tensor x) {
        Tensor cdf = mul(add(erf(mul(x, (float) (1 / Math.sqrt(2)))), 1f), 0.5f);
        return mul(x, cdf);
    }

    /**
     * @return the tanh approximation of GELU (HuggingFace {@code gelu_new}, {@code gelu_pytorch_tanh},
     *     TF Hub's encoders)
     */
    default Tensor geluTanh(Tensor x) {
        Tensor cube = mul(mul(x, x), x);
        Tensor inner = mul(add(x, mul(cube, 0.044715f)), (float) Math.sqrt(2 / Math.PI));
        return mul(mul(x, 0.5f), add(tanh(inner), 1f));
    }

    // ---------------------------------------------------------------- neural network

    /**
     * @param x input {@code [..., in]}
     * @param weight {@code [out, in]} (HuggingFace / PyTorch layout)
     * @param bias {@code [out]} or null
     * @return {@code x W^T + b}
     */
    default Tensor linear(Tensor x, Tensor weight, Tensor bias) {
        Tensor y = matmul(x, transpose(weight, 1, 0));
        return bias == null ? y : add(y, bias);
    }

    /**
     * A linear map added to a tensor of the result's shape: {@code addend + x W^T}. LoRA adds its
     * up-projection to the frozen layer's output this way; an engine may do it in one matrix
     * product that accumulates into the addend's values ({@code addmm}), without a layer-sized
     * intermediate.
     *
     * @param x input {@code [..., in]}
     * @param weight {@code [out, in]}
     * @param addend {@code [..., out]}, the shape of the product
     * @return {@code addend + x W^T}
     */
    default Tensor linearAdd(Tensor x, Tensor weight, Tensor addend) {
        return add(addend, linear(x, weight, null));
    }

    /**
     * Batched matrix product over the last two axes, broadcasting leading axes.
     *
     * @return {@code a @ b}
     */
    Tensor matmul(Tensor a, Tensor b);

    /**
     * @param table {@code [rows, dim]}
     * @param ids integer tensor of any shape
     * @return {@code table[ids]}, shape {@code ids.shape + [dim]}
     */
    Tensor embedding(Tensor table, Tensor ids);

    /**
     * Layer normalisation over the last axis (biased variance, as PyTorch).
     *
     * @return {@code (x - mean) / sqrt(var + eps) * gamma + beta}
     */
    Tensor layerNorm(Tensor x, Tensor gamma, Tensor beta, float eps);

    /** @return softmax along {@code axis} */
    Tensor softmax(Tensor x, int axis);

    /** @return log-softmax along {@code axis} */
    Tensor logSoftmax(Tensor x, int axis);

    /**
     * Inverted dropout: identity when not training or {@code p == 0}.
     *
     * @param x input
     * @param p probability of zeroing an element
     * @return the input with dropout applied
     */
    Tensor dropout(Tensor x, float p);

    /**
     * Scaled dot-product attention, {@code dropout(softmax(q kᵀ scale + bias)) v}, in the order of
     * HuggingFace's eager attention. The default is that composite of the ops above; an engine may
     * replace it with a fused kernel that computes the same function (PyTorch's does when not
     * training).
     *
     * @param q queries, {@code [B, heads, Tq, d]}
     * @param k keys, {@code [B, heads, Tk, d]}
     * @param v values, {@code [B, heads, Tk, d]}
     * @param bias additive mask or position bias broadcastable to {@code [B, heads, Tq, Tk]}; null
     *     for none
     * @param scale factor on the scores ({@code 1/sqrt(d)} for most models, 1 for T5)
     * @param dropout dropout probability on the attention probabilities while training
     * @return the attended values, {@code [B, heads, Tq, d]}
     */
    default Tensor attention(Tensor q, Tensor k, Tensor v, Tensor bias, float scale, float dropout) {
        // Each [B, heads, Tq, Tk] temporary is released as soon as the next op has read it: the backward
        // pass needs only the probabilities (softmax's output) and the dropped-out ones, which autograd
        // keeps by itself; the raw, scaled and masked scores (three score-sized tensors per layer, about
        // 450 MB over BERT-base's twelve layers at batch 16, length 128) would otherwise live on an eager
        // engine until the whole forward pass ends.
        Tensor kt = transpose(k, 0, 1, 3, 2);
        Tensor scores = matmul(q, kt);
        release(kt);
        if (scale != 1f) {
            Tensor scaled = mul(scores, scale);
            release(scores);
            scores = scaled;
        }
        if (bias != null) {
            Tensor biased = add(scores, bias);
            release(scores);
            scores = biased;
        }
        Tensor probs = softmax(scores, -1);
        release(scores);
        Tensor dropped = dropout(probs, dropout);
        Tensor out = matmul(dropped, v);
        if (dropped != probs) {
            release(dropped);
        }
        release(probs);
        return out;
    }

    /**
     * A piece of a forward pass that {@link #checkpoint} may run more than once: one transformer
     * layer, taking the hidden state and returning the next. It must compute its result only from
     * {@code x}, parameters and tensors computed before the checkpoint, and must use the ops it is
     * given (a recomputation runs it on ops whose results live only as long as that recomputation).
     */
    @API(status = API.Status.EXPERIMENTAL, since = "0.2")
    @FunctionalInterface
    interface Segment {
        /**
         * @param ops the ops to compute with
         * @param x the segment's input
         * @return its output
         */
        Tensor apply(Ops ops, Tensor x);
    }

    /**
     * Runs a segment of the forward pass (HuggingFace's {@code gradient_checkpointing} unit, one
     * layer) whose intermediate activations an engine may drop after the forward pass and recompute
     * during the backward pass, keeping only the segment's input; the gradients are the same as
     * without it, bit for bit, dropout masks included. The default runs the segment once and keeps
     * everything; an engine that trains with gradient checkpointing overrides it.
     *
     * @param segment the segment
     * @param x its input
     * @return its output
     */
    @API(status = API.Status.EXPERIMENTAL, since = "0.2")
    default Tensor checkpoint(Segment segment, Tensor x) {
        return segment.apply(this, x);
    }

    // ---------------------------------------------------------------- shape

    /**
     * @param x input
     * @param dims target dimensions: 0 copies the input dimension at that index, -1 is inferred
     * @return the reshaped tensor
     */
    Tensor reshape(Tensor x, long... dims);

    /**
     * @param x input
     * @param perm a permutation of the axes
     * @return the permuted tensor
     */
    Tensor transpose(Tensor x, int... perm);

    /**
     * @param x input
     * @param axis axis to insert (size 1)
     * @return the expanded tensor
     */
    Tensor unsqueeze(Tensor x, int axis);

    /**
     * @param x input
     * @param axis axis to index
     * @param index position along the axis (non-negative)
     * @return {@code x} indexed at {@code index}, with that axis removed
     */
    Tensor select(Tensor x, int axis, long index);

    /**
     * @param x input
     * @param axis axis to slice
     * @param start first index (inclusive)
     * @param end last index (exclusive)
     * @return the slice
     */
    Tensor slice(Tensor x, int axis, long start, long end);

    /**
     * @param axis axis to join along
     * @param xs tensors with equal shapes except along {@code axis}
     * @return the concatenation
     */
    Tensor concat(int axis, Tensor... xs);

    /**
     * Gathers along an axis (NumPy {@code take_along_axis}, PyTorch {@code gather}).
     *
     * @param x input
     * @param axis axis to gather along
     * @param indices integer tensor of the same rank as {@code x}
     * @return {@code out[i][j] = x[i][indices[i][j]]} for {@code axis = 1}
     */
    Tensor gather(Tensor x, int axis, Tensor indices);

    /**
     * @param like any tensor
     * @param axis one of its axes
     * @return INT64 {@code [0, 1, ..., n-1]} where n is the (dynamic) size of {@code axis}
     */
    Tensor range(Tensor like, int axis);

    // ---------------------------------------------------------------- types, comparison, selection

    /** @return {@code x} converted to {@code type} */
    Tensor cast(Tensor x, DType type);

    /** @return boolean tensor {@code x != value} */
    Tensor notEqual(Tensor x, long value);

    /**
     * Elementwise equality (ONNX {@code Equal}, {@code tf.equal}).
     *
     * @param a input
     * @param b input of the same element type, broadcast against {@code a}
     * @return boolean tensor {@code a == b}, shape {@code broadcast(a.shape, b.shape)}
     */
    Tensor equal(Tensor a, Tensor b);

    /**
     * Elementwise comparison (ONNX {@code Greater}, {@code tf.greater}).
     *
     * @param a input
     * @param b input of the same element type, broadcast against {@code a}
     * @return boolean tensor {@code a > b}, shape {@code broadcast(a.shape, b.shape)}
     */
    Tensor greater(Tensor a, Tensor b);

    /** @return elementwise {@code condition ? a : b} (broadcasting) */
    Tensor where(Tensor condition, Tensor a, Tensor b);

    // ---------------------------------------------------------------- reductions

    /** @return sum along {@code axis} */
    Tensor sum(Tensor x, int axis, boolean keepDims);

    /** @return mean along {@code axis} */
    Tensor mean(Tensor x, int axis, boolean keepDims);

    /** @return sum of every element (rank 0) */
    Tensor sumAll(Tensor x);

    /**
     * Maximum along an axis (ONNX {@code ReduceMax}, {@code tf.reduce_max}); keeps the element type.
     *
     * @param x input
     * @param axis axis to reduce
     * @param keepDims whether the reduced axis stays with size 1
     * @return the maxima: {@code x.shape} without {@code axis} (or with it set to 1)
     */
    Tensor max(Tensor x, int axis, boolean keepDims);

    /**
     * Inclusive cumulative sum along an axis (ONNX {@code CumSum}, {@code tf.math.cumsum}); keeps the
     * element type, so integer inputs stay exact (RoBERTa's position ids).
     *
     * @param x input
     * @param axis axis to accumulate along
     * @return {@code out[..., i, ...] = sum_{j <= i} x[..., j, ...]}, same shape as {@code x}
     */
    Tensor cumsum(Tensor x, int axis);

    // ---------------------------------------------------------------- losses

    /**
     * Mean cross-entropy over the entries whose label is not {@code ignoreIndex}, as PyTorch's
     * {@code cross_entropy(logits, labels, ignore_index=...)}.
     *
     * @param logits {@code [N, C]}
     * @param labels {@code [N]}, INT64
     * @param ignoreIndex label value excluded from the loss (HuggingFace uses -100)
     * @return scalar loss
     */
    default Tensor crossEntropy(Tensor logits, Tensor labels, long ignoreIndex) {
        return crossEntropy(logits, labels, ignoreIndex, null);
    }

    /**
     * Class-weighted cross-entropy, as PyTorch's {@code cross_entropy(logits, labels, weight=w,
     * ignore_index=...)}: each entry's loss is scaled by the weight of its gold class and the sum is
     * divided by the sum of those weights, so with equal weights it equals {@link #crossEntropy}.
     *
     * @param logits {@code [N, C]}
     * @param labels {@code [N]}, INT64
     * @param ignoreIndex label value excluded from the loss
     * @param classWeights one positive weight per class ({@code C} values), or null for none
     * @return scalar loss
     */
    default Tensor crossEntropy(Tensor logits, Tensor labels, long ignoreIndex, float[] classWeights) {
        Tensor logp = logSoftmax(logits, -1);
        Tensor valid = notEqual(labels, ignoreIndex);
        Tensor safe = where(valid, labels, cast(scalar(0f), DType.INT64));
        Tensor picked = reshape(gather(logp, 1, unsqueeze(safe, 1)), -1);
        Tensor weight = cast(valid, DType.FLOAT32);
        if (classWeights != null) {
            // the gold class's weight per entry: a lookup in a [C, 1] table, which every engine lowers
            Tensor table = constant(new long[] {classWeights.length, 1}, classWeights);
            weight = mul(reshape(embedding(table, safe), -1), weight);
        }
        return neg(div(sumAll(mul(picked, weight)), sumAll(weight)));
    }

    /**
     * Mean binary cross-entropy on logits (PyTorch {@code binary_cross_entropy_with_logits}), in
     * the numerically stable form {@code max(x,0) - x*y + log(1 + exp(-|x|))}.
     *
     * @param logits any shape
     * @param targets same shape, FLOAT32 in [0, 1]
     * @return scalar loss
     */
    default Tensor binaryCrossEntropyWithLogits(Tensor logits, Tensor targets) {
        Tensor abs = sub(mul(relu(logits), 2f), logits);
        Tensor softplus = log(add(exp(neg(abs)), 1f));
        Tensor elem = add(sub(relu(logits), mul(logits, targets)), softplus);
        return mean(reshape(elem, -1), 0, false);
    }

    /**
     * Mean squared error (regression heads).
     *
     * @return scalar loss
     */
    default Tensor meanSquaredError(Tensor predictions, Tensor targets) {
        Tensor d = sub(predictions, targets);
        return mean(reshape(mul(d, d), -1), 0, false);
    }

    /**
     * Tells the engine that the caller will not use {@code x} again (neither as an operand nor as a
     * result), so an eager engine may free it now instead of when the step ends; what the backward
     * pass needs it keeps by itself. A composite op that makes full-size temporaries (a LoRA update
     * beside a linear layer) calls it on them. The default does nothing, which is always correct:
     * graph engines free by their own analysis. Never call it on a parameter, an input, or a tensor
     * that was returned by another call as well (a dropout that is off returns its input).
     *
     * @param x a tensor this caller computed and no longer needs
     */
    @API(status = API.Status.EXPERIMENTAL, since = "0.2")
    default void release(Tensor x) {
        // nothing to do for an engine that frees by its own analysis
    }
}
