package dev.attune.core.lora;

import org.apiguardian.api.API;

import dev.attune.model.ModelDefinition;
import dev.attune.model.ModelDefinition.InputSpec;
import dev.attune.ops.Ops;
import dev.attune.ops.Parameter;
import dev.attune.ops.Tensor;
import java.lang.reflect.InvocationHandler;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashSet;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * Finds a model's linear layers by watching its forward pass, once, with no engine: a stand-in
 * {@link Ops} whose tensors hold nothing records each {@code ops.linear(x, W, b)} whose weight is a
 * parameter ({@code nn.Linear}, weight {@code [out, in]}) and each {@code ops.matmul(x, W)} with a
 * parameter on the right (GPT-2's {@code Conv1D}, weight {@code [in, out]}: PEFT's {@code
 * fan_in_fan_out}). Every family gets LoRA this way without declaring anything: a linear layer is
 * whatever the forward pass uses as one, under its HuggingFace module name (the weight's name less
 * {@code .weight}). A weight that is also an embedding table (a tied output layer) is no linear layer;
 * a linear whose result is one of the model's outputs is its output layer, which {@code all-linear}
 * leaves out.
 */
@API(status = API.Status.INTERNAL, since = "0.2")
public final class LinearSites {
    /**
     * One linear layer.
     *
     * @param module its HuggingFace module name ({@code bert.encoder.layer.0.attention.self.query})
     * @param weight its weight parameter
     * @param in input features
     * @param out output features
     * @param fanInFanOut whether the weight is stored {@code [in, out]} (GPT-2's {@code Conv1D})
     * @param outputLayer whether its result is one of the model's outputs
     */
    public record Site(String module, Parameter weight, long in, long out, boolean fanInFanOut,
            boolean outputLayer) {}

    private LinearSites() {}

    /**
     * @param definition a model definition (a family's head model)
     * @return its linear layers by module name, in the order the forward pass uses them
     */
    public static Map<String, Site> of(ModelDefinition definition) {
        Recorder recorder = new Recorder();
        Ops ops = (Ops) Proxy.newProxyInstance(Ops.class.getClassLoader(), new Class<?>[] {Ops.class}, recorder);
        Map<String, Tensor> inputs = new LinkedHashMap<>();
        for (InputSpec spec : definition.inputs()) {
            inputs.put(spec.name(), new Opaque());
        }
        Map<String, Tensor> outputs = definition.forward(ops, inputs);
        Set<Tensor> results = Collections.newSetFromMap(new IdentityHashMap<>());
        results.addAll(outputs.values());
        Map<String, Site> sites = new LinkedHashMap<>();
        for (Map.Entry<String, Recorder.Use> e : recorder.uses.entrySet()) {
            Recorder.Use use = e.getValue();
            Parameter w = use.weight;
            if (recorder.tables.contains(w.name())) {
                continue;
            }
            long[] shape = w.shape();
            boolean output = false;
            for (Tensor r : use.results) {
                output |= results.contains(r);
            }
            sites.put(e.getKey(), new Site(e.getKey(), w, use.fanInFanOut ? shape[0] : shape[1],
                    use.fanInFanOut ? shape[1] : shape[0], use.fanInFanOut, output));
        }
        return sites;
    }

    /**
     * @param weight a parameter
     * @return its module's name when it is a rank-2 {@code weight}, else null
     */
    static String moduleOf(Parameter weight) {
        String name = weight.name();
        if (weight.shape().length != 2 || !name.endsWith(".weight")) {
            return null;
        }
        return name.substring(0, name.length() - ".weight".length());
    }

    /** A tensor of the stand-in ops: holds nothing. */
    private static class Opaque implements Tensor {}

    /** A parameter's tensor in the stand-in ops. */
    private static final class Param extends Opaque {
        final Parameter parameter;

        Param(Parameter parameter) {
            this.parameter = parameter;
        }
    }

    /** A rank-2 parameter transposed: a weight {@code [out, in]} made ready for {@code matmul}. */
    private static final class Transposed extends Opaque {
        final Parameter parameter;

        Transposed(Parameter parameter) {
            this.parameter = parameter;
        }
    }

    private static final class Recorder implements InvocationHandler {
        static final class Use {
            final Parameter weight;
            final boolean fanInFanOut;
            final Set<Tensor> results = Collections.newSetFromMap(new IdentityHashMap<>());

            Use(Parameter weight, boolean fanInFanOut) {
                this.weight = weight;
                this.fanInFanOut = fanInFanOut;
            }
        }

        final Map<String, Use> uses = new LinkedHashMap<>();
        final Set<String> tables = new HashSet<>();

        @Override
        public Object invoke(Object proxy, Method method, Object[] args) throws Throwable {
            switch (method.getName()) {
                case "parameter":
                    return new Param((Parameter) args[0]);
                case "isTraining":
                    return false;
                case "checkpoint":
                    // a checkpointed layer runs here once, on this recorder, so its linear layers are seen
                    return ((Ops.Segment) args[0]).apply((Ops) proxy, (Tensor) args[1]);
                case "embedding":
                    if (args[0] instanceof Param p) {
                        tables.add(p.parameter.name());
                    }
                    return new Opaque();
                case "transpose":
                    if (args[0] instanceof Param p && p.parameter.shape().length == 2
                            && Arrays.equals((int[]) args[1], new int[] {1, 0})) {
                        return new Transposed(p.parameter);
                    }
                    return new Opaque();
                case "linear":
                    if (args.length == 3 && args[1] instanceof Param p) {
                        return use(p.parameter, false);
                    }
                    return new Opaque();
                case "matmul":
                    if (args.length == 2 && args[1] instanceof Param p) {
                        return use(p.parameter, true);
                    }
                    if (args.length == 2 && args[1] instanceof Transposed t) {
                        return use(t.parameter, false);
                    }
                    return new Opaque();
                default:
                    break;
            }
            Class<?> type = method.getReturnType();
            if (Tensor.class.isAssignableFrom(type)) {
                return new Opaque();
            }
            if (method.isDefault()) {
                return InvocationHandler.invokeDefault(proxy, method, args);
            }
            if (type == boolean.class) {
                return false;
            }
            if (type == int.class) {
                return 0;
            }
            if (type == long.class) {
                return 0L;
            }
            if (type == float.class) {
                return 0f;
            }
            if (type == double.class) {
                return 0d;
            }
            return null;
        }

        private Tensor use(Parameter weight, boolean fanInFanOut) {
            Opaque result = new Opaque();
            String module = moduleOf(weight);
            if (module != null) {
                uses.computeIfAbsent(module, m -> new Use(weight, fanInFanOut)).results.add(result);
            }
            return result;
        }
    }
}
