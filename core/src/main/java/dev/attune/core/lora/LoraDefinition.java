package dev.attune.core.lora;

import org.apiguardian.api.API;

import dev.attune.core.internal.TrainableDefinition;
import dev.attune.core.lora.LoraAdapter.Target;
import dev.attune.model.ModelConfig;
import dev.attune.model.ModelDefinition;
import dev.attune.ops.Ops;
import dev.attune.ops.Parameter;
import dev.attune.ops.ParameterSet;
import dev.attune.ops.Tensor;
import java.lang.reflect.InvocationHandler;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.util.Arrays;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * A model with a LoRA adapter: the wrapped model's forward pass, run through ops that add {@code
 * scaling * B A dropout(x)} to the output of every adapted linear layer ({@code ops.linear} with
 * that layer's weight, or {@code ops.matmul} for a {@code Conv1D}). Its parameters are the model's
 * plus the adapter's, so every engine lowers, trains, checkpoints and reads them like any other;
 * the engine's own implementation of every op (fused attention, say) is still the one that runs.
 */
@API(status = API.Status.INTERNAL, since = "0.2")
public final class LoraDefinition implements ModelDefinition {
    private final ModelDefinition model;
    private final LoraAdapter adapter;
    private final ParameterSet parameters = new ParameterSet();

    /**
     * @param model the family's head model
     * @param adapter the adapter resolved against it
     */
    public LoraDefinition(ModelDefinition model, LoraAdapter adapter) {
        this.model = model;
        this.adapter = adapter;
        for (Parameter p : model.parameters().all()) {
            parameters.add(p);
        }
        for (Parameter p : adapter.loraParameters()) {
            parameters.add(p);
        }
        model.parameters().tiedNames().forEach((alias, target) ->
                parameters.tie(alias, parameters.get(target).orElseThrow()));
    }

    /**
     * @param definition a lowered model's definition
     * @return its LoRA layer, when it has one (directly or under the task's loss)
     */
    public static Optional<LoraDefinition> find(ModelDefinition definition) {
        if (definition instanceof LoraDefinition l) {
            return Optional.of(l);
        }
        if (definition instanceof TrainableDefinition t) {
            return find(t.model());
        }
        return Optional.empty();
    }

    /** @return the model without the adapter */
    public ModelDefinition base() {
        return model;
    }

    /** @return the adapter */
    public LoraAdapter adapter() {
        return adapter;
    }

    @Override
    public ModelConfig config() {
        return model.config();
    }

    @Override
    public String architecture() {
        return model.architecture();
    }

    @Override
    public String baseModelPrefix() {
        return model.baseModelPrefix();
    }

    @Override
    public ParameterSet parameters() {
        return parameters;
    }

    @Override
    public List<InputSpec> inputs() {
        return model.inputs();
    }

    @Override
    public List<String> outputs() {
        return model.outputs();
    }

    @Override
    public ModelDefinition inference() {
        ModelDefinition inner = model.inference();
        return inner == model ? this : new LoraDefinition(inner, adapter);
    }

    @Override
    public Map<String, Tensor> forward(Ops ops, Map<String, Tensor> inputs) {
        return model.forward(adapt(ops, adapter), inputs);
    }

    /** The engine's ops with the adapter's updates added (see {@link Adapted}). */
    private static Ops adapt(Ops ops, LoraAdapter adapter) {
        return (Ops) Proxy.newProxyInstance(Ops.class.getClassLoader(), new Class<?>[] {Ops.class},
                new Adapted(ops, adapter));
    }

    /**
     * The engine's ops with the adapter's update added to each adapted layer; every other call goes
     * to the engine's ops unchanged. Remembers which tensors are which parameters (and their
     * transposes) for one forward pass.
     */
    private static final class Adapted implements InvocationHandler {
        private final Ops ops;
        private final LoraAdapter adapter;
        private final float scaling;
        private final float dropout;
        private final Map<Tensor, Parameter> params = new IdentityHashMap<>();
        private final Map<Tensor, Parameter> transposed = new IdentityHashMap<>();

        Adapted(Ops ops, LoraAdapter adapter) {
            this.ops = ops;
            this.adapter = adapter;
            this.scaling = (float) adapter.scaling();
            this.dropout = (float) adapter.config().loraDropout();
        }

        @Override
        public Object invoke(Object proxy, Method method, Object[] args) throws Throwable {
            switch (method.getName()) {
                case "parameter" -> {
                    Tensor t = ops.parameter((Parameter) args[0]);
                    params.put(t, (Parameter) args[0]);
                    return t;
                }
                case "transpose" -> {
                    Tensor t = ops.transpose((Tensor) args[0], (int[]) args[1]);
                    Parameter p = params.get(args[0]);
                    if (p != null && Arrays.equals((int[]) args[1], new int[] {1, 0})) {
                        transposed.put(t, p);
                    }
                    return t;
                }
                case "linear" -> {
                    if (args.length == 3) {
                        Parameter p = params.get(args[1]);
                        Target t = p == null ? null : adapter.forWeight(p.name());
                        if (t != null && !t.site().fanInFanOut()) {
                            Tensor y = ops.linear((Tensor) args[0], (Tensor) args[1], (Tensor) args[2]);
                            return plus(y, t, (Tensor) args[0]);
                        }
                    }
                }
                case "checkpoint" -> {
                    // the segment runs on the engine's ops it is given (a recomputation's), adapted as these are
                    Ops.Segment segment = (Ops.Segment) args[0];
                    Ops self = (Ops) proxy;
                    return ops.checkpoint((o, h) -> segment.apply(o == ops ? self : adapt(o, adapter), h),
                            (Tensor) args[1]);
                }
                case "matmul" -> {
                    if (args.length == 2) {
                        Parameter p = params.get(args[1]);
                        boolean conv = p != null;
                        if (p == null) {
                            p = transposed.get(args[1]);
                        }
                        Target t = p == null ? null : adapter.forWeight(p.name());
                        if (t != null && t.site().fanInFanOut() == conv) {
                            Tensor y = ops.matmul((Tensor) args[0], (Tensor) args[1]);
                            return plus(y, t, (Tensor) args[0]);
                        }
                    }
                }
                default -> {
                    // every other op: the engine's
                }
            }
            try {
                return method.invoke(ops, args);
            } catch (InvocationTargetException e) {
                throw e.getCause();
            }
        }

        /**
         * The frozen layer's output {@code y = x W} plus {@code B (scaling * A dropout(x))}, as PEFT's
         * {@code result + lora_B(lora_A(dropout(x))) * scaling}, never {@code W + B A}: the base weight
         * is read as it is, and nothing of its size is made. The scaling multiplies the rank-r
         * activations rather than the layer-sized ones, the up-projection is added into the frozen
         * output in the same product ({@link Ops#linearAdd}: one {@code addmm} on PyTorch, no
         * layer-sized {@code B h} made and then added; 1.6-1.8% off a BERT-base all-linear step),
         * and every temporary is released as soon as it is used, so an eager engine holds one
         * layer-sized result per adapted layer, as without the adapter (the backward pass keeps what
         * it needs: the dropped-out input and the rank-r activations). Dropout applies to the
         * adapter's input only; the base layer sees {@code x}.
         */
        private Tensor plus(Tensor y, Target t, Tensor x) {
            Tensor h = dropout > 0 ? ops.dropout(x, dropout) : x;
            Tensor down = ops.linear(h, ops.parameter(t.a()), null);
            if (h != x) {
                ops.release(h);
            }
            Tensor scaled = scaling == 1f ? down : ops.mul(down, scaling);
            if (scaled != down) {
                ops.release(down);
            }
            Tensor out = ops.linearAdd(scaled, ops.parameter(t.b()), y);
            ops.release(scaled);
            ops.release(y);
            return out;
        }
    }
}
