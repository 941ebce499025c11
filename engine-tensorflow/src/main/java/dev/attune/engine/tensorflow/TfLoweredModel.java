package dev.attune.engine.tensorflow;

import dev.attune.engine.Batch;
import dev.attune.engine.LoweredModel;
import dev.attune.engine.Engine.ParameterSource;
import dev.attune.engine.TrainingSession;
import dev.attune.error.EngineException;
import dev.attune.error.InvalidCheckpointException;
import dev.attune.model.ModelDefinition.InputSpec;
import dev.attune.model.ModelDefinition;
import dev.attune.ops.DType;
import dev.attune.ops.Parameter;
import dev.attune.ops.Tensor;
import dev.attune.ops.TensorData;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.tensorflow.Graph;
import org.tensorflow.GraphOperation;
import org.tensorflow.Output;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.OpScope;
import org.tensorflow.op.Scope;
import org.tensorflow.proto.ConfigProto;
import org.tensorflow.proto.DataType;
import org.tensorflow.types.family.TType;

/**
 * A definition lowered to one TensorFlow graph: every parameter is a {@code VariableV2} named by its
 * HuggingFace name, and the forward pass is traced once per mode (inference or training) and set
 * of present inputs, with placeholders of dynamic batch and sequence size. One session runs it all.
 */
final class TfLoweredModel implements LoweredModel {
    /** One parameter: its variable, a read of it, and the feed and assign that set its value. */
    record Var(Parameter parameter, Output<?> ref, Output<?> read, Output<?> feed, GraphOperation assign) {}

    /** One traced forward pass. */
    record Trace(String name, Map<String, Output<?>> inputs, Map<String, Output<?>> outputs, Output<?> seed) {}

    private final ModelDefinition definition;
    private final Graph graph;
    private final Session session;
    private final Map<String, Var> vars = new LinkedHashMap<>();
    private final Map<String, Trace> traces = new HashMap<>();
    private final Object trainingLock = new Object();
    private TfTrainingSession training;
    private int traceCount;
    private int sessionCount;

    TfLoweredModel(ModelDefinition definition, ParameterSource source, int numThreads) {
        this.definition = definition;
        this.graph = new Graph();
        try {
            Scope root = new OpScope(graph);
            for (Parameter p : definition.parameters().all()) {
                vars.put(p.name(), variable(graph, root, p.name(), p.shape(), p));
            }
            ConfigProto.Builder config = ConfigProto.newBuilder();
            if (numThreads > 0) {
                config.setIntraOpParallelismThreads(numThreads).setInterOpParallelismThreads(1);
            }
            this.session = new Session(graph, config.build());
            Map<String, TensorData> initial = new LinkedHashMap<>();
            for (Parameter p : definition.parameters().all()) {
                TensorData data = source.valueOf(p).toFloat32();
                if (!Arrays.equals(data.shape(), p.shape())) {
                    throw new InvalidCheckpointException("parameter " + p.name() + " has shape "
                            + Arrays.toString(data.shape()) + " but the model declares " + Arrays.toString(p.shape()));
                }
                initial.put(p.name(), data);
            }
            assign(vars.values(), initial);
        } catch (RuntimeException e) {
            graph.close();
            throw e;
        }
    }

    /** Declares a float32 VariableV2 with a placeholder and an Assign that set its value. */
    static Var variable(Graph graph, Scope root, String name, long[] shape, Parameter p) {
        if (!Scope.isValidOpName(name)) {
            throw new EngineException("parameter name '" + name + "' is not a valid TensorFlow op name");
        }
        GraphOperation v = graph.opBuilder("VariableV2", name, root)
                .setAttr("shape", Shape.of(shape)).setAttr("dtype", DataType.DT_FLOAT).build();
        Output<?> ref = v.output(0);
        Scope init = root.withSubScope("assign");
        Output<?> feed = graph.opBuilder("Placeholder", init.makeOpName(name), init)
                .setAttr("dtype", DataType.DT_FLOAT).setAttr("shape", Shape.of(shape)).build().output(0);
        GraphOperation assign = graph.opBuilder("Assign", init.makeOpName(name + "_assign"), init)
                .addInput(ref).addInput(feed).build();
        Scope reads = root.withSubScope("read");
        Output<?> read = graph.opBuilder("Identity", reads.makeOpName(name), reads).addInput(ref).build().output(0);
        return new Var(p, ref, read, feed, assign);
    }

    /** Sets variables from host values in one session run. */
    void assign(Collection<Var> targets, Map<String, TensorData> values) {
        List<TType> fed = new ArrayList<>();
        try {
            Session.Runner r = session.runner();
            for (Var v : targets) {
                TensorData data = values.get(v.parameter().name());
                TType t = TfTensors.toTf(data.dtype() == DType.FLOAT32 ? data : data.toFloat32());
                fed.add(t);
                r.feed(v.feed(), t).addTarget(v.assign());
            }
            if (!r.isEmpty()) {
                r.run().close();
            }
        } finally {
            fed.forEach(TType::close);
        }
    }

    /** @return a number naming the next training session's state variables (sessions may follow each other) */
    synchronized int nextSessionId() {
        return sessionCount++;
    }

    Graph graph() {
        return graph;
    }

    Session session() {
        return session;
    }

    Map<String, Var> vars() {
        return vars;
    }

    Var var(Parameter p) {
        Var v = vars.get(p.name());
        if (v == null) {
            throw new IllegalStateException("parameter " + p.name() + " was not declared by " + definition.architecture());
        }
        return v;
    }

    /**
     * @param training whether dropout is on
     * @param present names of the inputs the batch holds
     * @return the traced forward pass for that mode and input set (traced on first use)
     */
    synchronized Trace trace(boolean training, Collection<String> present) {
        List<String> names = new ArrayList<>();
        for (InputSpec spec : definition.inputs()) {
            if (present.contains(spec.name())) {
                names.add(spec.name());
            } else if (!spec.optional()) {
                throw new IllegalArgumentException("batch lacks required input " + spec.name());
            }
        }
        String key = (training ? "train:" : "predict:") + new TreeSet<>(names);
        Trace t = traces.get(key);
        if (t == null) {
            t = newTrace(training, names, (training ? "train_" : "predict_") + traceCount++);
            traces.put(key, t);
        }
        return t;
    }

    private Trace newTrace(boolean training, List<String> names, String prefix) {
        Scope scope = new OpScope(graph).withSubScope(prefix);
        Map<String, Output<?>> inputs = new LinkedHashMap<>();
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        for (InputSpec spec : definition.inputs()) {
            if (!names.contains(spec.name())) {
                continue;
            }
            long[] dims = new long[spec.rank()];
            Arrays.fill(dims, -1);
            Output<?> ph = graph.opBuilder("Placeholder", scope.makeOpName(spec.name()), scope)
                    .setAttr("dtype", GraphOps.dataType(spec.dtype())).setAttr("shape", Shape.of(dims)).build().output(0);
            inputs.put(spec.name(), ph);
            tensors.put(spec.name(), new GraphOps.T(ph));
        }
        Output<?> seed = null;
        if (training) {
            seed = graph.opBuilder("Placeholder", scope.makeOpName("dropout_seed"), scope)
                    .setAttr("dtype", DataType.DT_INT64).setAttr("shape", Shape.of(2)).build().output(0);
        }
        GraphOps ops = new GraphOps(graph, prefix, p -> var(p).ref(), training, seed);
        Map<String, Tensor> out = definition.forward(ops, tensors);
        Map<String, Output<?>> outputs = new LinkedHashMap<>();
        for (Map.Entry<String, Tensor> e : out.entrySet()) {
            Output<?> value = GraphOps.o(e.getValue());
            if (inputs.containsValue(value)) {
                // an input returned unchanged (dropout outside training, an identity, a pass-through):
                // a session cannot fetch a tensor it is fed, so fetch a copy
                value = graph.opBuilder("Identity", scope.makeOpName("output_" + e.getKey()), scope).addInput(value)
                        .build().output(0);
            }
            outputs.put(e.getKey(), value);
        }
        return new Trace(prefix, inputs, outputs, seed);
    }

    /** Feeds a batch's inputs for a trace; the caller closes the returned tensors after the run. */
    static List<TType> feed(Session.Runner runner, Trace trace, Batch batch) {
        List<TType> fed = new ArrayList<>();
        try {
            for (Map.Entry<String, Output<?>> e : trace.inputs().entrySet()) {
                TensorData data = batch.get(e.getKey());
                DType want = TfTensors.dtype(e.getValue().dataType());
                if (data.dtype() != want) {
                    data = convert(data, want, e.getKey());
                }
                TType t = TfTensors.toTf(data);
                fed.add(t);
                runner.feed(e.getValue(), t);
            }
            return fed;
        } catch (RuntimeException ex) {
            fed.forEach(TType::close);
            throw ex;
        }
    }

    private static TensorData convert(TensorData data, DType want, String name) {
        if (want == DType.INT64 && (data.dtype() == DType.INT32 || data.dtype() == DType.BOOL)) {
            return TensorData.ofLongs(data.shape(), data.toLongArray());
        }
        if (want == DType.FLOAT32) {
            return data.toFloat32();
        }
        throw new IllegalArgumentException("input " + name + " is " + data.dtype() + " but the model reads " + want);
    }

    @Override
    public ModelDefinition definition() {
        return definition;
    }

    @Override
    public String device() {
        return "cpu()";
    }

    @Override
    public Map<String, TensorData> predict(Batch batch) {
        Trace t = trace(false, batch.tensors().keySet());
        Session.Runner r = session.runner();
        List<TType> fed = feed(r, t, batch);
        try {
            for (Output<?> out : t.outputs().values()) {
                r.fetch(out);
            }
            try (Result res = r.run()) {
                Map<String, TensorData> host = new LinkedHashMap<>();
                int i = 0;
                for (String name : t.outputs().keySet()) {
                    host.put(name, TfTensors.toHost(res.get(i++)));
                }
                return host;
            }
        } finally {
            fed.forEach(TType::close);
        }
    }

    @Override
    public TrainingSession startTraining(Set<String> frozen, List<String> slots) {
        synchronized (trainingLock) {
            if (training != null && training.isOpen()) {
                throw new IllegalStateException("a training session is already open on this model");
            }
            training = new TfTrainingSession(this, frozen, slots);
            return training;
        }
    }

    @Override
    public TensorData read(Parameter parameter) {
        return readAll(List.of(var(parameter).read())).get(0);
    }

    /** Fetches several values in one run. */
    List<TensorData> readAll(List<Output<?>> outputs) {
        Session.Runner r = session.runner();
        outputs.forEach(r::fetch);
        try (Result res = r.run()) {
            List<TensorData> host = new ArrayList<>(outputs.size());
            for (int i = 0; i < outputs.size(); i++) {
                host.add(TfTensors.toHost(res.get(i)));
            }
            return host;
        }
    }

    /** @return every parameter's current value, by name, in declaration order */
    Map<String, TensorData> stateDict() {
        List<Output<?>> reads = new ArrayList<>();
        vars.values().forEach(v -> reads.add(v.read()));
        List<TensorData> values = readAll(reads);
        Map<String, TensorData> out = new LinkedHashMap<>();
        int i = 0;
        for (String name : vars.keySet()) {
            out.put(name, values.get(i++));
        }
        return out;
    }

    @Override
    public void close() {
        if (training != null) {
            training.close();
        }
        session.close();
        graph.close();
    }
}
