package dev.attune.models.nn;

import dev.attune.ops.Parameter.Init;
import dev.attune.ops.Ops;
import dev.attune.ops.Parameter;
import dev.attune.ops.ParameterSet.Scope;
import dev.attune.ops.Tensor;

/**
 * A dense layer with PyTorch's {@code nn.Linear} names and layout: {@code weight [out, in]}, {@code
 * bias [out]}; HuggingFace initialisation (normal weight, zero bias).
 */
public final class Linear {
    private final Parameter weight;
    private final Parameter bias;

    /**
     * @param scope the module's scope ({@code ...query})
     * @param in input features
     * @param out output features
     * @param bias whether the layer has a bias
     * @param initStd standard deviation of the weight initialiser ({@code initializer_range})
     */
    public Linear(Scope scope, long in, long out, boolean bias, double initStd) {
        this.weight = scope.param("weight", Init.normal(initStd), true, out, in);
        this.bias = bias ? scope.param("bias", Init.zeros(), false, out) : null;
    }

    /**
     * @param ops the engine's ops
     * @param x {@code [..., in]}
     * @return {@code [..., out]}
     */
    public Tensor forward(Ops ops, Tensor x) {
        return ops.linear(x, ops.parameter(weight), bias == null ? null : ops.parameter(bias));
    }

    /** @return the weight parameter */
    public Parameter weight() {
        return weight;
    }
}
