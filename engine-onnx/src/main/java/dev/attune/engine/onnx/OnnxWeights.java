package dev.attune.engine.onnx;

import com.google.protobuf.CodedInputStream;
import dev.attune.engine.onnx.internal.Int8Quantizer;
import dev.attune.engine.onnx.proto.OnnxProto.ModelProto;
import dev.attune.engine.onnx.proto.OnnxProto.StringStringEntryProto;
import dev.attune.engine.onnx.proto.OnnxProto.TensorProto;
import dev.attune.error.InvalidCheckpointException;
import dev.attune.model.WeightStore.TensorInfo;
import dev.attune.model.WeightStore;
import dev.attune.ops.DType;
import dev.attune.ops.TensorData;
import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * The weights of an ONNX file: its floating-point initializers, by name. Attune's exporter names
 * them by their HuggingFace names, so an exported model loads back onto any engine; the shared
 * constants it adds ({@code const_N}) and names other exporters generate ({@code onnx::MatMul_12},
 * {@code /bert/...}) are left out. Inline data and external data ({@code model.onnx_data} beside the
 * file) are read; the file is parsed on the first look at a name, so serving the file ({@link
 * OnnxRuntimeEngine#serve}) costs nothing here.
 */
final class OnnxWeights implements WeightStore {
    private static final Pattern GENERATED = Pattern.compile("const_\\d+|.*::.*|/.*");

    private final Path file;
    private Map<String, TensorProto> initializers;
    /** The quantization of an int8 export ({@code int8}), whose weights no other engine can take; else null. */
    private String quantized;

    /** @param file the .onnx file */
    OnnxWeights(Path file) {
        this.file = file;
    }

    /** @return the file */
    Path file() {
        return file;
    }

    private synchronized Map<String, TensorProto> initializers() {
        if (initializers == null) {
            ModelProto model;
            try (InputStream in = new BufferedInputStream(Files.newInputStream(file), 1 << 16)) {
                CodedInputStream coded = CodedInputStream.newInstance(in);
                coded.setSizeLimit(Integer.MAX_VALUE);
                model = ModelProto.parseFrom(coded);
            } catch (IOException e) {
                throw new InvalidCheckpointException(file + ": not a readable ONNX model (" + e.getMessage()
                        + "); check that the file is complete", e);
            }
            for (StringStringEntryProto e : model.getMetadataPropsList()) {
                if (e.getKey().equals(OnnxExporter.META + OnnxExporter.QUANTIZE_KEY)) {
                    quantized = e.getValue();
                }
            }
            Map<String, TensorProto> found = new LinkedHashMap<>();
            for (TensorProto t : model.getGraph().getInitializerList()) {
                if (quantized != null && t.getName().endsWith(Int8Quantizer.QUANTIZED)) {
                    // listed under its HuggingFace name, so a binder finds it and asks for it: refused in get
                    String name = t.getName().substring(0, t.getName().length() - Int8Quantizer.QUANTIZED.length());
                    for (String part : name.split(java.util.regex.Pattern.quote(Int8Quantizer.PACKED))) {
                        // a QAttention's query|key|value weights, packed: each under its own name
                        found.put(part.endsWith(Int8Quantizer.ROWS)
                                ? part.substring(0, part.length() - Int8Quantizer.ROWS.length()) : part, t);
                    }
                    continue;
                }
                if (dtype(t) != null && !GENERATED.matcher(t.getName()).matches()) {
                    found.put(t.getName(), t);
                }
            }
            initializers = found;
        }
        return initializers;
    }

    /** @return the element type of an initializer, or null when it is not floating point */
    private static DType dtype(TensorProto t) {
        return switch (t.getDataType()) {
            case TensorProto.DataType.FLOAT_VALUE -> DType.FLOAT32;
            case TensorProto.DataType.FLOAT16_VALUE -> DType.FLOAT16;
            case TensorProto.DataType.BFLOAT16_VALUE -> DType.BFLOAT16;
            default -> null;
        };
    }

    private TensorProto get(String name) {
        TensorProto t = initializers().get(name);
        if (quantized != null) {
            throw new InvalidCheckpointException(file + ": holds " + quantized + "-quantized weights (an export with"
                    + " --quantize " + quantized + "), which only ONNX Runtime runs; use the onnx engine (--engine onnx),"
                    + " or export the model without --quantize to run it elsewhere");
        }
        if (t == null) {
            throw new InvalidCheckpointException(file + ": no weight named '" + name + "' among its "
                    + initializers().size() + " initializers");
        }
        return t;
    }

    private static long[] shape(TensorProto t) {
        long[] shape = new long[t.getDimsCount()];
        for (int i = 0; i < shape.length; i++) {
            shape[i] = t.getDims(i);
        }
        return shape;
    }

    @Override
    public Set<String> names() {
        return Collections.unmodifiableSet(initializers().keySet());
    }

    @Override
    public TensorInfo info(String name) {
        TensorProto t = get(name);
        return new TensorInfo(name, dtype(t), shape(t));
    }

    @Override
    public TensorData read(String name) {
        TensorProto t = get(name);
        DType type = dtype(t);
        long[] shape = shape(t);
        ByteBuffer bytes;
        if (t.getDataLocation() == TensorProto.DataLocation.EXTERNAL) {
            bytes = external(t);
        } else if (t.hasRawData()) {
            bytes = t.getRawData().asReadOnlyByteBuffer();
        } else if (type == DType.FLOAT32) {
            bytes = ByteBuffer.allocate(t.getFloatDataCount() * 4).order(ByteOrder.LITTLE_ENDIAN);
            bytes.asFloatBuffer().put(toArray(t));
        } else {
            // FLOAT16 and BFLOAT16 without raw_data keep their bits in int32_data, one value each
            bytes = ByteBuffer.allocate(t.getInt32DataCount() * 2).order(ByteOrder.LITTLE_ENDIAN);
            for (int v : t.getInt32DataList()) {
                bytes.putShort((short) v);
            }
            bytes.flip();
        }
        try {
            return new TensorData(type, shape, bytes.order(ByteOrder.LITTLE_ENDIAN));
        } catch (IllegalArgumentException e) {
            throw new InvalidCheckpointException(file + ": initializer '" + name + "' holds the wrong number of bytes ("
                    + e.getMessage() + "); the file is damaged", e);
        }
    }

    private static float[] toArray(TensorProto t) {
        float[] f = new float[t.getFloatDataCount()];
        for (int i = 0; i < f.length; i++) {
            f[i] = t.getFloatData(i);
        }
        return f;
    }

    /** Reads an initializer kept in an external data file beside the model. */
    private ByteBuffer external(TensorProto t) {
        String location = null;
        long offset = 0;
        long length = -1;
        for (StringStringEntryProto e : t.getExternalDataList()) {
            switch (e.getKey()) {
                case "location" -> location = e.getValue();
                case "offset" -> offset = parse(t, e);
                case "length" -> length = parse(t, e);
                default -> { } // checksum and others are not needed to read
            }
        }
        Path data = ExternalDataCheck.checkLocation(file, file.toAbsolutePath().normalize().getParent(), t.getName(),
                location == null ? "" : location);
        try (FileChannel ch = FileChannel.open(data, StandardOpenOption.READ)) {
            long size = length >= 0 ? length : ch.size() - offset;
            if (offset < 0 || size > Integer.MAX_VALUE || offset + size > ch.size()) {
                throw new InvalidCheckpointException(data + ": initializer '" + t.getName() + "' lies at bytes "
                        + offset + ".." + (offset + size) + " but the file has " + ch.size() + "; it is truncated");
            }
            ByteBuffer b = ByteBuffer.allocate((int) size);
            while (b.hasRemaining()) {
                if (ch.read(b, offset + b.position()) < 0) {
                    throw new IOException("unexpected end of file");
                }
            }
            b.flip();
            return b;
        } catch (IOException e) {
            throw new InvalidCheckpointException(data + ": cannot read initializer '" + t.getName() + "' ("
                    + e.getMessage() + "); keep the external data file beside the model", e);
        }
    }

    private long parse(TensorProto t, StringStringEntryProto e) {
        try {
            return Long.parseLong(e.getValue());
        } catch (NumberFormatException ex) {
            throw new InvalidCheckpointException(file + ": initializer '" + t.getName() + "' has external data "
                    + e.getKey() + " '" + e.getValue() + "', not a number; the file is damaged", ex);
        }
    }

    @Override
    public String origin() {
        return file.toString();
    }

    @Override
    public synchronized void close() {
        initializers = null;
    }
}
