package dev.attune.engine.tensorflow;

import dev.attune.engine.Batch;
import dev.attune.engine.OptimizerSettings;
import dev.attune.engine.OptimizerState;
import dev.attune.engine.TrainingSession;
import dev.attune.error.EngineException;
import dev.attune.error.InvalidCheckpointException;
import dev.attune.ops.Parameter;
import dev.attune.ops.TensorData;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.tensorflow.Graph;
import org.tensorflow.GraphOperation;
import org.tensorflow.GraphOperationBuilder;
import org.tensorflow.Output;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.OpScope;
import org.tensorflow.op.Scope;
import org.tensorflow.proto.DataType;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt64;
import org.tensorflow.types.family.TType;

/**
 * Graph-mode training: gradients come from {@code Graph.addGradients} on the traced training pass
 * and are added into accumulator variables ({@link #forwardBackward}, scaled by the fed loss
 * scale); {@link #step} clips them to their global L2 norm and applies AdamW written in TF ops with
 * the arithmetic of {@code torch.optim.AdamW} and of the PyTorch engine: decoupled decay {@code p *=
 * 1 - lr*wd} on parameters whose {@link Parameter#decay()} is true (not biases or LayerNorm), moments
 * {@code m = b1*m + (1-b1)*g}, {@code v = b2*v + (1-b2)*g*g}, then {@code p -= lr/bc1 * m /
 * (sqrt(v)/sqrt(bc2) + eps)}. Step-dependent scalars (clip factor, bias corrections, per-group
 * learning rates) are computed in Java doubles and fed, so the graph is built once.
 */
final class TfTrainingSession implements TrainingSession {
    private final TfLoweredModel model;
    private final OptimizerSettings settings;
    private final Graph graph;
    private final Session session;
    private final Scope scope;
    private final List<Slot> slots = new ArrayList<>();
    private final Map<String, Gradients> gradients = new HashMap<>();
    private final Output<?> lossScale;
    private final Output<?> activeMask;
    private final Output<?> normSquared;
    private final Output<?> clip;
    private final Output<?> sqrtBc2;
    private final Map<Double, Output<?>[]> groupScalars = new LinkedHashMap<>();
    private final GraphOperation zeroAll;
    private long steps;
    private long seed = 42;
    private boolean open = true;
    private boolean hasGradients;
    private Set<String> paused = Set.of();

    /** One trainable parameter with its gradient accumulator, Adam moments and update op. */
    private record Slot(TfLoweredModel.Var var, TfLoweredModel.Var acc, TfLoweredModel.Var m, TfLoweredModel.Var v,
            Output<?> sumSquares, GraphOperation update, double lrScale) {}

    /** The gradient ops of one traced training pass: the loss and one op adding into every accumulator. */
    private record Gradients(TfLoweredModel.Trace trace, Output<?> loss, GraphOperation accumulate) {}

    TfTrainingSession(TfLoweredModel model, OptimizerSettings settings) {
        this.model = model;
        this.settings = settings;
        this.graph = model.graph();
        this.session = model.session();
        this.scope = new OpScope(graph).withSubScope("adamw");
        lossScale = placeholder("loss_scale", DataType.DT_FLOAT, Shape.scalar());
        clip = placeholder("clip", DataType.DT_FLOAT, Shape.scalar());
        sqrtBc2 = placeholder("sqrt_bias_correction2", DataType.DT_FLOAT, Shape.scalar());
        Output<?> b1 = constF((float) settings.beta1());
        Output<?> oneMinusB1 = constF(1 - (float) settings.beta1());
        Output<?> b2 = constF((float) settings.beta2());
        Output<?> oneMinusB2 = constF(1 - (float) settings.beta2());
        Output<?> eps = constF((float) settings.epsilon());
        List<Parameter> trainable = new ArrayList<>();
        for (Parameter p : model.definition().parameters().all()) {
            if (!settings.frozen().contains(p.name())) {
                trainable.add(p);
            }
        }
        Scope state = new OpScope(graph);
        Map<String, TensorData> zeros = new HashMap<>();
        List<TfLoweredModel.Var> stateVars = new ArrayList<>();
        List<Output<?>> norms = new ArrayList<>();
        int sessionId = model.nextSessionId();
        for (Parameter p : trainable) {
            TfLoweredModel.Var var = model.var(p);
            // state variables are named after their parameter, as torch.optim.AdamW's state keys
            String tag = "s" + sessionId + ".";
            TfLoweredModel.Var acc = TfLoweredModel.variable(graph, state, tag + "grad." + p.name(), p.shape(), p);
            TfLoweredModel.Var m = TfLoweredModel.variable(graph, state, tag + "exp_avg." + p.name(), p.shape(), p);
            TfLoweredModel.Var v = TfLoweredModel.variable(graph, state, tag + "exp_avg_sq." + p.name(), p.shape(), p);
            stateVars.addAll(List.of(acc, m, v));
            TensorData z = TensorData.ofFloats(p.shape(), new float[Math.toIntExact(p.size())]);
            zeros.put(p.name(), z);
            double lrScale = settings.learningRateScale(p.name());
            Output<?>[] group = groupScalars.computeIfAbsent(lrScale, s -> new Output<?>[] {
                placeholder("decay_" + groupScalars.size(), DataType.DT_FLOAT, Shape.scalar()),
                placeholder("step_size_" + groupScalars.size(), DataType.DT_FLOAT, Shape.scalar())});
            Output<?> g = op("Mul", acc.ref(), clip);
            Output<?> mNew = op("Assign", m.ref(), op("AddV2", op("Mul", m.ref(), b1), op("Mul", g, oneMinusB1)));
            Output<?> vNew = op("Assign", v.ref(),
                    op("AddV2", op("Mul", v.ref(), b2), op("Mul", op("Mul", g, g), oneMinusB2)));
            Output<?> denom = op("AddV2", op("RealDiv", op("Sqrt", vNew), sqrtBc2), eps);
            Output<?> update = op("Mul", op("RealDiv", mNew, denom), group[1]);
            Output<?> decayed = p.decay() && settings.weightDecay() != 0 ? op("Mul", var.ref(), group[0]) : var.ref();
            GraphOperation apply = (GraphOperation) op("Assign", var.ref(), op("Sub", decayed, update)).op();
            Output<?> sq = op("Sum", b -> b.setAttr("keep_dims", false), op("Square", acc.ref()), allAxes(p.shape().length));
            norms.add(sq);
            slots.add(new Slot(var, acc, m, v, sq, apply, lrScale));
        }
        activeMask = placeholder("active", DataType.DT_FLOAT, Shape.of(slots.size()));
        normSquared = slots.isEmpty() ? constF(0f) : op("Sum", b -> b.setAttr("keep_dims", false),
                op("Mul", pack(norms), activeMask), constI(0));
        GraphOperationBuilder zb = graph.opBuilder("NoOp", scope.makeOpName("zero_gradients"), scope);
        for (Slot s : slots) {
            long[] shape = s.var().parameter().shape();
            Output<?> zero = op("Fill", GraphOps.constant(graph, scope, TInt64.vectorOf(shape)), constF(0f));
            zb.addControlInput(op("Assign", s.acc().ref(), zero).op());
        }
        zeroAll = zb.build();
        // moments and accumulators start at zero
        assignByParameter(stateVars, zeros);
    }

    /** Every state variable carries its parameter, so values keyed by parameter name fill them. */
    private void assignByParameter(List<TfLoweredModel.Var> targets, Map<String, TensorData> byParameter) {
        model.assign(targets, byParameter);
    }

    private Output<?> op(String type, Output<?>... inputs) {
        return GraphOps.build(graph, scope, type, null, inputs);
    }

    private Output<?> op(String type, java.util.function.Consumer<GraphOperationBuilder> attrs, Output<?>... inputs) {
        return GraphOps.build(graph, scope, type, attrs, inputs);
    }

    private Output<?> placeholder(String name, DataType type, Shape shape) {
        return graph.opBuilder("Placeholder", scope.makeOpName(name), scope).setAttr("dtype", type)
                .setAttr("shape", shape).build().output(0);
    }

    private Output<?> constF(float v) {
        return GraphOps.constant(graph, scope, TFloat32.scalarOf(v));
    }

    private Output<?> constI(int... v) {
        return GraphOps.constant(graph, scope, org.tensorflow.types.TInt32.vectorOf(v));
    }

    private Output<?> allAxes(int rank) {
        int[] axes = new int[rank];
        for (int i = 0; i < rank; i++) {
            axes[i] = i;
        }
        return constI(axes);
    }

    private Output<?> pack(List<Output<?>> xs) {
        GraphOperationBuilder b = graph.opBuilder("Pack", scope.makeOpName("Pack"), scope);
        b.addInputList(xs.toArray(new Output<?>[0]));
        return b.build().output(0);
    }

    boolean isOpen() {
        return open;
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
        Output<?> scaled = op("Mul", loss, lossScale);
        Output<?>[] xs = new Output<?>[slots.size()];
        for (int i = 0; i < xs.length; i++) {
            xs[i] = slots.get(i).var().ref();
        }
        Output<?>[] dx = graph.addGradients("gradients_" + trace.name(), new Output<?>[] {scaled}, xs, null);
        GraphOperationBuilder group = graph.opBuilder("NoOp", scope.makeOpName("accumulate_" + trace.name()), scope);
        for (int i = 0; i < xs.length; i++) {
            if (dx[i] != null) {
                group.addControlInput(op("AssignAdd", slots.get(i).acc().ref(), dx[i]).op());
            }
        }
        g = new Gradients(trace, loss, group.build());
        gradients.put(trace.name(), g);
        return g;
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
                hasGradients = true;
                return ((TFloat32) res.get(0)).getFloat();
            }
        } finally {
            fed.forEach(TType::close);
        }
    }

    private TFloat32 activeTensor() {
        float[] mask = new float[slots.size()];
        for (int i = 0; i < mask.length; i++) {
            mask[i] = paused.contains(slots.get(i).var().parameter().name()) ? 0f : 1f;
        }
        return TFloat32.vectorOf(mask);
    }

    @Override
    public float step(double learningRate) {
        ensureOpen();
        if (!hasGradients) {
            throw new IllegalStateException("step() without a forwardBackward() since the last step");
        }
        float norm;
        try (TFloat32 active = activeTensor(); Result res = session.runner().feed(activeMask, active)
                .fetch(normSquared).run()) {
            norm = (float) Math.sqrt(((TFloat32) res.get(0)).getFloat());
        }
        if (!Float.isFinite(norm)) {
            zeroGradients();
            steps++;
            return norm;
        }
        double clipFactor = 1.0;
        if (settings.maxGradNorm() > 0) {
            clipFactor = Math.min(1.0, settings.maxGradNorm() / (norm + 1e-6));
        }
        steps++;
        double bc1 = 1 - Math.pow(settings.beta1(), steps);
        double bc2 = 1 - Math.pow(settings.beta2(), steps);
        List<TType> fed = new ArrayList<>();
        try {
            Session.Runner r = session.runner();
            TType c = TFloat32.scalarOf((float) clipFactor);
            TType s2 = TFloat32.scalarOf((float) Math.sqrt(bc2));
            fed.add(c);
            fed.add(s2);
            r.feed(clip, c).feed(sqrtBc2, s2);
            for (Map.Entry<Double, Output<?>[]> e : groupScalars.entrySet()) {
                double lr = learningRate * e.getKey();
                TType decay = TFloat32.scalarOf((float) (1 - lr * settings.weightDecay()));
                TType stepSize = TFloat32.scalarOf((float) (lr / bc1));
                fed.add(decay);
                fed.add(stepSize);
                r.feed(e.getValue()[0], decay).feed(e.getValue()[1], stepSize);
            }
            boolean any = false;
            for (Slot s : slots) {
                if (!paused.contains(s.var().parameter().name())) {
                    r.addTarget(s.update());
                    any = true;
                }
            }
            if (any) {
                r.run().close();
            }
        } finally {
            fed.forEach(TType::close);
        }
        zeroGradients();
        return norm;
    }

    private void zeroGradients() {
        session.runner().addTarget(zeroAll).run().close();
        hasGradients = false;
    }

    @Override
    public long steps() {
        return steps;
    }

    @Override
    public OptimizerState optimizerState() {
        ensureOpen();
        List<Output<?>> reads = new ArrayList<>();
        for (Slot s : slots) {
            reads.add(s.m().read());
        }
        for (Slot s : slots) {
            reads.add(s.v().read());
        }
        List<TensorData> values = model.readAll(reads);
        Map<String, TensorData> tensors = new LinkedHashMap<>();
        int i = 0;
        for (Slot s : slots) {
            tensors.put(OptimizerState.FIRST_MOMENT + s.var().parameter().name(), values.get(i++));
        }
        for (Slot s : slots) {
            tensors.put(OptimizerState.SECOND_MOMENT + s.var().parameter().name(), values.get(i++));
        }
        return new OptimizerState(steps, tensors);
    }

    @Override
    public void restore(Map<String, TensorData> parameters, OptimizerState state) {
        ensureOpen();
        for (Parameter p : model.definition().parameters().all()) {
            check(model.var(p), parameters.get(p.name()), "parameter " + p.name());
        }
        model.assign(model.vars().values(), parameters);
        Map<String, TensorData> first = new HashMap<>();
        Map<String, TensorData> second = new HashMap<>();
        List<TfLoweredModel.Var> ms = new ArrayList<>();
        List<TfLoweredModel.Var> vs = new ArrayList<>();
        for (Slot s : slots) {
            String name = s.var().parameter().name();
            TensorData m = state.tensors().get(OptimizerState.FIRST_MOMENT + name);
            TensorData v = state.tensors().get(OptimizerState.SECOND_MOMENT + name);
            check(s.m(), m, "optimizer tensor " + OptimizerState.FIRST_MOMENT + name);
            check(s.v(), v, "optimizer tensor " + OptimizerState.SECOND_MOMENT + name);
            first.put(name, m);
            second.put(name, v);
            ms.add(s.m());
            vs.add(s.v());
        }
        model.assign(ms, first);
        model.assign(vs, second);
        zeroGradients();
        steps = state.steps();
    }

    private static void check(TfLoweredModel.Var var, TensorData data, String what) {
        if (data == null) {
            throw new InvalidCheckpointException("the checkpoint has no " + what + "; it was written for another model "
                    + "or other frozen parameters: resume with the settings of the run that wrote it");
        }
        long[] shape = var.parameter().shape();
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
