package dev.attune.engine.onnx;

import com.google.protobuf.CodedInputStream;
import com.google.protobuf.WireFormat;
import dev.attune.error.InvalidCheckpointException;
import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;

/**
 * Refuses an ONNX file whose tensors keep their data in files outside the model's folder, before
 * ONNX Runtime (which follows any {@code location} it is given) or {@link OnnxWeights} opens them:
 * an absolute path, a {@code ..} that climbs out, or a link that leads out would let a downloaded
 * model read any file the process can read. The file is streamed and every field but the tensors'
 * {@code external_data} skipped (weights are not loaded), through initializers, sparse
 * initializers, node attributes ({@code Constant} values), subgraphs ({@code If}, {@code Loop}) and
 * functions, subgraphs at most {@value #MAX_DEPTH} deep.
 */
final class ExternalDataCheck {
    /** Subgraph nesting accepted; real models nest a few levels. */
    static final int MAX_DEPTH = 32;

    // field numbers of the public ONNX specification (onnx.proto)
    private static final int MODEL_GRAPH = 7;
    private static final int MODEL_FUNCTIONS = 25;
    private static final int FUNCTION_NODE = 7;
    private static final int GRAPH_NODE = 1;
    private static final int GRAPH_INITIALIZER = 5;
    private static final int GRAPH_SPARSE_INITIALIZER = 15;
    private static final int NODE_ATTRIBUTE = 5;
    private static final int ATTRIBUTE_T = 5;
    private static final int ATTRIBUTE_G = 6;
    private static final int ATTRIBUTE_TENSORS = 10;
    private static final int ATTRIBUTE_GRAPHS = 11;
    private static final int ATTRIBUTE_SPARSE_TENSOR = 22;
    private static final int ATTRIBUTE_SPARSE_TENSORS = 23;
    private static final int SPARSE_VALUES = 1;
    private static final int SPARSE_INDICES = 2;
    private static final int TENSOR_NAME = 8;
    private static final int TENSOR_EXTERNAL_DATA = 13;
    private static final int ENTRY_KEY = 1;
    private static final int ENTRY_VALUE = 2;

    private final Path file;
    private final Path folder;

    private ExternalDataCheck(Path file) {
        this.file = file;
        this.folder = file.toAbsolutePath().normalize().getParent();
    }

    /**
     * @param onnx an .onnx file
     * @throws InvalidCheckpointException naming the tensor and location when one points outside the
     *     file's folder, or when the file cannot be read as an ONNX model
     */
    static void check(Path onnx) {
        new ExternalDataCheck(onnx).run();
    }

    private void run() {
        try (InputStream in = new BufferedInputStream(Files.newInputStream(file), 1 << 16)) {
            CodedInputStream c = CodedInputStream.newInstance(in);
            c.setSizeLimit(Integer.MAX_VALUE);
            while (true) {
                int tag = c.readTag();
                if (tag == 0) {
                    return;
                }
                int field = WireFormat.getTagFieldNumber(tag);
                if (field == MODEL_GRAPH && lengthDelimited(tag)) {
                    nested(c, () -> graph(c, 0));
                } else if (field == MODEL_FUNCTIONS && lengthDelimited(tag)) {
                    nested(c, () -> function(c, 0));
                } else {
                    c.skipField(tag);
                }
            }
        } catch (IOException e) {
            throw new InvalidCheckpointException(file + ": not a readable ONNX model (" + e.getMessage()
                    + "); check that the file is complete", e);
        }
    }

    /** A message reader that may throw IOException. */
    private interface Body {
        void read() throws IOException;
    }

    private static boolean lengthDelimited(int tag) {
        return WireFormat.getTagWireType(tag) == WireFormat.WIRETYPE_LENGTH_DELIMITED;
    }

    private static void nested(CodedInputStream c, Body body) throws IOException {
        int limit = c.pushLimit(c.readRawVarint32());
        body.read();
        c.popLimit(limit);
    }

    private void depth(int depth) {
        if (depth > MAX_DEPTH) {
            throw new InvalidCheckpointException(file + ": subgraphs nested more than " + MAX_DEPTH + " deep; the file is"
                    + " damaged or hostile");
        }
    }

    private void graph(CodedInputStream c, int depth) throws IOException {
        depth(depth);
        for (int tag = c.readTag(); tag != 0; tag = c.readTag()) {
            int field = WireFormat.getTagFieldNumber(tag);
            if (!lengthDelimited(tag)) {
                c.skipField(tag);
            } else if (field == GRAPH_NODE) {
                nested(c, () -> node(c, depth));
            } else if (field == GRAPH_INITIALIZER) {
                nested(c, () -> tensor(c));
            } else if (field == GRAPH_SPARSE_INITIALIZER) {
                nested(c, () -> sparse(c));
            } else {
                c.skipField(tag);
            }
        }
    }

    private void function(CodedInputStream c, int depth) throws IOException {
        for (int tag = c.readTag(); tag != 0; tag = c.readTag()) {
            if (WireFormat.getTagFieldNumber(tag) == FUNCTION_NODE && lengthDelimited(tag)) {
                nested(c, () -> node(c, depth));
            } else {
                c.skipField(tag);
            }
        }
    }

    private void node(CodedInputStream c, int depth) throws IOException {
        for (int tag = c.readTag(); tag != 0; tag = c.readTag()) {
            if (WireFormat.getTagFieldNumber(tag) == NODE_ATTRIBUTE && lengthDelimited(tag)) {
                nested(c, () -> attribute(c, depth));
            } else {
                c.skipField(tag);
            }
        }
    }

    private void attribute(CodedInputStream c, int depth) throws IOException {
        for (int tag = c.readTag(); tag != 0; tag = c.readTag()) {
            int field = WireFormat.getTagFieldNumber(tag);
            if (!lengthDelimited(tag)) {
                c.skipField(tag);
            } else if (field == ATTRIBUTE_T || field == ATTRIBUTE_TENSORS) {
                nested(c, () -> tensor(c));
            } else if (field == ATTRIBUTE_G || field == ATTRIBUTE_GRAPHS) {
                nested(c, () -> graph(c, depth + 1));
            } else if (field == ATTRIBUTE_SPARSE_TENSOR || field == ATTRIBUTE_SPARSE_TENSORS) {
                nested(c, () -> sparse(c));
            } else {
                c.skipField(tag);
            }
        }
    }

    private void sparse(CodedInputStream c) throws IOException {
        for (int tag = c.readTag(); tag != 0; tag = c.readTag()) {
            int field = WireFormat.getTagFieldNumber(tag);
            if ((field == SPARSE_VALUES || field == SPARSE_INDICES) && lengthDelimited(tag)) {
                nested(c, () -> tensor(c));
            } else {
                c.skipField(tag);
            }
        }
    }

    private void tensor(CodedInputStream c) throws IOException {
        String name = "";
        String location = null;
        for (int tag = c.readTag(); tag != 0; tag = c.readTag()) {
            int field = WireFormat.getTagFieldNumber(tag);
            if (field == TENSOR_NAME && lengthDelimited(tag)) {
                name = c.readStringRequireUtf8();
            } else if (field == TENSOR_EXTERNAL_DATA && lengthDelimited(tag)) {
                String[] kv = new String[2];
                nested(c, () -> {
                    for (int t = c.readTag(); t != 0; t = c.readTag()) {
                        int f = WireFormat.getTagFieldNumber(t);
                        if ((f == ENTRY_KEY || f == ENTRY_VALUE) && lengthDelimited(t)) {
                            kv[f - 1] = c.readStringRequireUtf8();
                        } else {
                            c.skipField(t);
                        }
                    }
                });
                if ("location".equals(kv[0])) {
                    location = kv[1] == null ? "" : kv[1];
                }
            } else {
                c.skipField(tag);
            }
        }
        if (location != null) {
            checkLocation(file, folder, name, location);
        }
    }

    /**
     * @param file the .onnx file (for messages)
     * @param folder its folder, absolute and normalized
     * @param tensor the tensor's name
     * @param location its external data location
     * @return the data file, inside the folder
     * @throws InvalidCheckpointException when the location leaves the folder
     */
    static Path checkLocation(Path file, Path folder, String tensor, String location) {
        Path data = null;
        try {
            Path given = Path.of(location);
            if (!location.isEmpty() && !given.isAbsolute() && location.indexOf('\\') < 0) {
                data = folder.resolve(given).normalize();
            }
        } catch (InvalidPathException e) {
            data = null;
        }
        boolean inside = data != null && data.startsWith(folder) && !data.equals(folder);
        if (inside && Files.exists(data)) {
            try { // a link in the folder that leads out is as bad as a path that does
                inside = data.toRealPath().startsWith(folder.toRealPath());
            } catch (IOException e) {
                inside = false;
            }
        }
        if (!inside) {
            throw new InvalidCheckpointException(file + ": tensor '" + tensor + "' keeps its data in '"
                    + location + "', which is not a file in the model's folder " + folder
                    + " (absolute paths, '..' and links out of the folder are refused); the file is damaged or hostile:"
                    + " keep the external data file beside the model under a plain name");
        }
        return data;
    }
}
