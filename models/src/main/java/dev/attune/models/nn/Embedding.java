package dev.attune.models.nn;

import dev.attune.ops.Parameter.Init;
import dev.attune.ops.Ops;
import dev.attune.ops.Parameter;
import dev.attune.ops.ParameterSet.Scope;
import dev.attune.ops.Tensor;

/** A lookup table with PyTorch's {@code nn.Embedding} name ({@code weight [rows, dim]}). */
public final class Embedding {
    private final Parameter weight;

    /**
     * @param scope the module's scope
     * @param rows table size
     * @param dim embedding size
     * @param initStd standard deviation of the initialiser
     */
    public Embedding(Scope scope, long rows, long dim, double initStd) {
        this.weight = scope.param("weight", Init.normal(initStd), true, rows, dim);
    }

    /**
     * @param ops the engine's ops
     * @param ids integer ids
     * @return the rows for {@code ids}
     */
    public Tensor forward(Ops ops, Tensor ids) {
        return ops.embedding(ops.parameter(weight), ids);
    }

    /** @return the table parameter (for tied output layers) */
    public Parameter weight() {
        return weight;
    }
}
