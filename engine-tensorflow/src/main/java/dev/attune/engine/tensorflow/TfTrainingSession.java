package dev.attune.engine.tensorflow;

import dev.attune.engine.Batch;
import dev.attune.engine.TrainingSession;
import dev.attune.error.EngineException;
import dev.attune.error.InvalidCheckpointException;
import dev.attune.ops.Parameter;
import dev.attune.ops.Tensor;
import dev.attune.ops.TensorData;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.tensorflow.Graph;
import org.tensorflow.GraphOperation;
import org.tensorflow.GraphOperationBuilder;
import org.tensorflow.Operation;
import org.tensorflow.Output;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.OpScope;
import org.tensorflow.op.Scope;
import org.tensorflow.proto.DataType;
import org.tensorflow.types.TBool;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt64;
import org.tensorflow.types.family.TType;

/**
 * Graph-mode training: gradients come from {@code Graph.addGradients} on the traced training pass
 * and are added into accumulator variables ({@link #forwardBackward}, scaled by the fed loss
 * scale). A compiled program is its kernel traced once per trained parameter, with the hypers as
 * placeholders: an in-place op rebinds its target to the node computing the new value, and when the
 * kernel returns, every variable it changed (the value, the slots) gets one {@code Assign} that
 * waits for all the kernel's reads, so no read sees a half-updated variable. A run feeds the hypers
 * and runs the active parameters' assigns; what the kernels return is summed under a fed mask of the
 * active parameters. So the graph is built once and does not grow with the steps.
 */
final class TfTrainingSession implements TrainingSession {
    private final TfLoweredModel model;
    private final Graph graph;
    private final Session session;
    private final Scope scope;
    private final int id;
    private final List<String> slotNames;
    private final List<Slot> slots = new ArrayList<>();
    private final List<Parameter> trained = new ArrayList<>();
    private final Map<String, Gradients> gradients = new HashMap<>();
    private final Output<?> lossScale;
    private final GraphOperation zeroAll;
    /** Per trained parameter: whether it got a gradient since the last clear. */
    private final boolean[] touched;
    private int programs;
    private long seed = 42;
    private boolean open = true;
    private Set<String> paused = Set.of();

    /** One trained parameter with its gradient accumulator and its slot variables. */
    private record Slot(TfLoweredModel.Var var, TfLoweredModel.Var acc, TfLoweredModel.Var[] state) {}

    /**
     * The gradient ops of one traced training pass: the loss, one op adding into every accumulator,
     * and which parameters the loss reaches.
     */
    private record Gradients(TfLoweredModel.Trace trace, Output<?> loss, GraphOperation accumulate, boolean[] reaches) {}

    TfTrainingSession(TfLoweredModel model, Set<String> frozen, List<String> slotNames) {
        this.model = model;
        this.graph = model.graph();
        this.session = model.session();
        this.slotNames = List.copyOf(slotNames);
        if (this.slotNames.size() != Set.copyOf(this.slotNames).size()) {
            throw new IllegalArgumentException("slot names repeat: " + slotNames);
        }
        for (String name : this.slotNames) {
            if (!name.matches("[A-Za-z0-9_]+")) {
                throw new IllegalArgumentException("slot name '" + name + "' must be letters, digits and underscores");
            }
        }
        this.id = model.nextSessionId();
        this.scope = new OpScope(graph).withSubScope("train" + id);
        lossScale = placeholder(scope, "loss_scale", DataType.DT_FLOAT, Shape.scalar());
        Scope root = new OpScope(graph);
        Map<String, TensorData> zeros = new HashMap<>();
        List<TfLoweredModel.Var> stateVars = new ArrayList<>();
        // state variables are named after their parameter, as torch.optim's state keys
        String tag = "s" + id + ".";
        for (Parameter p : model.definition().parameters().all()) {
            if (frozen.contains(p.name())) {
                continue;
            }
            TfLoweredModel.Var acc = TfLoweredModel.variable(graph, root, tag + "grad." + p.name(), p.shape(), p);
            TfLoweredModel.Var[] state = new TfLoweredModel.Var[this.slotNames.size()];
            for (int i = 0; i < state.length; i++) {
                state[i] = TfLoweredModel.variable(graph, root, tag + this.slotNames.get(i) + "." + p.name(), p.shape(), p);
            }
            stateVars.add(acc);
            stateVars.addAll(List.of(state));
            zeros.put(p.name(), TensorData.ofFloats(p.shape(), new float[Math.toIntExact(p.size())]));
            slots.add(new Slot(model.var(p), acc, state));
            trained.add(p);
        }
        touched = new boolean[slots.size()];
        GraphOperationBuilder zb = graph.opBuilder("NoOp", scope.makeOpName("zero_gradients"), scope);
        for (Slot s : slots) {
            long[] shape = s.var().parameter().shape();
            Output<?> zero = GraphOps.build(graph, scope, "Fill", null,
                    GraphOps.constant(graph, scope, TInt64.vectorOf(shape)),
                    GraphOps.constant(graph, scope, TFloat32.scalarOf(0f)));
            zb.addControlInput(GraphOps.build(graph, scope, "Assign", null, s.acc().ref(), zero).op());
        }
        zeroAll = zb.build();
        // slots and accumulators start at zero
        model.assign(stateVars, zeros);
    }

    private Output<?> placeholder(Scope in, String name, DataType type, Shape shape) {
        return graph.opBuilder("Placeholder", in.makeOpName(name), in).setAttr("dtype", type)
                .setAttr("shape", shape).build().output(0);
    }

    private NoOpBuilder noOp(Scope in, String name) {
        return new NoOpBuilder(graph.opBuilder("NoOp", in.makeOpName(name), in));
    }

    /** A NoOp gathering control inputs. */
    private record NoOpBuilder(GraphOperationBuilder builder) {
        NoOpBuilder after(Operation op) {
            builder.addControlInput(op);
            return this;
        }

        GraphOperation build() {
            return builder.build();
        }
    }

    boolean isOpen() {
        return open;
    }

    @Override
    public List<Parameter> parameters() {
        return Collections.unmodifiableList(trained);
    }

    /** Builds (once per input set) the gradient of {@code loss * scale} and the ops adding it in. */
    private synchronized Gradients gradients(Batch batch) {
        TfLoweredModel.Trace trace = model.trace(true, batch.tensors().keySet());
        Gradients g = gradients.get(trace.name());
        if (g != null) {
            return g;
        }
        Output<?> loss = trace.outputs().get("loss");
        if (loss == null) {
            throw new EngineException(model.definition().architecture() + " returned no 'loss': the batch needs labels");
        }
        Output<?> scaled = GraphOps.build(graph, scope, "Mul", null, loss, lossScale);
        // TF refuses the gradient of a variable the loss does not read: only those it reaches are asked for
        Set<String> upstream = upstream(loss);
        List<Integer> reached = new ArrayList<>();
        for (int i = 0; i < slots.size(); i++) {
            if (upstream.contains(slots.get(i).var().ref().op().name())) {
                reached.add(i);
            }
        }
        Output<?>[] xs = new Output<?>[reached.size()];
        for (int k = 0; k < xs.length; k++) {
            xs[k] = slots.get(reached.get(k)).var().ref();
        }
        Output<?>[] dx = xs.length == 0 ? xs
                : graph.addGradients("gradients_" + id + "_" + trace.name(), new Output<?>[] {scaled}, xs, null);
        NoOpBuilder group = noOp(scope, "accumulate_" + trace.name());
        boolean[] reaches = new boolean[slots.size()];
        for (int k = 0; k < xs.length; k++) {
            if (dx[k] != null) {
                int i = reached.get(k);
                group.after(GraphOps.build(graph, scope, "AssignAdd", null, slots.get(i).acc().ref(), dx[k]).op());
                reaches[i] = true;
            }
        }
        g = new Gradients(trace, loss, group.build(), reaches);
        gradients.put(trace.name(), g);
        return g;
    }

    /** @return the names of the ops whose outputs the given one is computed from (data inputs, transitively) */
    private static Set<String> upstream(Output<?> from) {
        Set<String> seen = new HashSet<>();
        ArrayDeque<GraphOperation> todo = new ArrayDeque<>();
        todo.add((GraphOperation) from.op());
        while (!todo.isEmpty()) {
            GraphOperation op = todo.pop();
            if (seen.add(op.name())) {
                for (int i = 0; i < op.numInputs(); i++) {
                    todo.add((GraphOperation) op.input(i).op());
                }
            }
        }
        return seen;
    }

    @Override
    public float forwardBackward(Batch batch, float scale) {
        ensureOpen();
        Gradients g = gradients(batch);
        Session.Runner r = session.runner();
        List<TType> fed = new ArrayList<>(TfLoweredModel.feed(r, g.trace(), batch));
        try {
            TType s = TFloat32.scalarOf(scale);
            fed.add(s);
            TType seedT = TInt64.vectorOf(seed, 0);
            fed.add(seedT);
            r.feed(lossScale, s).feed(g.trace().seed(), seedT).fetch(g.loss()).addTarget(g.accumulate());
            try (Result res = r.run()) {
                for (int i = 0; i < touched.length; i++) {
                    touched[i] |= g.reaches()[i];
                }
                return ((TFloat32) res.get(0)).getFloat();
            }
        } finally {
            fed.forEach(TType::close);
        }
    }

    @Override
    public Program compile(Kernel kernel) {
        ensureOpen();
        return new Traced(kernel, "train" + id + "_program" + programs++);
    }

    /** A kernel traced into the graph once per trained parameter. */
    private final class Traced implements Program {
        private final Map<String, Output<?>> hypers = new LinkedHashMap<>();
        /** Per parameter: a NoOp after its assigns, or null when the kernel changed nothing. */
        private final GraphOperation[] updates = new GraphOperation[slots.size()];
        /** The masked sum of what the kernels returned, or null when none returned anything. */
        private final Output<?> sum;
        private final Output<?> mask;

        Traced(Kernel kernel, String name) {
            Scope programScope = new OpScope(graph).withSubScope(name);
            Output<?>[] results = new Output<?>[slots.size()];
            boolean anyResult = false;
            for (int i = 0; i < slots.size(); i++) {
                Slot s = slots.get(i);
                KernelOps ops = new KernelOps(name + "_p" + i, s, h -> hypers.computeIfAbsent(h,
                        k -> placeholder(programScope, "hyper", DataType.DT_FLOAT, Shape.scalar())));
                Tensor r = kernel.apply(ops, s.var().parameter());
                Output<?> result = r == null ? null : GraphOps.o(r);
                if (result != null) {
                    if (result.shape().numDimensions() > 0) {
                        throw new IllegalStateException("a kernel returns a rank-0 tensor; for "
                                + s.var().parameter().name() + " it returned shape " + result.shape());
                    }
                    results[i] = result;
                    anyResult = true;
                }
                updates[i] = ops.assignments(programScope, result);
            }
            if (anyResult) {
                for (int i = 0; i < results.length; i++) {
                    if (results[i] == null) {
                        results[i] = GraphOps.constant(graph, programScope, TFloat32.scalarOf(0f));
                    }
                }
                GraphOperationBuilder pack = graph.opBuilder("Pack", programScope.makeOpName("Pack"), programScope);
                pack.addInputList(results);
                Output<?> packed = pack.build().output(0);
                mask = placeholder(programScope, "active", DataType.DT_BOOL, Shape.of(slots.size()));
                Output<?> zeros = GraphOps.constant(graph, programScope,
                        TFloat32.vectorOf(new float[slots.size()]));
                Output<?> kept = GraphOps.build(graph, programScope, "SelectV2", null, mask, packed, zeros);
                sum = GraphOps.build(graph, programScope, "Sum", b -> b.setAttr("keep_dims", false), kept,
                        GraphOps.constant(graph, programScope, org.tensorflow.types.TInt32.vectorOf(0)));
            } else {
                mask = null;
                sum = null;
            }
        }

        @Override
        public double run(Map<String, Double> values) {
            ensureOpen();
            boolean[] active = new boolean[slots.size()];
            boolean any = false;
            for (int i = 0; i < active.length; i++) {
                active[i] = touched[i] && !paused.contains(slots.get(i).var().parameter().name());
                any |= active[i];
            }
            if (!any) {
                return 0;
            }
            List<TType> fed = new ArrayList<>();
            try {
                Session.Runner r = session.runner();
                for (Map.Entry<String, Output<?>> h : hypers.entrySet()) {
                    Double v = values.get(h.getKey());
                    if (v == null) {
                        throw new IllegalArgumentException("the program reads hyper '" + h.getKey()
                                + "' but the run gave only " + values.keySet());
                    }
                    TType t = TFloat32.scalarOf(v.floatValue());
                    fed.add(t);
                    r.feed(h.getValue(), t);
                }
                boolean work = false;
                for (int i = 0; i < active.length; i++) {
                    if (active[i] && updates[i] != null) {
                        r.addTarget(updates[i]);
                        work = true;
                    }
                }
                if (sum != null) {
                    TType m = TBool.vectorOf(active);
                    fed.add(m);
                    r.feed(mask, m).fetch(sum);
                    try (Result res = r.run()) {
                        return ((TFloat32) res.get(0)).getFloat();
                    }
                }
                if (work) {
                    r.run().close();
                }
                return 0;
            } finally {
                fed.forEach(TType::close);
            }
        }
    }

    /**
     * The update ops while one parameter's kernel is traced: graph ops under their own name scope,
     * with the parameter's variables as rebindable values.
     */
    private final class KernelOps extends GraphOps implements UpdateOps {
        private final Slot slot;
        private final java.util.function.Function<String, Output<?>> hyper;
        private final T value;
        private final T gradient;
        private final T[] state;
        /** Values an in-place op must not rebind: hypers and scalars. */
        private final Set<Tensor> shared = Collections.newSetFromMap(new IdentityHashMap<>());

        KernelOps(String prefix, Slot slot, java.util.function.Function<String, Output<?>> hyper) {
            super(graph, prefix, p -> {
                throw new IllegalStateException("unreachable");
            }, false, null);
            this.slot = slot;
            this.hyper = hyper;
            this.value = new T(slot.var().ref());
            this.gradient = new T(slot.acc().ref());
            this.state = new T[slot.state().length];
            for (int i = 0; i < state.length; i++) {
                state[i] = new T(slot.state()[i].ref());
            }
        }

        private void bound(Parameter p) {
            if (!slot.var().parameter().equals(p)) {
                throw new IllegalArgumentException("a kernel reads only its own parameter, not " + p.name());
            }
        }

        @Override
        public Tensor parameter(Parameter p) {
            bound(p);
            return value;
        }

        @Override
        public Tensor gradient(Parameter p) {
            bound(p);
            return gradient;
        }

        @Override
        public Tensor slot(String name, Parameter p) {
            int i = slotNames.indexOf(name);
            if (i < 0) {
                throw new IllegalArgumentException("no optimizer slot '" + name + "'; the session has " + slotNames);
            }
            bound(p);
            return state[i];
        }

        @Override
        public Tensor hyper(String name) {
            T t = new T(hyper.apply(name));
            shared.add(t);
            return t;
        }

        @Override
        public Tensor scalar(float v) {
            Tensor t = super.scalar(v);
            shared.add(t);
            return t;
        }

        private T target(Tensor t) {
            if (shared.contains(t)) {
                throw new IllegalArgumentException("an in-place op cannot change a hyper or a scalar");
            }
            return (T) t;
        }

        @Override
        public void mulInPlace(Tensor target, Tensor factor) {
            target(target).rebind(o(mul(target, factor)));
        }

        @Override
        public void addInPlace(Tensor target, Tensor x) {
            target(target).rebind(o(add(target, x)));
        }

        @Override
        public void subInPlace(Tensor target, Tensor x) {
            target(target).rebind(o(sub(target, x)));
        }

        /**
         * Writes back every variable the kernel changed: one Assign each, all after a barrier that
         * waits for the new values and the result, so every read of a variable's old value is done
         * before any variable is written.
         *
         * @return a NoOp after the assigns, or null when nothing changed
         */
        GraphOperation assignments(Scope in, Output<?> result) {
            List<TfLoweredModel.Var> vars = new ArrayList<>();
            List<Output<?>> values = new ArrayList<>();
            if (value.o() != slot.var().ref()) {
                vars.add(slot.var());
                values.add(value.o());
            }
            for (int i = 0; i < state.length; i++) {
                if (state[i].o() != slot.state()[i].ref()) {
                    vars.add(slot.state()[i]);
                    values.add(state[i].o());
                }
            }
            if (vars.isEmpty()) {
                return null;
            }
            NoOpBuilder barrier = noOp(in, "read_" + slotIndex());
            values.forEach(v -> barrier.after(v.op()));
            if (result != null) {
                barrier.after(result.op());
            }
            GraphOperation ready = barrier.build();
            NoOpBuilder done = noOp(in, "update_" + slotIndex());
            for (int i = 0; i < vars.size(); i++) {
                GraphOperation assign = graph.opBuilder("Assign", in.makeOpName("Assign"), in)
                        .addInput(vars.get(i).ref()).addInput(values.get(i)).addControlInput(ready).build();
                done.after(assign);
            }
            return done.build();
        }

        private int slotIndex() {
            return slots.indexOf(slot);
        }
    }

    @Override
    public void clearGradients() {
        ensureOpen();
        session.runner().addTarget(zeroAll).run().close();
        Arrays.fill(touched, false);
    }

    @Override
    public Map<String, TensorData> slots() {
        ensureOpen();
        List<Output<?>> reads = new ArrayList<>();
        for (int i = 0; i < slotNames.size(); i++) {
            for (Slot s : slots) {
                reads.add(s.state()[i].read());
            }
        }
        List<TensorData> values = model.readAll(reads);
        Map<String, TensorData> tensors = new LinkedHashMap<>();
        int k = 0;
        for (String slot : slotNames) {
            for (Slot s : slots) {
                tensors.put(slot + "/" + s.var().parameter().name(), values.get(k++));
            }
        }
        return tensors;
    }

    @Override
    public void restore(Map<String, TensorData> parameters, Map<String, TensorData> state) {
        ensureOpen();
        // every tensor checked before any is written, so a bad checkpoint leaves the model as it was
        Set<String> trainedNames = new java.util.HashSet<>();
        for (Slot s : slots) {
            trainedNames.add(s.var().parameter().name());
        }
        List<TfLoweredModel.Var> restored = new ArrayList<>();
        for (TfLoweredModel.Var v : model.vars().values()) {
            Parameter p = v.parameter();
            if (!parameters.containsKey(p.name()) && !trainedNames.contains(p.name())) {
                continue; // not trained here: keeps its value (a LoRA checkpoint holds what trains only)
            }
            check(p, parameters.get(p.name()), "parameter " + p.name());
            restored.add(v);
        }
        List<Map<String, TensorData>> bySlot = new ArrayList<>();
        List<List<TfLoweredModel.Var>> targets = new ArrayList<>();
        for (int i = 0; i < slotNames.size(); i++) {
            Map<String, TensorData> values = new HashMap<>();
            List<TfLoweredModel.Var> vars = new ArrayList<>();
            for (Slot s : slots) {
                Parameter p = s.var().parameter();
                String key = slotNames.get(i) + "/" + p.name();
                TensorData data = state.get(key);
                check(p, data, "optimizer tensor " + key);
                values.put(p.name(), data);
                vars.add(s.state()[i]);
            }
            bySlot.add(values);
            targets.add(vars);
        }
        model.assign(restored, parameters);
        for (int i = 0; i < slotNames.size(); i++) {
            model.assign(targets.get(i), bySlot.get(i));
        }
        clearGradients();
    }

    private static void check(Parameter p, TensorData data, String what) {
        if (data == null) {
            throw new InvalidCheckpointException("the checkpoint has no " + what + "; it was written for another model "
                    + "or other frozen parameters: resume with the settings of the run that wrote it");
        }
        long[] shape = p.shape();
        if (!Arrays.equals(shape, data.shape())) {
            throw new InvalidCheckpointException("the checkpoint's " + what + " has shape " + Arrays.toString(data.shape())
                    + " but the model has " + Arrays.toString(shape));
        }
    }

    @Override
    public void reseed(long seed) {
        this.seed = seed;
    }

    @Override
    public void setFrozen(Set<String> names) {
        ensureOpen();
        paused = Set.copyOf(names);
    }

    private void ensureOpen() {
        if (!open) {
            throw new IllegalStateException("training session is closed");
        }
    }

    @Override
    public void close() {
        open = false;
    }
}
