package dev.attune.engine.onnx.internal;

import ai.onnxruntime.NodeInfo;
import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxValue;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.TensorInfo;
import dev.attune.engine.Batch;
import dev.attune.engine.LoweredModel;
import dev.attune.engine.TrainingSession;
import dev.attune.error.EngineException;
import dev.attune.error.InvalidDataException;
import dev.attune.model.ModelDefinition;
import dev.attune.ops.DType;
import dev.attune.ops.Parameter;
import dev.attune.ops.TensorData;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.LongBuffer;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * A model run by ONNX Runtime: an {@link OrtSession} (all graph optimizations on, the configured
 * intra-op threads) behind the engine-neutral {@link LoweredModel}. Inputs the session declares but
 * the batch lacks get HuggingFace's defaults: {@code attention_mask} all ones, {@code
 * token_type_ids} zeros, past key/values empty (no cache yet). Outputs come back as host tensors.
 */
public final class OrtLoweredModel implements LoweredModel {
    private final ModelDefinition definition;
    private final OrtEnvironment env;
    private final OrtSession session;
    private final Map<String, NodeInfo> inputInfo;
    private final Function<Parameter, TensorData> parameters;

    /**
     * @param definition the definition (synthetic for files made elsewhere)
     * @param session an open session, owned from now on
     * @param parameters parameter values for {@link #read}, or null when the model has none to read
     */
    public OrtLoweredModel(ModelDefinition definition, OrtSession session, Function<Parameter, TensorData> parameters) {
        this.definition = definition;
        this.env = OrtEnvironment.getEnvironment();
        this.session = session;
        this.parameters = parameters;
        try {
            this.inputInfo = session.getInputInfo();
        } catch (OrtException e) {
            throw new EngineException("ONNX Runtime could not describe the model's inputs: " + e.getMessage(), e);
        }
    }

    /**
     * @param numThreads intra-op threads (0: ONNX Runtime's default)
     * @return session options with every graph optimization on
     */
    public static OrtSession.SessionOptions sessionOptions(int numThreads) {
        try {
            OrtSession.SessionOptions o = new OrtSession.SessionOptions();
            o.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.ALL_OPT);
            o.setExecutionMode(OrtSession.SessionOptions.ExecutionMode.SEQUENTIAL);
            if (numThreads > 0) {
                o.setIntraOpNumThreads(numThreads);
                o.setInterOpNumThreads(1);
            }
            return o;
        } catch (OrtException e) {
            throw new EngineException("could not configure ONNX Runtime: " + e.getMessage(), e);
        }
    }

    /** @return the session */
    public OrtSession session() {
        return session;
    }

    @Override
    public ModelDefinition definition() {
        return definition;
    }

    @Override
    public String device() {
        return "cpu";
    }

    @Override
    public Map<String, TensorData> predict(Batch batch) {
        TensorData ids = batch.get("input_ids");
        List<OnnxTensor> created = new ArrayList<>();
        try {
            Map<String, OnnxTensor> feed = new LinkedHashMap<>();
            long pastLength = 0;
            for (Map.Entry<String, NodeInfo> e : inputInfo.entrySet()) {
                if (e.getKey().startsWith("past_key_values.") && batch.get(e.getKey()) != null) {
                    pastLength = batch.get(e.getKey()).shape()[2];
                }
            }
            for (Map.Entry<String, NodeInfo> e : inputInfo.entrySet()) {
                String name = e.getKey();
                TensorInfo info = (TensorInfo) e.getValue().getInfo();
                TensorData value = batch.get(name);
                if (value == null) {
                    value = defaultInput(name, info, ids, pastLength);
                }
                OnnxTensor t = toOrt(value, info.type, name);
                created.add(t);
                feed.put(name, t);
            }
            try (OrtSession.Result result = session.run(feed)) {
                Map<String, TensorData> out = new LinkedHashMap<>();
                for (Map.Entry<String, OnnxValue> e : result) {
                    out.put(e.getKey(), toHost((OnnxTensor) e.getValue()));
                }
                return out;
            }
        } catch (OrtException e) {
            throw new EngineException("ONNX Runtime failed to run " + definition.architecture() + ": " + e.getMessage(), e);
        } finally {
            created.forEach(OnnxTensor::close);
        }
    }

    private TensorData defaultInput(String name, TensorInfo info, TensorData ids, long pastLength) {
        if (ids == null) {
            throw new InvalidDataException("the batch has no input_ids, and the ONNX model needs '" + name
                    + "'; inputs it declares: " + inputInfo.keySet());
        }
        long[] s = ids.shape();
        if (name.equals("attention_mask")) {
            long[] shape = {s[0], s[1] + pastLength};
            long[] ones = new long[Math.toIntExact(shape[0] * shape[1])];
            java.util.Arrays.fill(ones, 1);
            return TensorData.ofLongs(shape, ones);
        }
        if (name.equals("token_type_ids")) {
            return TensorData.ofLongs(s, new long[Math.toIntExact(s[0] * s[1])]);
        }
        if (name.startsWith("past_key_values.")) {
            long[] declared = info.getShape();
            if (declared.length == 4 && declared[1] > 0 && declared[3] > 0) {
                return TensorData.ofFloats(new long[] {s[0], declared[1], 0, declared[3]}, new float[0]);
            }
        }
        throw new InvalidDataException("the ONNX model needs input '" + name + "' and the batch has none; batch inputs: "
                + batch(ids) + ", model inputs: " + inputInfo.keySet());
    }

    private static String batch(TensorData ids) {
        return "input_ids " + java.util.Arrays.toString(ids.shape());
    }

    private OnnxTensor toOrt(TensorData value, OnnxJavaType want, String name) throws OrtException {
        long[] shape = value.shape();
        switch (want) {
            case INT64 -> {
                return OnnxTensor.createTensor(env, LongBuffer.wrap(value.toLongArray()), shape);
            }
            case INT32 -> {
                long[] l = value.toLongArray();
                int[] i = new int[l.length];
                for (int k = 0; k < l.length; k++) {
                    i[k] = Math.toIntExact(l[k]);
                }
                return OnnxTensor.createTensor(env, java.nio.IntBuffer.wrap(i), shape);
            }
            case FLOAT -> {
                return OnnxTensor.createTensor(env, FloatBuffer.wrap(value.toFloatArray()), shape);
            }
            default -> throw new InvalidDataException("ONNX input '" + name + "' has type " + want
                    + ", which Attune cannot feed; supported: int64, int32, float32");
        }
    }

    static TensorData toHost(OnnxTensor t) {
        TensorInfo info = t.getInfo();
        long[] shape = info.getShape();
        switch (info.type) {
            case FLOAT -> {
                FloatBuffer fb = t.getFloatBuffer();
                float[] f = new float[fb.remaining()];
                fb.get(f);
                return TensorData.ofFloats(shape, f);
            }
            case FLOAT16 -> {
                ByteBuffer b = t.getByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
                return new TensorData(DType.FLOAT16, shape, b);
            }
            case INT64 -> {
                LongBuffer lb = t.getLongBuffer();
                long[] l = new long[lb.remaining()];
                lb.get(l);
                return TensorData.ofLongs(shape, l);
            }
            case BOOL -> {
                ByteBuffer b = t.getByteBuffer();
                return new TensorData(DType.BOOL, shape, b);
            }
            default -> throw new EngineException("ONNX output of type " + info.type + " is not supported");
        }
    }

    @Override
    public TrainingSession startTraining(java.util.Set<String> frozen, java.util.List<String> slots) {
        throw new EngineException("the ONNX Runtime engine runs inference only; train on the pytorch engine and"
                + " export the result (attune export --format onnx)");
    }

    @Override
    public TensorData read(Parameter parameter) {
        if (parameters == null) {
            throw new EngineException("this ONNX model was loaded from a file; its parameters are not available by"
                    + " name (" + parameter.name() + ")");
        }
        return parameters.apply(parameter).toFloat32();
    }

    @Override
    public void close() {
        try {
            session.close();
        } catch (OrtException e) {
            throw new EngineException("could not close the ONNX Runtime session: " + e.getMessage(), e);
        }
    }
}
