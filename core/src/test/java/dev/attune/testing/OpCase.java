package dev.attune.testing;

import dev.attune.engine.Batch;
import dev.attune.model.ModelDefinition.InputSpec;
import dev.attune.model.ModelConfig;
import dev.attune.model.ModelDefinition;
import dev.attune.ops.DType;
import dev.attune.ops.Parameter.Init;
import dev.attune.ops.Ops;
import dev.attune.ops.Parameter;
import dev.attune.ops.ParameterSet;
import dev.attune.ops.ParameterSet.Scope;
import dev.attune.ops.Tensor;
import dev.attune.ops.TensorData;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One case of the op-conformance suite: named inputs and parameters, one or more outputs each
 * computed by a few calls of {@link Ops}, and the values each output must have, computed in double
 * precision by {@link Nd}. The case runs as a tiny {@link ModelDefinition} lowered by the engine
 * under test and run through {@code predict}, the path every engine (ONNX Runtime included) has.
 */
public final class OpCase {
    /** The ops calls of one output. */
    @FunctionalInterface
    public interface Body {
        /**
         * @param ops the engine's ops
         * @param args the case's inputs and parameters
         * @return the output
         */
        Tensor apply(Ops ops, Args args);
    }

    /** The case's inputs and parameters, as the engine's tensors. */
    public interface Args {
        /**
         * @param name an input name
         * @return the input
         */
        Tensor in(String name);

        /**
         * @param name a parameter name
         * @return the parameter's value
         */
        Tensor param(String name);

        /** @return the input {@code x} */
        default Tensor x() {
            return in("x");
        }

        /** @return the input {@code y} */
        default Tensor y() {
            return in("y");
        }

        /** @return the input {@code z} */
        default Tensor z() {
            return in("z");
        }
    }

    /**
     * One output and what it must be.
     *
     * @param body how it is computed
     * @param dtype its element type
     * @param expected its shape and values
     */
    public record Output(Body body, DType dtype, Nd expected) {}

    private final String name;
    private final Map<String, TensorData> inputs = new LinkedHashMap<>();
    private final Map<String, TensorData> parameterValues = new LinkedHashMap<>();
    private final Map<String, Output> outputs = new LinkedHashMap<>();
    private final List<List<String>> identical = new ArrayList<>();
    private boolean exact;

    private OpCase(String name) {
        this.name = name;
    }

    /**
     * @param name what the case checks, as test reports show it
     * @return an empty case
     */
    public static OpCase named(String name) {
        return new OpCase(name);
    }

    /** @return the name */
    public String name() {
        return name;
    }

    /**
     * @param name input name
     * @param value float32 values
     * @return this
     */
    public OpCase in(String name, Nd value) {
        inputs.put(name, value.floats());
        return this;
    }

    /**
     * @param name input name
     * @param value whole numbers, fed as INT64
     * @return this
     */
    public OpCase inLong(String name, Nd value) {
        inputs.put(name, value.longs());
        return this;
    }

    /**
     * @param name parameter name (dotted, as a checkpoint's)
     * @param value its float32 value
     * @return this
     */
    public OpCase param(String name, Nd value) {
        parameterValues.put(name, value.floats());
        return this;
    }

    /**
     * @param body the output {@code out}, FLOAT32
     * @param expected its shape and values
     * @return this
     */
    public OpCase out(Body body, Nd expected) {
        return out("out", DType.FLOAT32, body, expected);
    }

    /**
     * @param name output name
     * @param dtype its element type
     * @param body how it is computed
     * @param expected its shape and values
     * @return this
     */
    public OpCase out(String name, DType dtype, Body body, Nd expected) {
        outputs.put(name, new Output(body, dtype, expected));
        return this;
    }

    /**
     * Marks the case's values exact: copies and integer results allow no rounding on any engine.
     *
     * @return this
     */
    public OpCase exact() {
        this.exact = true;
        return this;
    }

    /**
     * Requires some outputs to be bit-for-bit equal to each other (the same function computed through
     * different lowerings, such as linear at rank 2 and 3).
     *
     * @param names outputs of equal shape-independent values
     * @return this
     */
    public OpCase identical(String... names) {
        identical.add(List.of(names));
        return this;
    }

    /** @return whether every output must equal its expected values exactly */
    public boolean isExact() {
        return exact;
    }

    /** @return the outputs by name */
    public Map<String, Output> outputs() {
        return outputs;
    }

    /** @return groups of outputs that must be bit-for-bit equal */
    public List<List<String>> identicalGroups() {
        return identical;
    }

    /** @return the inputs as a batch */
    public Batch batch() {
        TensorData first = inputs.values().iterator().next();
        long[] shape = first.shape();
        return new Batch(inputs, shape.length == 0 ? 1 : (int) shape[0]);
    }

    /** @return the case as a model definition */
    public ModelDefinition model() {
        return new CaseModel();
    }

    /**
     * @param p a parameter of {@link #model()}
     * @return its value
     */
    public TensorData valueOf(Parameter p) {
        TensorData v = parameterValues.get(p.name());
        if (v == null) {
            throw new IllegalArgumentException("case '" + name + "' declares no parameter " + p.name());
        }
        return v;
    }

    @Override
    public String toString() {
        return name;
    }

    /** The definition the engine lowers: the case's inputs and parameters, one output per body. */
    private final class CaseModel implements ModelDefinition {
        private final ParameterSet params = new ParameterSet();
        private final Map<String, Parameter> byName = new LinkedHashMap<>();

        CaseModel() {
            Scope root = Scope.root(params);
            parameterValues.forEach((n, v) -> byName.put(n, root.param(n, Init.zeros(), false, v.shape())));
        }

        @Override
        public ModelConfig config() {
            return ModelConfig.of(Map.of("model_type", "op-case"), "op-conformance case " + name);
        }

        @Override
        public String architecture() {
            return "OpConformanceCase";
        }

        @Override
        public String baseModelPrefix() {
            return "";
        }

        @Override
        public ParameterSet parameters() {
            return params;
        }

        @Override
        public List<InputSpec> inputs() {
            List<InputSpec> specs = new ArrayList<>();
            inputs.forEach((n, v) -> specs.add(new InputSpec(n, v.dtype(), v.shape().length, false)));
            return specs;
        }

        @Override
        public List<String> outputs() {
            return List.copyOf(outputs.keySet());
        }

        @Override
        public Map<String, Tensor> forward(Ops ops, Map<String, Tensor> in) {
            Args args = new Args() {
                @Override
                public Tensor in(String n) {
                    Tensor t = in.get(n);
                    if (t == null) {
                        throw new IllegalArgumentException("case '" + name + "' has no input " + n);
                    }
                    return t;
                }

                @Override
                public Tensor param(String n) {
                    Parameter p = byName.get(n);
                    if (p == null) {
                        throw new IllegalArgumentException("case '" + name + "' has no parameter " + n);
                    }
                    return ops.parameter(p);
                }
            };
            Map<String, Tensor> out = new LinkedHashMap<>();
            outputs.forEach((n, o) -> out.put(n, o.body().apply(ops, args)));
            return out;
        }
    }
}
