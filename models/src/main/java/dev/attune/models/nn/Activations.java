package dev.attune.models.nn;

import dev.attune.error.UnsupportedArchitectureException;
import dev.attune.ops.Ops;
import dev.attune.ops.Tensor;

/** Activation functions by their HuggingFace config names ({@code hidden_act}). */
public final class Activations {
    private Activations() {}

    /** An activation bound to a config name. */
    @FunctionalInterface
    public interface Activation {
        /**
         * @param ops the engine's ops
         * @param x input
         * @return activated input
         */
        Tensor apply(Ops ops, Tensor x);
    }

    /**
     * @param name a HuggingFace {@code ACT2FN} name
     * @param configFile the config that named it, for the error message
     * @return the activation
     */
    public static Activation byName(String name, String configFile) {
        return switch (name) {
            case "gelu" -> Ops::gelu;
            case "gelu_new", "gelu_pytorch_tanh", "gelu_fast" -> Ops::geluTanh;
            case "relu" -> Ops::relu;
            case "tanh" -> Ops::tanh;
            case "sigmoid" -> Ops::sigmoid;
            case "silu", "swish" -> (ops, x) -> ops.mul(x, ops.sigmoid(x));
            default -> throw new UnsupportedArchitectureException(
                    configFile + ": activation '" + name + "' is not supported; use one of gelu, gelu_new,"
                            + " gelu_pytorch_tanh, relu, tanh, sigmoid, silu");
        };
    }

}
