package dev.attune.engine.tensorflow;

import dev.attune.error.ConfigurationException;
import dev.attune.model.Exporter;
import dev.attune.model.FineTunedModel;
import dev.attune.model.ModelDefinition.InputSpec;
import dev.attune.model.ModelDefinition;
import dev.attune.ops.Parameter;
import dev.attune.ops.Tensor;
import dev.attune.ops.TensorData;
import dev.attune.model.TextTokenizer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.tensorflow.Graph;
import org.tensorflow.Output;
import org.tensorflow.SavedModelBundle;
import org.tensorflow.Session;
import org.tensorflow.SessionFunction;
import org.tensorflow.Signature;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.op.OpScope;
import org.tensorflow.op.Scope;
import org.tensorflow.proto.DataType;

/**
 * Saves a model as a TensorFlow SavedModel with the serving signature TF Hub's BERT models use:
 * {@code serving_default} takes int32 {@code input_word_ids}, {@code input_mask} and {@code
 * input_type_ids} ({@code [batch, sequence]}) and returns the model's outputs ({@code logits}, or
 * {@code start_logits} and {@code end_logits} for question answering). DJL's TensorFlow engine,
 * TensorFlow Serving and Python's {@code tf.saved_model.load} serve it.
 *
 * <p>The export builds a fresh inference graph from the engine-neutral definition (so a model
 * trained on any engine exports), with variables named by their HuggingFace names; the tokenizer
 * files go to {@code assets/}.
 *
 * <p>It is the {@link Exporter} of the {@value #FORMAT} format, found with {@link
 * java.util.ServiceLoader}: {@code model.export("savedmodel", folder)} and {@code attune export
 * --format savedmodel} reach it without naming this module. The runtime writes the folder aside and
 * renames it into place, so a failed export leaves no partial model. It takes no options.
 */
public final class SavedModelExporter implements Exporter {
    /** The export format's name. */
    public static final String FORMAT = "savedmodel";

    /** The serving inputs, in TF Hub's names, and the definition inputs they feed. */
    private static final Map<String, String> INPUTS = Map.of(
            "input_word_ids", "input_ids", "input_mask", "attention_mask", "input_type_ids", "token_type_ids");

    /** Creates the exporter (found with {@link java.util.ServiceLoader}). */
    public SavedModelExporter() {}

    @Override
    public String format() {
        return FORMAT;
    }

    /**
     * Writes the SavedModel ({@code saved_model.pb}, {@code variables/}) and the tokenizer files in
     * {@code assets/} into an empty folder.
     *
     * @param model the model, on any engine
     * @param directory an empty folder
     * @param options none are known
     * @throws IOException when writing fails
     */
    @Override
    public void export(FineTunedModel model, Path directory, Map<String, String> options) throws IOException {
        if (!options.isEmpty()) {
            throw new ConfigurationException("the savedmodel export format takes no options; given: " + options.keySet());
        }
        new TensorFlowEngineProvider().create(); // natives ready before the first Graph
        write(model.lowered().definition().inference(), model.stateDict(), directory);
        Path assets = Files.createDirectories(directory.resolve("assets"));
        model.tokenizer().saveTo(assets);
    }

    /**
     * Exports a fine-tuned model (its current weights) with its tokenizer in {@code assets/}: the
     * same as {@code model.export("savedmodel", directory)}.
     *
     * @param model the model, on any engine
     * @param directory target folder (created or replaced)
     * @throws dev.attune.error.AttuneException when writing fails (any previous model there is unchanged)
     */
    public static void export(FineTunedModel model, Path directory) {
        model.export(FORMAT, directory);
    }

    private static void write(ModelDefinition definition, Map<String, TensorData> values, Path dir) throws IOException {
        try (Graph graph = new Graph()) {
            Scope root = new OpScope(graph);
            Map<String, TfLoweredModel.Var> vars = new LinkedHashMap<>();
            for (Parameter p : definition.parameters().all()) {
                if (!values.containsKey(p.name())) {
                    throw new IllegalArgumentException("no value for parameter " + p.name());
                }
                vars.put(p.name(), TfLoweredModel.variable(graph, root, p.name(), p.shape(), p));
            }
            Signature.Builder sig = Signature.builder().key(Signature.DEFAULT_KEY).methodName("tensorflow/serving/predict");
            Map<String, Tensor> inputs = new LinkedHashMap<>();
            Scope serving = root.withSubScope("serving");
            for (String servingName : List.of("input_word_ids", "input_mask", "input_type_ids")) {
                Output<?> ph = graph.opBuilder("Placeholder", servingName, root).setAttr("dtype", DataType.DT_INT32)
                        .setAttr("shape", Shape.of(-1, -1)).build().output(0);
                sig.input(servingName, ph);
                String feeds = INPUTS.get(servingName);
                InputSpec spec = definition.inputs().stream().filter(s -> s.name().equals(feeds)).findFirst().orElse(null);
                if (spec != null) {
                    Output<?> cast = GraphOps.build(graph, serving, "Cast",
                            b -> b.setAttr("DstT", GraphOps.dataType(spec.dtype())), ph);
                    inputs.put(feeds, new GraphOps.T(cast));
                }
            }
            GraphOps ops = new GraphOps(graph, "model", p -> vars.get(p.name()).ref(), false, null);
            Map<String, Tensor> out = definition.forward(ops, inputs);
            for (Map.Entry<String, Tensor> e : out.entrySet()) {
                if (!e.getKey().equals("loss")) {
                    Output<?> named = graph.opBuilder("Identity", e.getKey().replaceAll("[^A-Za-z0-9_.\\-]", "_"), root)
                            .addInput(GraphOps.o(e.getValue())).build().output(0);
                    sig.output(e.getKey(), named);
                }
            }
            try (Session session = new Session(graph)) {
                List<org.tensorflow.types.family.TType> fed = new ArrayList<>();
                try {
                    Session.Runner r = session.runner();
                    for (TfLoweredModel.Var v : vars.values()) {
                        TensorData d = values.get(v.parameter().name()).toFloat32();
                        var t = TfTensors.toTf(d);
                        fed.add(t);
                        r.feed(v.feed(), t).addTarget(v.assign());
                    }
                    r.run().close();
                } finally {
                    fed.forEach(org.tensorflow.types.family.TType::close);
                }
                SavedModelBundle.exporter(dir.toString()).withFunction(SessionFunction.create(sig.build(), session))
                        .export();
            }
        }
    }
}
