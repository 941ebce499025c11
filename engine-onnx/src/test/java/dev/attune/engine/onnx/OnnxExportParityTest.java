package dev.attune.engine.onnx;

import dev.attune.formats.hf.HfSources;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.attune.PluginRegistry;
import dev.attune.engine.Batch;
import dev.attune.engine.EngineOptions;
import dev.attune.engine.LoweredModel;
import dev.attune.engine.onnx.proto.OnnxProto.ModelProto;
import dev.attune.engine.onnx.proto.OnnxProto.ValueInfoProto;
import dev.attune.core.internal.WeightBinder;
import dev.attune.model.HeadSpec.HeadKind;
import dev.attune.model.HeadSpec;
import dev.attune.model.ModelDefinition;
import dev.attune.model.ModelSource;
import dev.attune.model.PretrainedModel;
import dev.attune.ops.TensorData;
import dev.attune.testing.SharedFiles;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Every fixture family and head of {@code fixtures/hf} (not T5, which exports as several graphs,
 * nor multiple choice, whose inputs have three axes: the family-fidelity suite runs both on ONNX
 * Runtime) exported to an ONNX file from the PyTorch engine's model, the file loaded back into ONNX Runtime with every graph optimization on,
 * and run on the reference inputs (each case alone and the padded batch): every output within
 * {@value #TOLERANCE} of the PyTorch engine's and of HuggingFace's reference logits, and the same
 * predicted label (argmax) at every real position. The file itself is checked too: opset, input
 * names as HuggingFace's exporters name them with symbolic batch and sequence axes, output names,
 * initializers under HuggingFace names, metadata.
 */
class OnnxExportParityTest {
    static final double TOLERANCE = 1e-4;
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Map<String, Double> MAX_DIFF = new TreeMap<>();

    static HeadSpec headOf(String fixture, PretrainedModel base) {
        int labels = base.config().labels().map(List::size).orElse(base.config().getInt("num_labels", 2));
        if (fixture.endsWith("-seqcls")) {
            return new HeadSpec(HeadKind.SEQUENCE_CLASSIFICATION, labels);
        }
        if (fixture.endsWith("-tokcls")) {
            return new HeadSpec(HeadKind.TOKEN_CLASSIFICATION, labels);
        }
        if (fixture.endsWith("-qa")) {
            return new HeadSpec(HeadKind.QUESTION_ANSWERING, 0);
        }
        if (fixture.endsWith("-mlm")) {
            return new HeadSpec(HeadKind.MASKED_LM, 0);
        }
        return new HeadSpec(HeadKind.CAUSAL_LM, 0);
    }

    static long[] longs(JsonNode array) {
        List<Long> out = new ArrayList<>();
        flattenLongs(array, out);
        return out.stream().mapToLong(Long::longValue).toArray();
    }

    private static void flattenLongs(JsonNode n, List<Long> out) {
        if (n.isArray()) {
            n.forEach(c -> flattenLongs(c, out));
        } else {
            out.add(n.asLong());
        }
    }

    static double[] doubles(JsonNode n) {
        List<Double> out = new ArrayList<>();
        flattenDoubles(n, out);
        return out.stream().mapToDouble(Double::doubleValue).toArray();
    }

    private static void flattenDoubles(JsonNode n, List<Double> out) {
        if (n.isArray()) {
            n.forEach(c -> flattenDoubles(c, out));
        } else {
            out.add(n.asDouble());
        }
    }

    /** One reference input: a single case ([1, T]) or the padded batch ([B, T]). */
    record Input(String label, Batch batch, JsonNode expected, long[] mask, long rows) {}

    static List<Input> inputs(JsonNode reference) {
        List<Input> out = new ArrayList<>();
        for (JsonNode c : reference.get("cases")) {
            out.add(input(c.get("text").asText(), c, 1, c.get("input_ids").size()));
        }
        if (reference.has("batch")) {
            JsonNode b = reference.get("batch");
            out.add(input("batch", b, b.get("input_ids").size(), b.get("input_ids").get(0).size()));
        }
        return out;
    }

    private static Input input(String label, JsonNode c, int rows, int length) {
        long[] shape = {rows, length};
        Map<String, TensorData> in = new LinkedHashMap<>();
        in.put("input_ids", TensorData.ofLongs(shape, longs(c.get("input_ids"))));
        long[] mask = longs(c.get("attention_mask"));
        in.put("attention_mask", TensorData.ofLongs(shape, mask));
        if (c.has("token_type_ids")) {
            in.put("token_type_ids", TensorData.ofLongs(shape, longs(c.get("token_type_ids"))));
        }
        return new Input(label, new Batch(in, rows), c, mask, rows);
    }

    @AfterAll
    static void report() {
        MAX_DIFF.forEach((k, v) -> System.out.printf("max |onnx - pytorch| %-24s %.3g%n", k, v));
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"bert-seqcls", "bert-tokcls", "bert-qa", "bert-mlm", "distilbert-seqcls", "roberta-seqcls",
            "gpt2-seqcls", "gpt2-lm", "roberta-tokcls", "roberta-qa", "roberta-mlm", "distilbert-tokcls", "distilbert-qa",
            "gpt2-tokcls"})
    void exportedFileMatchesThePyTorchEngine(String fixture, @TempDir Path tmp) throws IOException {
        Path folder = SharedFiles.path("fixtures/hf/" + fixture);
        JsonNode reference = JSON.readTree(folder.resolve("reference.json").toFile());
        PluginRegistry registry = PluginRegistry.discover();
        try (PretrainedModel base = HfSources.folder(folder).open(Map.of());
                var torch = registry.engine("pytorch").create()) {
            HeadSpec head = headOf(fixture, base);
            ModelDefinition def = registry.family(base.config().modelType()).define(base.config(), head);
            WeightBinder binder = new WeightBinder(def, base.weights(), 42);
            assertThat(binder.report().missing()).as("head weights in the fixture").isEmpty();
            try (LoweredModel pt = torch.lower(def, binder, EngineOptions.defaults())) {
                Path out = tmp.resolve("export");
                OnnxExporter.export(pt, base.config(), base.tokenizer(), Map.of("attune.fixture", fixture), out,
                        OnnxExportOptions.defaults());
                Path file = out.resolve(OnnxExporter.MODEL_FILE);
                assertFileShape(fixture, file, def);
                try (LoweredModel ort = OnnxModels.load(file, new EngineOptions(dev.attune.engine.EngineOptions.DeviceSpec.CPU, 2, 0))) {
                    for (Input in : inputs(reference)) {
                        Map<String, TensorData> want = pt.predict(in.batch());
                        Map<String, TensorData> got = ort.predict(in.batch());
                        for (String name : def.outputs()) {
                            if (!want.containsKey(name)) {
                                continue;
                            }
                            assertThat(got).as("%s outputs", fixture).containsKey(name);
                            assertClose(fixture + " " + in.label() + " " + name, got.get(name), want.get(name));
                            if (in.expected().has(name)) {
                                double[] hf = doubles(in.expected().get(name));
                                float[] g = got.get(name).toFloatArray();
                                assertThat(g.length).as("%s %s size vs HF", fixture, name).isEqualTo(hf.length);
                                for (int i = 0; i < g.length; i++) {
                                    assertThat((double) g[i]).as("%s %s [%d] vs HF", fixture, name, i)
                                            .isCloseTo(hf[i], org.assertj.core.data.Offset.offset(TOLERANCE));
                                }
                            }
                            if (name.endsWith("logits")) {
                                assertSameArgmax(fixture + " " + in.label() + " " + name, got.get(name), want.get(name),
                                        in);
                            }
                        }
                    }
                }
            }
        }
    }

    static void assertClose(String what, TensorData got, TensorData want) {
        assertThat(got.shape()).as("%s shape", what).containsExactly(want.shape());
        float[] g = got.toFloatArray();
        float[] w = want.toFloatArray();
        double max = 0;
        for (int i = 0; i < g.length; i++) {
            double d = Math.abs(g[i] - w[i]);
            max = Double.isNaN(d) ? Double.POSITIVE_INFINITY : Math.max(max, d);
        }
        synchronized (MAX_DIFF) {
            MAX_DIFF.merge(what.split(" ")[0], max, Math::max);
        }
        assertThat(max).as("%s: max |onnx - pytorch|", what).isLessThanOrEqualTo(TOLERANCE);
    }

    /** Argmax over the last axis, row by row; rows of padding positions are skipped. */
    static void assertSameArgmax(String what, TensorData got, TensorData want, Input in) {
        long[] shape = want.shape();
        int classes = (int) shape[shape.length - 1];
        float[] g = got.toFloatArray();
        float[] w = want.toFloatArray();
        int rows = w.length / classes;
        boolean perToken = shape.length == 3 || (shape.length == 2 && what.contains("start_logits")
                || what.contains("end_logits"));
        if (what.contains("start_logits") || what.contains("end_logits")) {
            // one distribution over positions per example
            classes = (int) shape[shape.length - 1];
            rows = w.length / classes;
            perToken = false;
        }
        for (int r = 0; r < rows; r++) {
            if (perToken && in.mask()[r] == 0) {
                continue;
            }
            assertThat(argmax(g, r * classes, classes)).as("%s row %d predicted label", what, r)
                    .isEqualTo(argmax(w, r * classes, classes));
        }
    }

    static int argmax(float[] v, int from, int n) {
        int best = 0;
        for (int i = 1; i < n; i++) {
            if (v[from + i] > v[from + best]) {
                best = i;
            }
        }
        return best;
    }

    static void assertFileShape(String fixture, Path file, ModelDefinition def) throws IOException {
        ModelProto m;
        try (InputStream in = Files.newInputStream(file)) {
            m = ModelProto.parseFrom(in);
        }
        assertThat(m.getOpsetImport(0).getVersion()).as("opset").isGreaterThanOrEqualTo(17);
        List<String> inputs = new ArrayList<>();
        for (ValueInfoProto v : m.getGraph().getInputList()) {
            inputs.add(v.getName());
            if (v.getName().equals("input_ids")) {
                var dims = v.getType().getTensorType().getShape().getDimList();
                assertThat(dims.get(0).getDimParam()).as("dynamic batch axis").isEqualTo("batch_size");
                assertThat(dims.get(1).getDimParam()).as("dynamic sequence axis").isEqualTo("sequence_length");
            }
        }
        assertThat(inputs).as("%s inputs", fixture).startsWith("input_ids", "attention_mask");
        assertThat(inputs.contains("token_type_ids")).as("token_type_ids iff BERT").isEqualTo(fixture.startsWith("bert"));
        List<String> outputs = new ArrayList<>();
        m.getGraph().getOutputList().forEach(v -> outputs.add(v.getName()));
        if (fixture.endsWith("-qa")) {
            assertThat(outputs).containsExactly("start_logits", "end_logits");
        } else if (fixture.equals("gpt2-lm")) {
            assertThat(outputs).startsWith("logits", "present.0.key", "present.0.value");
            assertThat(inputs).contains("past_key_values.0.key", "past_key_values.0.value");
        } else {
            assertThat(outputs).containsExactly("logits");
        }
        List<String> initializers = new ArrayList<>();
        m.getGraph().getInitializerList().forEach(t -> initializers.add(t.getName()));
        assertThat(initializers).as("weights as initializers under HuggingFace names")
                .contains(def.parameters().all().iterator().next().name());
        Map<String, String> meta = new LinkedHashMap<>();
        m.getMetadataPropsList().forEach(e -> meta.put(e.getKey(), e.getValue()));
        assertThat(meta).containsEntry("attune.architecture", def.architecture()).containsKey("attune.config")
                .containsKey("attune.pad_token_id").containsEntry("attune.fixture", fixture);
    }
}
