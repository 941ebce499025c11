package dev.attune.engine.onnx.internal;

import com.google.protobuf.ByteString;
import dev.attune.engine.onnx.proto.OnnxProto.AttributeProto;
import dev.attune.engine.onnx.proto.OnnxProto.GraphProto;
import dev.attune.engine.onnx.proto.OnnxProto.NodeProto;
import dev.attune.engine.onnx.proto.OnnxProto.TensorProto;
import dev.attune.engine.onnx.proto.OnnxProto.TensorShapeProto;
import dev.attune.engine.onnx.proto.OnnxProto.TypeProto;
import dev.attune.engine.onnx.proto.OnnxProto.ValueInfoProto;
import dev.attune.ops.DType;
import dev.attune.ops.TensorData;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A graph under construction: nodes in topological order (the order they are emitted), named
 * initializers, inputs and outputs. Value names are unique; small constants are shared.
 */
public final class OnnxGraph {
    private final List<NodeProto> nodes = new ArrayList<>();
    private final Map<String, TensorProto> initializers = new LinkedHashMap<>();
    private final List<ValueInfoProto> inputs = new ArrayList<>();
    private final List<ValueInfoProto> outputs = new ArrayList<>();
    private final Map<String, String> constantNames = new HashMap<>();
    private final Map<String, Integer> counters = new HashMap<>();
    private final Map<String, NodeProto> producers = new HashMap<>();

    /** ONNX Runtime's contrib operator domain (fused transformer kernels). */
    public static final String MICROSOFT = "com.microsoft";

    /**
     * @param hint readable stem
     * @return a value name not used before
     */
    public String fresh(String hint) {
        int n = counters.merge(hint, 1, Integer::sum);
        return hint + "_" + n;
    }

    /**
     * Emits a node with one output.
     *
     * @return the output's name
     */
    public String node(String op, List<String> in, AttributeProto... attributes) {
        return nodeIn("", op, in, attributes);
    }

    /**
     * Emits a node of an operator domain ({@code ""} for ONNX, {@value #MICROSOFT} for ONNX Runtime's
     * contrib ops) with one output; an empty input name leaves an optional input out.
     *
     * @return the output's name
     */
    public String nodeIn(String domain, String op, List<String> in, AttributeProto... attributes) {
        String out = fresh(op);
        NodeProto.Builder b = NodeProto.newBuilder().setOpType(op).setName(out).addAllInput(in).addOutput(out);
        if (!domain.isEmpty()) {
            b.setDomain(domain);
        }
        for (AttributeProto a : attributes) {
            b.addAttribute(a);
        }
        add(b.build());
        return out;
    }

    private void add(NodeProto node) {
        nodes.add(node);
        for (String o : node.getOutputList()) {
            producers.put(o, node);
        }
    }

    /**
     * @param value a value name
     * @return the node that produced it, or null for graph inputs and initializers
     */
    public NodeProto producer(String value) {
        return producers.get(value);
    }

    /** @return the initializer of that name, or null */
    public TensorProto initializer(String name) {
        return initializers.get(name);
    }

    /** @return whether any node is of the given domain */
    public boolean usesDomain(String domain) {
        return nodes.stream().anyMatch(n -> n.getDomain().equals(domain));
    }

    /** Emits a node writing to a given output name (graph outputs). */
    public void nodeInto(String op, List<String> in, String out, AttributeProto... attributes) {
        NodeProto.Builder b = NodeProto.newBuilder().setOpType(op).setName(fresh(op)).addAllInput(in).addOutput(out);
        for (AttributeProto a : attributes) {
            b.addAttribute(a);
        }
        add(b.build());
    }

    /** @return whether an initializer of that name exists */
    public boolean hasInitializer(String name) {
        return initializers.containsKey(name);
    }

    /** Adds a named initializer. */
    public void initializer(TensorProto tensor) {
        initializers.put(tensor.getName(), tensor);
    }

    /** @return the initializers added so far */
    public Map<String, TensorProto> initializers() {
        return initializers;
    }

    /** @return a shared INT64 constant of the given shape (rank 0 or 1) */
    public String longs(boolean scalar, long... values) {
        ByteBuffer b = ByteBuffer.allocate(values.length * 8).order(ByteOrder.LITTLE_ENDIAN);
        b.asLongBuffer().put(values);
        long[] shape = scalar ? new long[0] : new long[] {values.length};
        return shared("i64" + (scalar ? "s" : "v") + java.util.Arrays.toString(values), DType.INT64, shape, b);
    }

    /** @return a shared constant of a float type (FLOAT32 or FLOAT16) */
    public String floats(DType type, long[] shape, float[] values) {
        ByteBuffer b;
        if (type == DType.FLOAT16) {
            b = ByteBuffer.allocate(values.length * 2).order(ByteOrder.LITTLE_ENDIAN);
            for (float v : values) {
                b.putShort(TensorData.floatToHalf(clampToHalf(v)));
            }
        } else {
            b = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
            b.asFloatBuffer().put(values);
        }
        b.rewind();
        String key = type + java.util.Arrays.toString(shape) + (values.length <= 16 ? java.util.Arrays.toString(values)
                : "#" + counters.merge("#const", 1, Integer::sum));
        return shared(key, type, shape, b);
    }

    /** Large float32 magnitudes (the -FLT_MAX of attention masks) become the float16 extremes, not infinities. */
    static float clampToHalf(float v) {
        return Math.max(-65504f, Math.min(65504f, v));
    }

    private String shared(String key, DType type, long[] shape, ByteBuffer bytes) {
        return constantNames.computeIfAbsent(key, k -> {
            String name = fresh("const");
            initializers.put(name, tensor(name, type, shape, bytes));
            return name;
        });
    }

    /** @return a tensor proto holding the bytes inline */
    public static TensorProto tensor(String name, DType type, long[] shape, ByteBuffer littleEndianBytes) {
        TensorProto.Builder t = TensorProto.newBuilder().setName(name).setDataType(elemType(type));
        for (long d : shape) {
            t.addDims(d);
        }
        return t.setRawData(ByteString.copyFrom(littleEndianBytes.duplicate())).build();
    }

    /** Declares a graph input with named (symbolic) or fixed dimensions. */
    public void input(String name, DType type, Object... dims) {
        inputs.add(valueInfo(name, type, dims));
    }

    /** Declares a graph output. */
    public void output(String name, DType type, Object... dims) {
        outputs.add(valueInfo(name, type, dims));
    }

    static ValueInfoProto valueInfo(String name, DType type, Object... dims) {
        TypeProto.Tensor.Builder tt = TypeProto.Tensor.newBuilder().setElemType(elemType(type));
        if (dims != null) {
            TensorShapeProto.Builder shape = TensorShapeProto.newBuilder();
            for (Object d : dims) {
                TensorShapeProto.Dimension.Builder dim = TensorShapeProto.Dimension.newBuilder();
                if (d instanceof String s) {
                    dim.setDimParam(s);
                } else if (d instanceof Number n) {
                    dim.setDimValue(n.longValue());
                }
                shape.addDim(dim);
            }
            tt.setShape(shape);
        }
        return ValueInfoProto.newBuilder().setName(name).setType(TypeProto.newBuilder().setTensorType(tt)).build();
    }

    /** @return the graph */
    public GraphProto build(String name) {
        return GraphProto.newBuilder().setName(name).addAllNode(nodes).addAllInitializer(initializers.values())
                .addAllInput(inputs).addAllOutput(outputs).build();
    }

    /**
     * Drops the nodes no graph output depends on (what a fusion left behind: the composite it
     * replaced) and the unnamed constants only they read. Parameters (initializers under their
     * HuggingFace names) all stay, so the file still carries every weight the model read.
     */
    public void pruneDeadNodes() {
        java.util.Set<String> live = new java.util.HashSet<>();
        outputs.forEach(o -> live.add(o.getName()));
        List<NodeProto> kept = new ArrayList<>();
        for (int i = nodes.size() - 1; i >= 0; i--) {
            NodeProto n = nodes.get(i);
            if (n.getOutputList().stream().anyMatch(live::contains)) {
                kept.add(n);
                live.addAll(n.getInputList());
            }
        }
        java.util.Collections.reverse(kept);
        nodes.clear();
        nodes.addAll(kept);
        initializers.keySet().removeIf(k -> !live.contains(k) && constantNames.containsValue(k));
        constantNames.values().removeIf(k -> !initializers.containsKey(k));
    }

    /** @return ONNX's element type number */
    public static int elemType(DType type) {
        return switch (type) {
            case FLOAT32 -> TensorProto.DataType.FLOAT_VALUE;
            case FLOAT16 -> TensorProto.DataType.FLOAT16_VALUE;
            case BFLOAT16 -> TensorProto.DataType.BFLOAT16_VALUE;
            case INT64 -> TensorProto.DataType.INT64_VALUE;
            case INT32 -> TensorProto.DataType.INT32_VALUE;
            case BOOL -> TensorProto.DataType.BOOL_VALUE;
        };
    }

    // ------------------------------------------------------------ attributes

    /** @return an INT attribute */
    public static AttributeProto attr(String name, long value) {
        return AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.INT).setI(value).build();
    }

    /** @return a FLOAT attribute */
    public static AttributeProto attr(String name, float value) {
        return AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.FLOAT).setF(value).build();
    }

    /** @return an INTS attribute */
    public static AttributeProto attrInts(String name, long... values) {
        AttributeProto.Builder b = AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.INTS);
        for (long v : values) {
            b.addInts(v);
        }
        return b.build();
    }
}
