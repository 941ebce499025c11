package dev.attune.engine.onnx.internal;

import com.google.protobuf.ByteString;
import dev.attune.engine.onnx.proto.OnnxProto.ModelProto;
import dev.attune.engine.onnx.proto.OnnxProto.NodeProto;
import dev.attune.engine.onnx.proto.OnnxProto.OperatorSetIdProto;
import dev.attune.engine.onnx.proto.OnnxProto.TensorProto;
import dev.attune.ops.DType;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Dynamic int8 quantization of an exported graph, what ONNX Runtime's {@code quantize_dynamic}
 * does with per-channel weights, written here so the SDK needs no Python:
 *
 * <ul>
 *   <li>every {@code MatMul} whose right operand is a float32 weight ({@code W} stored {@code [in,
 *       out]}, or linear's {@code Transpose(W)} of a {@code [out, in]} parameter) gets int8 weights
 *       {@code [in, out]} with one symmetric scale per output column ({@code max |w| / 127}, zero
 *       point 0); its input is quantized to uint8 per call (per-tensor scale and zero point from the
 *       batch's min and max);
 *   <li>every embedding lookup ({@code Gather} on axis 0 of a float32 table of {@value #MIN_TABLE}
 *       elements or more) reads an int8 table with one scale per row and multiplies the rows it
 *       gathers by their scales.
 * </ul>
 *
 * <p>Operators: each activation that feeds quantized products is quantized once ({@code
 * DynamicQuantizeLinear}: uint8, per-tensor scale and zero point), shared by all of them (a
 * layer's query, key and value projections). With ONNX Runtime's kernels ({@code fused}) each
 * product is then one {@code com.microsoft} {@code MatMulIntegerToFloat} (MLAS's u8s8 kernels,
 * VNNI where the CPU has it, rescaled to float32 in the same pass). Measured with {@code attune
 * bench-inference} (BERT-mini, batch 32, sequence 64, 2 threads, ONNX Runtime 1.21): that form ran
 * 2.07x the fused float32 graph where {@code DynamicQuantizeMatMul} per product (an earlier run on the
 * same loaded machine), which quantizes
 * the shared input again for every product, ran 1.89x. With plain ONNX it is the standard {@code
 * MatMulInteger} + {@code Cast} + {@code Mul} of {@code quantize_dynamic}'s QOperator output (1.49x),
 * which other runtimes run as written. QDQ ({@code DequantizeLinear} on the weights before a float
 * {@code MatMul}) is not used: without static activation ranges ONNX Runtime runs that as a float32
 * product over dequantized weights, no faster than float32. uint8 activations with int8 weights
 * (u8s8) is what ONNX Runtime recommends for x86-64.
 *
 * <p>With ONNX Runtime's kernels, a {@code com.microsoft} {@code MultiHeadAttention} whose query, key and
 * value are products of one activation with weights becomes one {@code QAttention}: the three weights
 * packed side by side as int8 {@code [in, 3 out]} with their per-column scales (named {@code
 * query|key|value} with the suffixes), the shared quantized input, the projection biases and the
 * padding mask; ONNX Runtime computes the projections as one int8 product written straight into the
 * heads' layout, then attends in float32. On BERT-mini (batch 32, sequence 64, 2 threads, ONNX Runtime
 * 1.21 from Java, alternating runs on a loaded machine) that ran 1.05-1.14x the three {@code
 * MatMulIntegerToFloat} + {@code MultiHeadAttention} of the form before it, with the same logits to
 * the rounding of the packed product; it is also the form ONNX Runtime's {@code quantize_dynamic}
 * gives a fused {@code Attention} (ONNX Runtime's quantizer leaves {@code MultiHeadAttention} float).
 *
 * <p>With ONNX Runtime's kernels, the exact (erf) GELU of the feed-forward layers ({@code BiasGelu},
 * {@code Gelu}) becomes {@code FastGelu}, its tanh form, with the same inputs. The two differ by at most
 * 4.7e-4 on any input, while the next product rounds the GELU's output to 8 bits: one step of its
 * per-tensor scale is 0.014-0.028 on BERT-mini (outputs from -0.17 to 3.3-6.9), 30-60 times more. The
 * tanh kernel runs about 1.4x the erf one on BERT-mini's [32, 64, 1024] activations (ONNX Runtime 1.21
 * from Java), which took the int8 model from 1.70-1.82x to 1.96-1.99x the float32 one in the same
 * runs. This is the substitution ONNX Runtime's own transformer optimizer offers as its GELU
 * approximation; it is made only where the products are quantized, so the float32 export keeps the
 * exact GELU and its 1e-4 agreement with HuggingFace.
 *
 * <p>Everything else (LayerNorm, attention's softmax, biases) stays float32. Parameters that were
 * quantized leave the file; their int8 values keep the HuggingFace name with a {@value #QUANTIZED}
 * suffix and their scales a {@value #SCALE} suffix ({@value #ROWS} before them for an embedding table).
 */
public final class Int8Quantizer {
    /** Suffix of a quantized weight's int8 initializer. */
    public static final String QUANTIZED = "_quantized";
    /** Suffix of a quantized weight's float32 scales. */
    public static final String SCALE = "_scale";
    /** Infix of an embedding table quantized by rows (a tied output layer's copy is quantized by columns). */
    public static final String ROWS = "_rows";
    /** Smallest embedding table (elements) worth quantizing: smaller tables are a rounding error of the file. */
    public static final int MIN_TABLE = 4096;
    /** Separator of the names of query, key and value weights packed into one QAttention weight. */
    public static final String PACKED = "|";

    private Int8Quantizer() {}

    /**
     * @param model an exported model (initializers inline)
     * @param fused write ONNX Runtime's {@code MatMulIntegerToFloat}; false for standard ONNX operators
     * @return the model with int8 weights
     */
    public static ModelProto quantize(ModelProto model, boolean fused) {
        var graph = model.getGraph();
        Map<String, TensorProto> inits = new LinkedHashMap<>();
        graph.getInitializerList().forEach(t -> inits.put(t.getName(), t));
        Map<String, NodeProto> producers = new HashMap<>();
        for (NodeProto n : graph.getNodeList()) {
            n.getOutputList().forEach(o -> producers.put(o, n));
        }
        Map<String, TensorProto> added = new LinkedHashMap<>();
        Set<String> names = new HashSet<>(inits.keySet());
        graph.getNodeList().forEach(n -> names.addAll(n.getOutputList()));
        List<NodeProto> nodes = new ArrayList<>();
        int[] counter = {0};
        java.util.function.Function<String, String> fresh = hint -> {
            String name;
            do {
                name = hint + "_q" + (++counter[0]);
            } while (names.contains(name));
            names.add(name);
            return name;
        };
        Map<String, String[]> quantizedInputs = new HashMap<>();
        Map<NodeProto, MatMul[]> attentions = fused ? attentions(graph.getNodeList(), inits, producers)
                : Map.of();
        Set<NodeProto> packed = new HashSet<>();
        attentions.values().forEach(mms -> java.util.Arrays.stream(mms).forEach(mm -> packed.add(mm.node())));
        for (NodeProto n : graph.getNodeList()) {
            List<NodeProto> replaced = null;
            if (attentions.containsKey(n)) {
                replaced = qAttention(n, attentions.get(n), inits, added, fresh, quantizedInputs);
            } else if (packed.contains(n)) {
                replaced = List.of(); // read by the QAttention that replaces its attention
            } else if (n.getDomain().isEmpty() && n.getOpType().equals("MatMul")) {
                replaced = matmul(n, inits, producers, added, fused, fresh, quantizedInputs);
            } else if (n.getDomain().isEmpty() && n.getOpType().equals("Gather") && axis(n) == 0) {
                replaced = gather(n, inits, added, fresh);
            } else if (fused && n.getDomain().equals(OnnxGraph.MICROSOFT)
                    && (n.getOpType().equals("BiasGelu") || n.getOpType().equals("Gelu"))) {
                replaced = List.of(n.toBuilder().setOpType("FastGelu").build());
            }
            if (replaced != null) {
                nodes.addAll(replaced);
            } else {
                nodes.add(n);
            }
        }
        var g = graph.toBuilder().clearNode().addAllNode(dropDead(nodes, graph.getOutputList().stream()
                .map(o -> o.getName()).toList())).clearInitializer();
        Set<String> live = new HashSet<>();
        for (NodeProto n : g.getNodeList()) {
            live.addAll(n.getInputList());
        }
        for (TensorProto t : inits.values()) {
            if (live.contains(t.getName())) {
                g.addInitializer(t);
            }
        }
        added.values().stream().filter(t -> live.contains(t.getName())).forEach(g::addInitializer);
        ModelProto.Builder m = model.toBuilder().setGraph(g);
        if (fused && m.getOpsetImportList().stream().noneMatch(o -> o.getDomain().equals(OnnxGraph.MICROSOFT))) {
            m.addOpsetImport(OperatorSetIdProto.newBuilder().setDomain(OnnxGraph.MICROSOFT).setVersion(1));
        }
        return m.build();
    }

    /** Drops nodes no output depends on (linear's Transpose of a weight now read in int8). */
    private static List<NodeProto> dropDead(List<NodeProto> nodes, List<String> outputs) {
        Set<String> live = new HashSet<>(outputs);
        List<NodeProto> kept = new ArrayList<>();
        for (int i = nodes.size() - 1; i >= 0; i--) {
            NodeProto n = nodes.get(i);
            if (n.getOutputList().stream().anyMatch(live::contains)) {
                kept.add(n);
                live.addAll(n.getInputList());
            }
        }
        java.util.Collections.reverse(kept);
        return kept;
    }

    private static long axis(NodeProto n) {
        for (var a : n.getAttributeList()) {
            if (a.getName().equals("axis")) {
                return a.getI();
            }
        }
        return 0;
    }

    /** @return the float32 values of an initializer, or null when it is not a float32 initializer with inline data */
    private static float[] floats(TensorProto t) {
        if (t == null || t.getDataType() != TensorProto.DataType.FLOAT_VALUE || t.getRawData().isEmpty()) {
            return null;
        }
        FloatBuffer b = t.getRawData().asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer();
        float[] f = new float[b.remaining()];
        b.get(f);
        return f;
    }

    private static List<NodeProto> matmul(NodeProto n, Map<String, TensorProto> inits, Map<String, NodeProto> producers,
            Map<String, TensorProto> added, boolean fused, java.util.function.Function<String, String> fresh,
            Map<String, String[]> quantizedInputs) {
        MatMul mm = weightProduct(n, inits, producers);
        if (mm == null) {
            return null;
        }
        String weight = mm.weight();
        String qName = weight + QUANTIZED;
        String sName = weight + SCALE;
        if (!added.containsKey(qName)) {
            Columns c = quantizedColumns(mm, inits);
            added.put(qName, TensorProto.newBuilder().setName(qName).setDataType(TensorProto.DataType.INT8_VALUE)
                    .addDims(c.k()).addDims(c.cols()).setRawData(ByteString.copyFrom(c.q())).build());
            added.put(sName, OnnxGraph.tensor(sName, DType.FLOAT32, new long[] {c.cols()}, floatBytes(c.scale())));
        }
        String a = n.getInput(0);
        String out = n.getOutput(0);
        List<NodeProto> emitted = new ArrayList<>();
        String[] aq = quantizedInput(a, fresh, quantizedInputs, emitted);
        if (fused) {
            emitted.add(NodeProto.newBuilder().setOpType("MatMulIntegerToFloat").setDomain(OnnxGraph.MICROSOFT)
                    .setName(fresh.apply("MatMulIntegerToFloat")).addInput(aq[0]).addInput(qName).addInput(aq[1])
                    .addInput(sName).addInput(aq[2]).addOutput(out).build());
            return emitted;
        }
        String prod = fresh.apply("MatMulInteger");
        String prodF = fresh.apply("Cast");
        String scales = fresh.apply("scales");
        emitted.addAll(List.of(
                NodeProto.newBuilder().setOpType("MatMulInteger").setName(prod)
                        .addInput(aq[0]).addInput(qName).addInput(aq[2]).addOutput(prod).build(), // weights' zero point: 0
                NodeProto.newBuilder().setOpType("Cast").setName(prodF).addInput(prod).addOutput(prodF)
                        .addAttribute(OnnxGraph.attr("to", (long) TensorProto.DataType.FLOAT_VALUE)).build(),
                NodeProto.newBuilder().setOpType("Mul").setName(scales).addInput(aq[1]).addInput(sName)
                        .addOutput(scales).build(),
                NodeProto.newBuilder().setOpType("Mul").setName(fresh.apply("Mul")).addInput(prodF).addInput(scales)
                        .addOutput(out).build()));
        return emitted;
    }

    /** A float product {@code MatMul(x, W)} whose right operand is a weight: stored [in, out], or a [out, in] parameter transposed. */
    private record MatMul(NodeProto node, String weight, boolean transposed) {}

    /** A weight quantized by columns: int8 {@code [k, cols]} row-major and one scale per column. */
    private record Columns(int k, int cols, byte[] q, float[] scale) {}

    /** @return the product's weight as int8 columns ({@code max |w| / 127} per output column), or null when it is no float32 matrix */
    private static Columns quantizedColumns(MatMul mm, Map<String, TensorProto> inits) {
        TensorProto w = inits.get(mm.weight());
        float[] v = floats(w);
        if (v == null || w.getDimsCount() != 2) {
            return null;
        }
        boolean transposed = mm.transposed();
        // B = [K, N]: the stored [in, out], or the transpose of a [out, in] parameter
        int k = Math.toIntExact(transposed ? w.getDims(1) : w.getDims(0));
        int cols = Math.toIntExact(transposed ? w.getDims(0) : w.getDims(1));
        float[] scale = new float[cols];
        for (int r = 0; r < k; r++) {
            for (int c = 0; c < cols; c++) {
                float x = Math.abs(transposed ? v[c * k + r] : v[r * cols + c]);
                scale[c] = Math.max(scale[c], x);
            }
        }
        for (int c = 0; c < cols; c++) {
            scale[c] = scale[c] > 0 ? scale[c] / 127f : 1f;
        }
        byte[] q = new byte[k * cols];
        for (int r = 0; r < k; r++) {
            for (int c = 0; c < cols; c++) {
                float x = transposed ? v[c * k + r] : v[r * cols + c];
                q[r * cols + c] = (byte) Math.max(-127, Math.min(127, Math.round(x / scale[c])));
            }
        }
        return new Columns(k, cols, q, scale);
    }

    /** @return the product {@code n} as a {@link MatMul} of a float weight, or null */
    private static MatMul weightProduct(NodeProto n, Map<String, TensorProto> inits, Map<String, NodeProto> producers) {
        if (n == null || !n.getDomain().isEmpty() || !n.getOpType().equals("MatMul") || n.getInputCount() != 2) {
            return null;
        }
        String right = n.getInput(1);
        NodeProto t = producers.get(right);
        MatMul mm;
        if (inits.containsKey(right)) {
            mm = new MatMul(n, right, false);
        } else if (t != null && t.getOpType().equals("Transpose") && inits.containsKey(t.getInput(0)) && isSwap(t)) {
            mm = new MatMul(n, t.getInput(0), true);
        } else {
            return null;
        }
        TensorProto w = inits.get(mm.weight());
        return floats(w) != null && w.getDimsCount() == 2 ? mm : null;
    }

    /**
     * Finds the {@code com.microsoft} {@code MultiHeadAttention} nodes whose query, key and value are
     * products of one activation with float weights of one shape, read by nothing else: each becomes
     * one {@code QAttention} over the three weights packed side by side.
     *
     * @return per such attention node, its query, key and value products
     */
    private static Map<NodeProto, MatMul[]> attentions(List<NodeProto> nodes, Map<String, TensorProto> inits,
            Map<String, NodeProto> producers) {
        Map<String, Integer> readers = new HashMap<>();
        for (NodeProto n : nodes) {
            n.getInputList().forEach(i -> readers.merge(i, 1, Integer::sum));
        }
        Map<NodeProto, MatMul[]> found = new LinkedHashMap<>();
        for (NodeProto n : nodes) {
            if (!n.getDomain().equals(OnnxGraph.MICROSOFT) || !n.getOpType().equals("MultiHeadAttention")
                    || n.getInputCount() < 3 || n.getInputCount() > 5 || n.getOutputCount() != 1) {
                continue;
            }
            MatMul[] qkv = new MatMul[3];
            for (int i = 0; i < 3; i++) {
                qkv[i] = weightProduct(producers.get(n.getInput(i)), inits, producers);
            }
            if (java.util.Arrays.stream(qkv).anyMatch(mm -> mm == null
                    || !mm.node().getInput(0).equals(qkv[0].node().getInput(0))
                    || readers.getOrDefault(mm.node().getOutput(0), 0) != 1)) {
                continue;
            }
            long[] shape = outShape(qkv[0], inits);
            if (!java.util.Arrays.equals(shape, outShape(qkv[1], inits))
                    || !java.util.Arrays.equals(shape, outShape(qkv[2], inits))) {
                continue;
            }
            found.put(n, qkv);
        }
        return found;
    }

    /** @return the {@code [in, out]} shape of a product's weight */
    private static long[] outShape(MatMul mm, Map<String, TensorProto> inits) {
        TensorProto w = inits.get(mm.weight());
        return mm.transposed() ? new long[] {w.getDims(1), w.getDims(0)} : new long[] {w.getDims(0), w.getDims(1)};
    }

    /**
     * One {@code DynamicQuantizeLinear} per activation, shared by the products that read it (a layer's
     * query, key and value projections quantize their common input once).
     *
     * @return the quantized activation, its scale and its zero point
     */
    private static String[] quantizedInput(String a, java.util.function.Function<String, String> fresh,
            Map<String, String[]> quantizedInputs, List<NodeProto> emitted) {
        String[] aq = quantizedInputs.get(a);
        if (aq == null) {
            aq = new String[] {fresh.apply("a_quantized"), fresh.apply("a_scale"), fresh.apply("a_zero_point")};
            quantizedInputs.put(a, aq);
            emitted.add(NodeProto.newBuilder().setOpType("DynamicQuantizeLinear")
                    .setName(fresh.apply("DynamicQuantizeLinear")).addInput(a)
                    .addOutput(aq[0]).addOutput(aq[1]).addOutput(aq[2]).build());
        }
        return aq;
    }

    /**
     * {@code MultiHeadAttention(x Wq, x Wk, x Wv, bias, mask)} as {@code QAttention(quantized x,
     * int8 [Wq | Wk | Wv], bias, scales, mask)}: ONNX Runtime's kernel computes the three projections
     * as one int8 product straight into the heads' layout and attends in float32.
     */
    private static List<NodeProto> qAttention(NodeProto mha, MatMul[] qkv, Map<String, TensorProto> inits,
            Map<String, TensorProto> added, java.util.function.Function<String, String> fresh,
            Map<String, String[]> quantizedInputs) {
        String qName = qkv[0].weight() + PACKED + qkv[1].weight() + PACKED + qkv[2].weight() + QUANTIZED;
        String sName = qkv[0].weight() + PACKED + qkv[1].weight() + PACKED + qkv[2].weight() + SCALE;
        Columns[] c = new Columns[3];
        for (int i = 0; i < 3; i++) {
            c[i] = quantizedColumns(qkv[i], inits);
        }
        int k = c[0].k();
        int cols = c[0].cols();
        if (!added.containsKey(qName)) {
            byte[] q = new byte[k * 3 * cols];
            float[] scale = new float[3 * cols];
            for (int i = 0; i < 3; i++) {
                for (int r = 0; r < k; r++) {
                    System.arraycopy(c[i].q(), r * cols, q, r * 3 * cols + i * cols, cols);
                }
                System.arraycopy(c[i].scale(), 0, scale, i * cols, cols);
            }
            added.put(qName, TensorProto.newBuilder().setName(qName).setDataType(TensorProto.DataType.INT8_VALUE)
                    .addDims(k).addDims(3L * cols).setRawData(ByteString.copyFrom(q)).build());
            added.put(sName, OnnxGraph.tensor(sName, DType.FLOAT32, new long[] {3L * cols}, floatBytes(scale)));
        }
        List<NodeProto> emitted = new ArrayList<>();
        String[] aq = quantizedInput(qkv[0].node().getInput(0), fresh, quantizedInputs, emitted);
        String bias = mha.getInputCount() > 3 ? mha.getInput(3) : "";
        if (bias.isEmpty()) { // QAttention needs one: the projections had none
            bias = fresh.apply("qkv_bias");
            added.put(bias, OnnxGraph.tensor(bias, DType.FLOAT32, new long[] {3L * cols},
                    floatBytes(new float[3 * cols])));
        }
        String mask = mha.getInputCount() > 4 ? mha.getInput(4) : "";
        NodeProto.Builder b = NodeProto.newBuilder().setOpType("QAttention").setDomain(OnnxGraph.MICROSOFT)
                .setName(fresh.apply("QAttention")).addInput(aq[0]).addInput(qName).addInput(bias).addInput(aq[1])
                .addInput(sName).addInput(mask).addInput(aq[2]).addOutput(mha.getOutput(0));
        for (var a : mha.getAttributeList()) { // num_heads, scale, mask_filter_value: QAttention's too
            if (a.getName().equals("num_heads") || a.getName().equals("scale")
                    || a.getName().equals("mask_filter_value")) {
                b.addAttribute(a);
            }
        }
        emitted.add(b.build());
        return emitted;
    }

    /** @return whether a Transpose swaps the two axes of a matrix */
    private static boolean isSwap(NodeProto t) {
        for (var a : t.getAttributeList()) {
            if (a.getName().equals("perm")) {
                return a.getIntsList().equals(List.of(1L, 0L));
            }
        }
        return true; // no perm: reverses the axes
    }

    private static List<NodeProto> gather(NodeProto n, Map<String, TensorProto> inits, Map<String, TensorProto> added,
            java.util.function.Function<String, String> fresh) {
        String table = n.getInput(0);
        TensorProto t = inits.get(table);
        float[] v = floats(t);
        if (v == null || t.getDimsCount() != 2 || v.length < MIN_TABLE) {
            return null;
        }
        int rows = Math.toIntExact(t.getDims(0));
        int dim = Math.toIntExact(t.getDims(1));
        String qName = table + ROWS + QUANTIZED; // apart from a tied MatMul's [in, out] copy of the same table
        String sName = table + ROWS + SCALE;
        if (!added.containsKey(qName)) {
            float[] scale = new float[rows];
            byte[] q = new byte[rows * dim];
            for (int r = 0; r < rows; r++) {
                float max = 0;
                for (int c = 0; c < dim; c++) {
                    max = Math.max(max, Math.abs(v[r * dim + c]));
                }
                scale[r] = max > 0 ? max / 127f : 1f;
                for (int c = 0; c < dim; c++) {
                    q[r * dim + c] = (byte) Math.max(-127, Math.min(127, Math.round(v[r * dim + c] / scale[r])));
                }
            }
            added.put(qName, TensorProto.newBuilder().setName(qName).setDataType(TensorProto.DataType.INT8_VALUE)
                    .addDims(rows).addDims(dim).setRawData(ByteString.copyFrom(q)).build());
            added.put(sName, OnnxGraph.tensor(sName, DType.FLOAT32, new long[] {rows, 1}, floatBytes(scale)));
        }
        String ids = n.getInput(1);
        String rowsQ = fresh.apply("Gather");
        String rowsF = fresh.apply("Cast");
        String rowScale = fresh.apply("Gather");
        return List.of(
                NodeProto.newBuilder().setOpType("Gather").setName(rowsQ).addInput(qName).addInput(ids)
                        .addOutput(rowsQ).build(),
                NodeProto.newBuilder().setOpType("Cast").setName(rowsF).addInput(rowsQ).addOutput(rowsF)
                        .addAttribute(OnnxGraph.attr("to", (long) TensorProto.DataType.FLOAT_VALUE)).build(),
                NodeProto.newBuilder().setOpType("Gather").setName(rowScale).addInput(sName).addInput(ids)
                        .addOutput(rowScale).build(),
                NodeProto.newBuilder().setOpType("Mul").setName(fresh.apply("Mul")).addInput(rowsF).addInput(rowScale)
                        .addOutput(n.getOutput(0)).build());
    }

    private static ByteBuffer floatBytes(float[] f) {
        ByteBuffer b = ByteBuffer.allocate(f.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        b.asFloatBuffer().put(f);
        return b;
    }
}
