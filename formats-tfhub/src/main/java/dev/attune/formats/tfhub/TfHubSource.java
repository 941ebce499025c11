package dev.attune.formats.tfhub;

import org.apiguardian.api.API;

import dev.attune.error.InvalidCheckpointException;
import dev.attune.formats.hf.HfTokenizer;
import dev.attune.model.ModelConfig;
import dev.attune.model.ModelSource;
import dev.attune.model.PretrainedModel;
import dev.attune.model.WeightStore.TensorInfo;
import dev.attune.model.TextTokenizer;
import dev.attune.model.WeightStore;
import dev.attune.ops.DType;
import dev.attune.ops.TensorData;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeSet;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.tensorflow.proto.BundleEntryProto;
import org.tensorflow.proto.FunctionDef;
import org.tensorflow.proto.MetaGraphDef;
import org.tensorflow.proto.NodeDef;
import org.tensorflow.proto.SavedModel;
import org.tensorflow.proto.SavedObjectGraphOuterClass.SavedObject;
import org.tensorflow.proto.TrackableObjectGraphOuterClass.TrackableObjectGraph;

/**
 * A TensorFlow SavedModel in the layout of the official TF Hub BERT encoders (for example {@code
 * small_bert/bert_en_uncased_L-2_H-128_A-2}), opened as a HuggingFace-named {@code BertModel}
 * checkpoint: variables are read by name from {@code variables/} without running TensorFlow, mapped
 * as {@code TFHUB-MAPPING.md} describes, and the config is derived from their shapes. The tokenizer
 * is built from {@code assets/vocab.txt}, lower-casing as the model's {@code do_lower_case} says.
 *
 * <p>Variable names come from the checkpoint's object graph ({@code _CHECKPOINTABLE_OBJECT_GRAPH}:
 * each variable's {@code full_name} and {@code checkpoint_key}), since TF2 checkpoint keys such as
 * {@code trainable_variables/3/.ATTRIBUTES/VARIABLE_VALUE} carry no layer names. The activation is
 * read from the graph: TF Hub's encoders use the tanh approximation of GELU ({@code gelu_new}), an
 * encoder whose graph computes {@code Erf}/{@code Erfc} gets exact {@code gelu}. Any config key may be
 * overridden at {@link #open}.
 */
@API(status = API.Status.EXPERIMENTAL, since = "0.1")
public final class TfHubSource implements ModelSource {
    private static final Logger LOG = LoggerFactory.getLogger(TfHubSource.class);
    private static final String OBJECT_GRAPH_KEY = "_CHECKPOINTABLE_OBJECT_GRAPH";
    private static final String SAVED_MODEL = "saved_model.pb";

    private final Path directory;

    /** @param directory a SavedModel folder (saved_model.pb, variables/, assets/vocab.txt) */
    public TfHubSource(Path directory) {
        this.directory = Objects.requireNonNull(directory, "directory");
    }

    /**
     * @param directory any folder
     * @return whether it looks like a SavedModel (saved_model.pb and variables/variables.index)
     */
    public static boolean isSavedModel(Path directory) {
        return Files.isRegularFile(directory.resolve(SAVED_MODEL))
                && Files.isRegularFile(directory.resolve("variables").resolve("variables.index"));
    }

    @Override
    public String describe() {
        return directory + " (TF Hub SavedModel)";
    }

    @Override
    public PretrainedModel open(Map<String, String> configOverrides) {
        if (!isSavedModel(directory)) {
            throw new InvalidCheckpointException(directory + " is not a TensorFlow SavedModel: it needs saved_model.pb and "
                    + "variables/variables.index; download and extract the complete TF Hub model (the .tar.gz)");
        }
        TensorBundle bundle = TensorBundle.open(directory.resolve("variables").resolve("variables"));
        Map<String, String> keys = variableKeys(bundle);
        Map<String, String> hfToTf = TfHubBertLayout.resolveAll(keys.keySet(), bundle.index().toString());
        Store store = new Store(bundle, keys, hfToTf);
        ModelConfig config = config(store, graphActivation(directory.resolve(SAVED_MODEL)))
                .withOverrides(configOverrides == null ? Map.of() : configOverrides);
        TextTokenizer tokenizer = tokenizer(bundle);
        LOG.debug("opened {}: {} encoder variables of {} in the checkpoint", directory, hfToTf.size(), keys.size());
        return new PretrainedModel(config, store, tokenizer, directory.toString());
    }

    /** @return variable full name to checkpoint key, from the object graph (or the keys themselves) */
    static Map<String, String> variableKeys(TensorBundle bundle) {
        Map<String, String> out = new LinkedHashMap<>();
        if (bundle.entries().containsKey(OBJECT_GRAPH_KEY)) {
            TrackableObjectGraph graph;
            try {
                graph = TrackableObjectGraph.parseFrom(bundle.readString(OBJECT_GRAPH_KEY));
            } catch (com.google.protobuf.InvalidProtocolBufferException e) {
                throw new InvalidCheckpointException(bundle.index() + ": the object graph (" + OBJECT_GRAPH_KEY
                        + ") is not a valid TrackableObjectGraph; re-download the model", e);
            }
            for (TrackableObjectGraph.TrackableObject node : graph.getNodesList()) {
                for (TrackableObjectGraph.TrackableObject.SerializedTensor t : node.getAttributesList()) {
                    if ("VARIABLE_VALUE".equals(t.getName()) && !t.getFullName().isEmpty()
                            && bundle.entries().containsKey(t.getCheckpointKey())) {
                        out.putIfAbsent(t.getFullName(), t.getCheckpointKey());
                    }
                }
            }
        }
        if (out.isEmpty()) {
            // TF1-style checkpoints: the keys are the variable names
            for (String key : bundle.entries().keySet()) {
                out.put(key, key);
            }
        }
        return out;
    }

    /**
     * Reads the variable names a SavedModel's object graph declares ({@code SavedVariable.name}),
     * which are the names an importer resolves, without its variables.
     *
     * @param savedModelPb a {@code saved_model.pb}
     * @return the variable names, in object-graph order
     */
    static List<String> savedVariableNames(Path savedModelPb) {
        List<String> names = new ArrayList<>();
        for (MetaGraphDef mg : readSavedModel(savedModelPb).getMetaGraphsList()) {
            for (SavedObject node : mg.getObjectGraphDef().getNodesList()) {
                if (node.hasVariable() && !node.getVariable().getName().isEmpty()) {
                    names.add(node.getVariable().getName());
                }
            }
        }
        return names;
    }

    static SavedModel readSavedModel(Path file) {
        try {
            return SavedModel.parseFrom(Files.readAllBytes(file));
        } catch (IOException e) {
            throw new InvalidCheckpointException(file + ": cannot be read (" + e.getMessage() + "); re-download the model",
                    e);
        }
    }

    /**
     * @return {@code gelu} when the graph's GELU is built from Erf/Erfc, {@code gelu_new} when from
     *     Tanh (TF Hub's encoders) or when the graph does not say
     */
    static String graphActivation(Path savedModelPb) {
        boolean erf = false;
        boolean tanh = false;
        for (MetaGraphDef mg : readSavedModel(savedModelPb).getMetaGraphsList()) {
            List<NodeDef> nodes = new ArrayList<>(mg.getGraphDef().getNodeList());
            for (FunctionDef f : mg.getGraphDef().getLibrary().getFunctionList()) {
                nodes.addAll(f.getNodeDefList());
            }
            for (NodeDef n : nodes) {
                if (n.getName().contains("Gelu") || n.getName().contains("gelu")) {
                    erf |= n.getOp().equals("Erf") || n.getOp().equals("Erfc");
                    tanh |= n.getOp().equals("Tanh");
                }
            }
        }
        return erf && !tanh ? "gelu" : "gelu_new";
    }

    private static ModelConfig config(Store store, String activation) {
        String origin = store.origin();
        long[] word = store.info("embeddings.word_embeddings.weight").shape();
        long[] query = store.tfShape("encoder.layer.0.attention.self.query.weight");
        int layers = 0;
        while (store.names().contains("encoder.layer." + layers + ".attention.self.query.weight")) {
            layers++;
        }
        Map<String, Object> c = new LinkedHashMap<>();
        c.put("model_type", "bert");
        c.put("architectures", List.of("BertModel"));
        c.put("vocab_size", word[0]);
        c.put("hidden_size", word[1]);
        c.put("num_hidden_layers", layers);
        c.put("num_attention_heads", query[1]);
        c.put("intermediate_size", store.info("encoder.layer.0.intermediate.dense.weight").shape()[0]);
        c.put("max_position_embeddings", store.info("embeddings.position_embeddings.weight").shape()[0]);
        c.put("type_vocab_size", store.info("embeddings.token_type_embeddings.weight").shape()[0]);
        c.put("hidden_act", activation);
        c.put("layer_norm_eps", 1e-12);
        c.put("hidden_dropout_prob", 0.1);
        c.put("attention_probs_dropout_prob", 0.1);
        c.put("initializer_range", 0.02);
        c.put("pad_token_id", 0);
        return ModelConfig.of(c, origin);
    }

    private TextTokenizer tokenizer(TensorBundle bundle) {
        Path vocab = directory.resolve("assets").resolve("vocab.txt");
        if (!Files.isRegularFile(vocab)) {
            throw new InvalidCheckpointException(vocab + " is missing: TF Hub BERT encoders ship their WordPiece "
                    + "vocabulary there; download the complete model");
        }
        boolean lower = true;
        for (String key : bundle.entries().keySet()) {
            if (key.startsWith("do_lower_case") && bundle.entries().get(key).getDtype() == org.tensorflow.proto.DataType.DT_BOOL) {
                lower = bundle.read(key).buffer().get(0) != 0;
            }
        }
        try {
            Path tmp = Files.createTempDirectory("attune-tfhub-tokenizer");
            try {
                Files.copy(vocab, tmp.resolve(HfTokenizer.VOCAB_TXT));
                Files.writeString(tmp.resolve(HfTokenizer.TOKENIZER_CONFIG), "{\"do_lower_case\": " + lower + "}");
                return HfTokenizer.load(tmp);
            } finally {
                try (var files = Files.list(tmp)) {
                    for (Path p : files.toList()) {
                        Files.deleteIfExists(p);
                    }
                }
                Files.deleteIfExists(tmp);
            }
        } catch (IOException e) {
            throw new InvalidCheckpointException(vocab + ": cannot build the tokenizer (" + e.getMessage() + ")", e);
        }
    }

    /** The encoder's variables under HuggingFace BertModel names, read and re-laid-out on demand. */
    private static final class Store implements WeightStore {
        private final TensorBundle bundle;
        private final Map<String, String> keys;
        private final Map<String, String> hfToTf;

        Store(TensorBundle bundle, Map<String, String> keys, Map<String, String> hfToTf) {
            this.bundle = bundle;
            this.keys = keys;
            this.hfToTf = hfToTf;
            for (String required : List.of("embeddings.word_embeddings.weight", "embeddings.position_embeddings.weight",
                    "embeddings.token_type_embeddings.weight", "encoder.layer.0.attention.self.query.weight",
                    "encoder.layer.0.intermediate.dense.weight")) {
                if (!hfToTf.containsKey(required)) {
                    throw new InvalidCheckpointException(bundle.index() + ": no variable maps to " + required + "; this "
                            + "is not a TF Hub BERT encoder in the layout Attune reads (variables found: "
                            + new TreeSet<>(keys.keySet()) + ")");
                }
            }
        }

        private BundleEntryProto entry(String hfName) {
            String tf = hfToTf.get(hfName);
            if (tf == null) {
                throw new InvalidCheckpointException(origin() + ": no tensor '" + hfName + "'");
            }
            return bundle.entries().get(keys.get(tf));
        }

        long[] tfShape(String hfName) {
            return TensorBundle.shape(entry(hfName));
        }

        @Override
        public Set<String> names() {
            return Collections.unmodifiableSet(hfToTf.keySet());
        }

        @Override
        public TensorInfo info(String name) {
            String tf = hfToTf.get(name);
            TfHubBertLayout.Target t = TfHubBertLayout.resolve(tf == null ? "" : tf).orElseThrow(
                    () -> new InvalidCheckpointException(origin() + ": no tensor '" + name + "'"));
            return new TensorInfo(name, DType.FLOAT32, TfHubBertLayout.shape(t.transform(), tfShape(name), tf));
        }

        @Override
        public TensorData read(String name) {
            String tf = hfToTf.get(name);
            if (tf == null) {
                throw new InvalidCheckpointException(origin() + ": no tensor '" + name + "'");
            }
            TfHubBertLayout.Target t = TfHubBertLayout.resolve(tf).orElseThrow();
            return TfHubBertLayout.apply(t.transform(), bundle.read(keys.get(tf)), bundle.index() + " variable " + tf);
        }

        @Override
        public String origin() {
            return bundle.index().toString();
        }

        @Override
        public void close() {
            // files are opened per read
        }
    }
}
