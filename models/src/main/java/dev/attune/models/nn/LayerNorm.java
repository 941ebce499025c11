package dev.attune.models.nn;

import dev.attune.ops.Parameter.Init;
import dev.attune.ops.Ops;
import dev.attune.ops.Parameter;
import dev.attune.ops.ParameterSet.Scope;
import dev.attune.ops.Tensor;

/** Layer normalisation over the last axis with PyTorch's names ({@code weight}, {@code bias}). */
public final class LayerNorm {
    private final Parameter weight;
    private final Parameter bias;
    private final float eps;

    /**
     * @param scope the module's scope (HuggingFace BERT calls it {@code LayerNorm})
     * @param dim normalised size
     * @param eps variance epsilon ({@code layer_norm_eps})
     */
    public LayerNorm(Scope scope, long dim, double eps) {
        this.weight = scope.param("weight", Init.ones(), false, dim);
        this.bias = scope.param("bias", Init.zeros(), false, dim);
        this.eps = (float) eps;
    }

    /**
     * @param ops the engine's ops
     * @param x input
     * @return normalised input
     */
    public Tensor forward(Ops ops, Tensor x) {
        return ops.layerNorm(x, ops.parameter(weight), ops.parameter(bias), eps);
    }
}
