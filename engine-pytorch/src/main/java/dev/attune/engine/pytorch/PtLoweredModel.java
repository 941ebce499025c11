package dev.attune.engine.pytorch;

import ai.djl.Device;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.engine.PtNDManager;
import ai.djl.pytorch.jni.JniUtils;
import dev.attune.engine.Batch;
import dev.attune.engine.LoweredModel;
import dev.attune.engine.Engine.ParameterSource;
import dev.attune.engine.TrainingSession;
import dev.attune.error.ConfigurationException;
import dev.attune.error.EngineException;
import dev.attune.error.InvalidCheckpointException;
import dev.attune.model.ModelDefinition.InputSpec;
import dev.attune.model.ModelDefinition;
import dev.attune.ops.DType;
import dev.attune.ops.Parameter;
import dev.attune.ops.Tensor;
import dev.attune.ops.TensorData;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** A definition on the PyTorch engine: parameters as libtorch tensors, forward run eagerly. */
final class PtLoweredModel implements LoweredModel {
    private final ModelDefinition definition;
    private final PtNDManager root;
    private final Device device;
    /** intra-op threads to compute with, on whichever thread calls (0: libtorch's default) */
    private final int threads;
    private final Map<String, PtNDArray> values = new LinkedHashMap<>();
    private final Object trainingLock = new Object();
    private PtTrainingSession session;
    /** Autocast's compute type for every later forward pass (FLOAT32: off). */
    private volatile DType compute = DType.FLOAT32;

    PtLoweredModel(ModelDefinition definition, ParameterSource source, PtNDManager root, Device device, int threads) {
        this.definition = definition;
        this.threads = threads;
        this.root = root;
        this.device = device;
        for (Parameter p : definition.parameters().all()) {
            TensorData data = source.valueOf(p).toFloat32();
            if (!Arrays.equals(data.shape(), p.shape())) {
                throw new InvalidCheckpointException(
                        "parameter " + p.name() + " has shape " + Arrays.toString(data.shape())
                                + " but the model declares " + Arrays.toString(p.shape()));
            }
            values.put(p.name(), load(data));
        }
        // The checkpoint's tensors arrive as memory-mapped regions of its file (the safetensors reader maps
        // them), which the JVM unmaps only when their buffers are collected; after loading, little is
        // allocated on the Java heap, so no collection comes for a long time and a BERT-base file stayed
        // resident (about 420 MB) next to libtorch's copy for the whole run. One collection now unmaps them.
        System.gc();
    }

    /**
     * A parameter whose storage libtorch owns, written straight into libtorch's memory: an empty tensor
     * is allocated and the values are copied into its storage through a buffer over that storage. The
     * earlier path (a direct Java buffer, a tensor over it, then a libtorch clone) left every
     * direct buffer to the garbage collector, a second full copy of the weights (about 420 MB at
     * BERT-base) that stayed resident until a collection that rarely came.
     */
    private PtNDArray load(TensorData data) {
        DataType type = EagerOps.dataType(data.dtype());
        PtNDArray cpu = JniUtils.createEmptyNdArray(root, new Shape(data.shape()), type, Device.cpu(),
                ai.djl.ndarray.types.SparseFormat.DENSE);
        ByteBuffer storage = JniUtils.getByteBuffer(cpu, true).order(ByteOrder.nativeOrder());
        ByteBuffer src = data.buffer().duplicate().order(ByteOrder.LITTLE_ENDIAN);
        if (storage.remaining() != src.remaining()) {
            cpu.close();
            throw new EngineException("libtorch gave " + storage.remaining() + " bytes for a tensor of "
                    + src.remaining() + " bytes (shape " + Arrays.toString(data.shape()) + ")");
        }
        if (ByteOrder.nativeOrder() == ByteOrder.LITTLE_ENDIAN) {
            storage.put(src);
        } else {
            storage.asFloatBuffer().put(src.asFloatBuffer());
        }
        if (device.equals(Device.cpu())) {
            return cpu;
        }
        PtNDArray moved = (PtNDArray) cpu.toDevice(device, false);
        cpu.close();
        return moved;
    }

    PtNDArray value(Parameter p) {
        PtNDArray v = values.get(p.name());
        if (v == null) {
            throw new IllegalStateException("parameter " + p.name() + " was not declared by " + definition.architecture());
        }
        return v;
    }

    /** Points a parameter at another handle (an alias of its storage made by the training session). */
    void replace(Parameter p, PtNDArray alias) {
        if (values.replace(p.name(), alias) == null) {
            throw new IllegalStateException("parameter " + p.name() + " was not declared by " + definition.architecture());
        }
    }

    Map<String, PtNDArray> values() {
        return values;
    }

    PtNDManager root() {
        return root;
    }

    PtNDArray toDevice(PtNDManager manager, TensorData data) {
        if (data.dtype() == DType.BFLOAT16) {
            // a bfloat16 input (a key/value cache carried in the compute type) never reaches DJL as bfloat16
            return (PtNDArray) LowPrecision.fromHostBf16(data, manager).toDevice(device, false);
        }
        ByteBuffer direct = EagerOps.direct(data.buffer());
        DataType type = EagerOps.dataType(data.dtype());
        return (PtNDArray) manager.create(direct, new Shape(data.shape()), type).toDevice(device, false);
    }

    /** Runs the forward pass on a fresh step manager; the caller closes it. */
    Map<String, Tensor> forward(EagerOps ops, PtNDManager step, Batch batch) {
        Map<String, Tensor> inputs = new HashMap<>();
        for (InputSpec spec : definition.inputs()) {
            TensorData t = batch.get(spec.name());
            if (t == null) {
                if (!spec.optional()) {
                    throw new IllegalArgumentException("batch lacks required input " + spec.name());
                }
                continue;
            }
            inputs.put(spec.name(), ops.wrap(toDevice(step, t)));
        }
        return definition.forward(ops, inputs);
    }

    /** Output name prefix of a decoder's key/value cache ({@code present.N.key}), fed back as {@code past_key_values.N.key}. */
    static final String PRESENT = "present.";

    static TensorData toHost(PtNDArray array) {
        PtNDArray cpu = array;
        if (!array.getDevice().equals(Device.cpu())) {
            cpu = (PtNDArray) array.toDevice(Device.cpu(), false);
        }
        long[] shape = cpu.getShape().getShape();
        if (cpu.getDataType() == DataType.UNKNOWN || cpu.getDataType() == DataType.BFLOAT16) {
            // bfloat16 (DJL reports UNKNOWN): its bytes never cross to Java as bfloat16, which DJL cannot
            // name; libtorch widens it to float32 first
            try (PtNDArray wide = LowPrecision.up(cpu)) {
                return toHost(wide);
            }
        }
        DType type = switch (cpu.getDataType()) {
            case FLOAT32 -> DType.FLOAT32;
            case INT64 -> DType.INT64;
            case INT32 -> DType.INT32;
            case BOOLEAN -> DType.BOOL;
            case FLOAT16 -> DType.FLOAT16;
            default -> throw new EngineException("unexpected output type " + cpu.getDataType());
        };
        ByteBuffer bytes = cpu.toByteBuffer();
        ByteBuffer copy = ByteBuffer.allocate(bytes.remaining()).order(ByteOrder.LITTLE_ENDIAN);
        copy.put(bytes.order(ByteOrder.LITTLE_ENDIAN));
        copy.flip();
        return new TensorData(type, shape, copy);
    }

    @Override
    public ModelDefinition definition() {
        return definition;
    }

    @Override
    public String device() {
        return device.toString();
    }

    @Override
    public Map<String, TensorData> predict(Batch batch) {
        applyThreads();
        boolean grad = JniUtils.isGradMode();
        JniUtils.setGradMode(false);
        try (PtNDManager step = (PtNDManager) root.newSubManager()) {
            EagerOps ops = new EagerOps(step, this::value, false).autocast(compute);
            Map<String, Tensor> out = forward(ops, step, batch);
            Map<String, TensorData> host = new LinkedHashMap<>();
            for (Map.Entry<String, Tensor> e : out.entrySet()) {
                PtNDArray value = EagerOps.a(e.getValue());
                if (compute != DType.FLOAT32 && e.getKey().startsWith(PRESENT) && LowPrecision.isFloatingPoint(value)) {
                    // the key/value cache stays in the compute type between generation steps, as under
                    // torch.autocast: half the bytes to carry, and the next step reads the values it attended
                    host.put(e.getKey(), LowPrecision.toHost(value, compute, step));
                    continue;
                }
                if (compute != DType.FLOAT32 && value.getDataType() == DataType.FLOAT16) {
                    value = ops.own(LowPrecision.up(value)).a(); // autocast's outputs reach the host as float32
                }
                host.put(e.getKey(), toHost(value));
            }
            return host;
        } finally {
            JniUtils.setGradMode(grad);
        }
    }

    /** Applies this model's intra-op thread count on the calling thread (see {@link IntraOpThreads}). */
    void applyThreads() {
        IntraOpThreads.apply(threads);
    }

    @Override
    public TrainingSession startTraining(Set<String> frozen, List<String> slots) {
        synchronized (trainingLock) {
            if (session != null && session.isOpen()) {
                throw new IllegalStateException("a training session is already open on this model");
            }
            session = new PtTrainingSession(this, frozen, slots);
            return session;
        }
    }

    /** Autocast on the PyTorch engine: see {@link EagerOps#autocast}. */
    @Override
    public void setComputeType(DType type) {
        if (type != DType.FLOAT32 && type != DType.BFLOAT16 && type != DType.FLOAT16) {
            throw new ConfigurationException("compute type must be FLOAT32, BFLOAT16 or FLOAT16, not " + type);
        }
        compute = type;
    }

    @Override
    public DType computeType() {
        return compute;
    }

    @Override
    public TensorData read(Parameter parameter) {
        return toHost(value(parameter));
    }

    @Override
    public void close() {
        if (session != null) {
            session.close();
        }
        root.close();
    }
}
