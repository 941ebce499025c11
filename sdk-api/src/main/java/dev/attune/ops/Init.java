package dev.attune.ops;

/**
 * How a parameter is initialised when the checkpoint does not hold it, following HuggingFace's
 * {@code _init_weights}: linear and embedding weights normal with {@code initializer_range}, biases
 * zero, LayerNorm weight one.
 */
public sealed interface Init {
    /** Normal distribution with mean 0. */
    record Normal(double std) implements Init {}

    /** A constant value (0 for biases, 1 for LayerNorm weights). */
    record Constant(float value) implements Init {}

    /**
     * @param std standard deviation
     * @return a normal initialiser with mean 0
     */
    static Init normal(double std) {
        return new Normal(std);
    }

    /** @return the all-zeros initialiser */
    static Init zeros() {
        return new Constant(0f);
    }

    /** @return the all-ones initialiser */
    static Init ones() {
        return new Constant(1f);
    }
}
