package dev.attune.samples;

import static org.assertj.core.api.Assertions.assertThat;

import dev.attune.Attune;
import dev.attune.PluginRegistry;
import dev.attune.cli.AttuneCli;
import dev.attune.model.FineTunedModel;
import dev.attune.model.PretrainedModel;
import dev.attune.ops.TensorData;
import dev.attune.samples.export.NpzExporter;
import dev.attune.testing.SharedFiles;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.zip.ZipEntry;
import java.util.zip.ZipInputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A custom export format in one file ({@link NpzExporter}) is found by name like the built-in ones,
 * from Java and from {@code attune export}, and writes arrays NumPy reads: every parameter, its
 * shape and its values.
 */
class CustomExporterTest {
    private static final Pattern HEADER = Pattern.compile("\\{'descr': '<f4', 'fortran_order': False, 'shape': \\(([0-9, ]*)\\), \\} *\\n");

    @TempDir
    Path tmp;

    @Test
    void aPluginFormatExportsEveryParameterAsNumPyArrays() throws IOException {
        assertThat(PluginRegistry.discover().exporters()).containsKeys("npz", "hf", "onnx", "savedmodel");
        Path out = tmp.resolve("npz");
        Map<String, TensorData> state;
        try (Attune attune = Attune.builder().engine("pytorch").build();
                PretrainedModel base = attune.load(SharedFiles.path("fixtures/hf/bert-seqcls"));
                FineTunedModel model = attune.prepare(base,
                        attune.task("text-classification", Map.of()).withLabels(List.of("neg", "pos")), 32)) {
            state = model.stateDict();
            model.export("npz", out);
        }
        assertThat(out.resolve("config.json")).isRegularFile();
        Map<String, float[]> arrays = new LinkedHashMap<>();
        Map<String, String> shapes = new LinkedHashMap<>();
        try (ZipInputStream zip = new ZipInputStream(Files.newInputStream(out.resolve("weights.npz")))) {
            for (ZipEntry e = zip.getNextEntry(); e != null; e = zip.getNextEntry()) {
                String name = e.getName().substring(0, e.getName().length() - ".npy".length());
                readNpy(zip, name, arrays, shapes);
            }
        }
        assertThat(arrays.keySet()).containsExactlyElementsOf(state.keySet());
        for (Map.Entry<String, TensorData> e : state.entrySet()) {
            long[] shape = e.getValue().shape();
            StringBuilder want = new StringBuilder();
            for (int i = 0; i < shape.length; i++) {
                want.append(i == 0 ? "" : ", ").append(shape[i]);
            }
            assertThat(shapes.get(e.getKey()).replaceAll(",$", "")).as(e.getKey()).isEqualTo(want.toString());
            assertThat(arrays.get(e.getKey())).as(e.getKey()).containsExactly(e.getValue().toFloatArray());
        }
    }

    @Test
    void theCommandLineFindsThePluginFormat() {
        Path out = tmp.resolve("cli-npz");
        int code = AttuneCli.execute("export", "--format", "npz", "--model",
                SharedFiles.path("fixtures/hf/bert-seqcls").toString(), "--output", out.toString());
        assertThat(code).isZero();
        assertThat(out.resolve("weights.npz")).isRegularFile();
    }

    /** Reads one {@code .npy} array: magic, version 1.0, header (64-byte aligned), float32 data. */
    private static void readNpy(InputStream in, String name, Map<String, float[]> arrays, Map<String, String> shapes)
            throws IOException {
        byte[] all = in.readAllBytes();
        assertThat(all[0] & 0xff).isEqualTo(0x93);
        assertThat(new String(all, 1, 5, StandardCharsets.US_ASCII)).isEqualTo("NUMPY");
        assertThat(all[6]).isEqualTo((byte) 1);
        int headerLength = (all[8] & 0xff) | (all[9] & 0xff) << 8;
        assertThat((10 + headerLength) % 64).as("data alignment of %s", name).isZero();
        String header = new String(all, 10, headerLength, StandardCharsets.US_ASCII);
        Matcher m = HEADER.matcher(header);
        assertThat(m.matches()).as("header of %s: %s", name, header).isTrue();
        shapes.put(name, m.group(1));
        ByteBuffer data = ByteBuffer.wrap(all, 10 + headerLength, all.length - 10 - headerLength)
                .order(ByteOrder.LITTLE_ENDIAN);
        float[] values = new float[data.remaining() / 4];
        data.asFloatBuffer().get(values);
        arrays.put(name, values);
    }
}
