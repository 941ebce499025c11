package dev.attune.samples.export;

import dev.attune.error.ConfigurationException;
import dev.attune.model.Exporter;
import dev.attune.model.FineTunedModel;
import dev.attune.ops.TensorData;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.channels.Channels;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.StringJoiner;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;

/**
 * A complete export format in one file: {@code npz} writes the weights as {@code weights.npz}, the
 * archive {@code numpy.savez} makes (one {@code .npy} array per parameter, under its HuggingFace
 * name), and config.json beside it, for inspecting a model with NumPy: {@code
 * numpy.load("weights.npz")["classifier.weight"]}. Listed in {@code
 * META-INF/services/dev.attune.model.Exporter}, so {@code attune export --format npz} and {@code
 * model.export("npz", folder)} find it.
 */
public final class NpzExporter implements Exporter {
    /** Creates the exporter (found with {@link java.util.ServiceLoader}). */
    public NpzExporter() {}

    @Override
    public String format() {
        return "npz";
    }

    @Override
    public void export(FineTunedModel model, Path folder, Map<String, String> options) throws IOException {
        if (!options.isEmpty()) {
            throw new ConfigurationException("the npz export format takes no options; given: " + options.keySet());
        }
        Files.writeString(folder.resolve("config.json"), model.savedConfig().toJson(), StandardCharsets.UTF_8);
        try (ZipOutputStream zip = new ZipOutputStream(new BufferedOutputStream(
                Files.newOutputStream(folder.resolve("weights.npz"))))) {
            for (Map.Entry<String, TensorData> e : model.stateDict().entrySet()) {
                zip.putNextEntry(new ZipEntry(e.getKey() + ".npy"));
                writeNpy(e.getValue().toFloat32(), zip);
                zip.closeEntry();
            }
        }
    }

    /**
     * Writes one array in NumPy's {@code .npy} format, version 1.0: the magic string, the header
     * length, a Python dict literal with the dtype (little-endian float32), order and shape, padded
     * so the data starts at a multiple of 64 bytes, then the data.
     */
    static void writeNpy(TensorData t, OutputStream out) throws IOException {
        StringJoiner shape = new StringJoiner(", ", "(", t.shape().length == 1 ? ",)" : ")");
        for (long d : t.shape()) {
            shape.add(Long.toString(d));
        }
        StringBuilder header = new StringBuilder("{'descr': '<f4', 'fortran_order': False, 'shape': " + shape + ", }");
        while ((10 + header.length() + 1) % 64 != 0) {
            header.append(' ');
        }
        header.append('\n');
        out.write(new byte[] {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0});
        out.write(header.length() & 0xff);
        out.write(header.length() >> 8);
        out.write(header.toString().getBytes(StandardCharsets.US_ASCII));
        Channels.newChannel(out).write(t.buffer());
    }
}
