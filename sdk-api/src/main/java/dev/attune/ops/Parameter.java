package dev.attune.ops;

import org.apiguardian.api.API;

import java.util.Arrays;
import java.util.Objects;

/**
 * A trainable tensor declared by a model definition under its HuggingFace name (for example
 * {@code bert.encoder.layer.0.attention.self.query.weight}) and shape.
 *
 * @param name HuggingFace parameter name, exactly as checkpoints store it
 * @param shape dimensions, HuggingFace layout (linear weights are {@code [out, in]})
 * @param init how to fill it when the checkpoint does not hold it
 * @param decay whether AdamW's weight decay applies (false for biases and LayerNorm parameters)
 */
@API(status = API.Status.STABLE, since = "0.1")
public record Parameter(String name, long[] shape, Init init, boolean decay) {
    /** Validates and copies the shape. */
    public Parameter {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(init, "init");
        shape = shape.clone();
        for (long d : shape) {
            if (d <= 0) {
                throw new IllegalArgumentException(
                        "parameter " + name + " has a non-positive dimension: " + Arrays.toString(shape));
            }
        }
    }

    /** @return a copy of the shape */
    @Override
    public long[] shape() {
        return shape.clone();
    }

    /** @return number of elements */
    public long size() {
        long n = 1;
        for (long d : shape) {
            n *= d;
        }
        return n;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Parameter p
                && p.name.equals(name)
                && Arrays.equals(p.shape, shape)
                && p.init.equals(init)
                && p.decay == decay;
    }

    @Override
    public int hashCode() {
        return name.hashCode() * 31 + Arrays.hashCode(shape);
    }

    @Override
    public String toString() {
        return name + Arrays.toString(shape);
    }

    /**
     * How a parameter is initialised when the checkpoint does not hold it, following HuggingFace's
     * {@code _init_weights}: linear and embedding weights normal with {@code initializer_range}, biases
     * zero, LayerNorm weight one.
     */
    @API(status = API.Status.STABLE, since = "0.1")
    public sealed interface Init {
        /** Normal distribution with mean 0. */
        @API(status = API.Status.STABLE, since = "0.1")
        record Normal(double std) implements Init {}

        /** A constant value (0 for biases, 1 for LayerNorm weights). */
        @API(status = API.Status.STABLE, since = "0.1")
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
}
