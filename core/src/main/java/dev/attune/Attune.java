package dev.attune;

import org.apiguardian.api.API;

import dev.attune.core.DefaultFineTunedModel;
import dev.attune.model.FineTunedModel;

import com.fasterxml.jackson.databind.JsonNode;
import dev.attune.engine.EngineOptions.DeviceSpec;
import dev.attune.engine.Engine;
import dev.attune.engine.EngineOptions;
import dev.attune.engine.EngineProvider;
import dev.attune.engine.LoweredModel;
import dev.attune.error.InvalidCheckpointException;
import dev.attune.core.internal.ConfigLimits;
import dev.attune.core.internal.TrainableDefinition;
import dev.attune.core.internal.WeightBinder;
import dev.attune.core.lora.LoraAdapter;
import dev.attune.core.lora.LoraDefinition;
import dev.attune.core.lora.PeftFolder;
import dev.attune.engine.Engine.ParameterSource;
import dev.attune.ops.TensorData;
import dev.attune.train.TrainingConfig.LoraConfig;
import java.util.ArrayList;
import dev.attune.model.HeadSpec;
import dev.attune.model.HeadSpec.HeadKind;
import dev.attune.model.FineTunedModel.LoadReport;
import dev.attune.model.ModelConfig;
import dev.attune.model.ModelDefinition;
import dev.attune.model.ModelSource;
import dev.attune.model.PretrainedModel;
import dev.attune.task.Dataset;
import dev.attune.task.Task;
import dev.attune.task.TaskOptions;
import dev.attune.core.train.DefaultTrainer;
import dev.attune.train.Trainer;
import dev.attune.train.TrainingConfig;
import dev.attune.train.TrainingControl;
import dev.attune.train.Trainer.TrainingResult;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The SDK's entry point: loads checkpoints, creates tasks, puts a task head on a checkpoint and
 * lowers it onto the engine found on the class path (or the one named).
 *
 * <pre>{@code
 * try (Attune attune = Attune.create()) {
 *     PretrainedModel base = attune.load(Path.of("bert-mini"));
 *     Task task = attune.task("text-classification", Map.of("text_column", "text"));
 *     Dataset train = task.read(Path.of("train.tsv"));
 *     FineTunedModel model = attune.fineTune(base, task, train, eval, TrainingConfig.builder().build()).model();
 * }
 * }</pre>
 */
@API(status = API.Status.STABLE, since = "0.1")
public final class Attune implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(Attune.class);

    private final PluginRegistry registry;
    private final Engine engine;
    private final EngineOptions options;

    private Attune(PluginRegistry registry, Engine engine, EngineOptions options) {
        this.registry = registry;
        this.engine = engine;
        this.options = options;
    }

    /** @return an SDK on the default engine (lowest rank on the class path), device auto */
    public static Attune create() {
        return builder().build();
    }

    /** @return a builder */
    public static Builder builder() {
        return new Builder();
    }

    /** @return the discovered plugins */
    public PluginRegistry registry() {
        return registry;
    }

    /** @return the started engine */
    public Engine engine() {
        return engine;
    }

    /** @return device, threads and seed used when lowering */
    public EngineOptions engineOptions() {
        return options;
    }

    /**
     * @param source where the checkpoint is
     * @param configOverrides {@code key=value} config overrides (e.g. {@code hidden_dropout_prob=0})
     * @return the checkpoint
     */
    public PretrainedModel load(ModelSource source, Map<String, String> configOverrides) {
        PretrainedModel model = source.open(configOverrides);
        try {
            // once for every family: sizes, dropouts, layer counts backed by weights, memory
            ConfigLimits.check(model.config(), model.weights());
        } catch (RuntimeException e) {
            model.close();
            throw e;
        }
        return model;
    }

    /**
     * @param location a model folder or file (a HuggingFace folder, a TF Hub SavedModel folder, an
     *     ONNX file or exported ONNX folder, or what another {@link dev.attune.model.SourceProvider}
     *     reads); it must exist
     * @return the checkpoint
     * @throws InvalidCheckpointException when nothing is there, or no source provider reads it
     */
    public PretrainedModel load(Path location) {
        return load(location, Map.of());
    }

    /**
     * @param location a model folder or file; it must exist
     * @param configOverrides {@code key=value} config overrides
     * @return the checkpoint
     */
    public PretrainedModel load(Path location, Map<String, String> configOverrides) {
        return load(registry.source(location), configOverrides);
    }

    /**
     * @param location what a user types: a local folder or file (see {@link #load(Path)}; a leading
     *     {@code ~} is the home folder), {@code hf://org/name[@revision]}, or a Hub model id {@code
     *     org/name[@revision]} when no folder of that name exists. A location that looks like a local
     *     path but does not exist is an error naming it, never a Hub request ({@link
     *     PluginRegistry#source(String)}; Hub settings come from the environment)
     * @return the checkpoint
     */
    public PretrainedModel load(String location) {
        return load(location, Map.of());
    }

    /**
     * @param location as {@link #load(String)}
     * @param configOverrides {@code key=value} config overrides
     * @return the checkpoint
     */
    public PretrainedModel load(String location, Map<String, String> configOverrides) {
        return load(registry.source(location), configOverrides);
    }

    /**
     * @param name task name ({@code text-classification})
     * @param options task options
     * @return the task, labels not yet fixed
     */
    public Task task(String name, Map<String, String> options) {
        return registry.task(name).create(new TaskOptions(options));
    }

    /**
     * Puts the task's head on the checkpoint and lowers it. Parameters the checkpoint lacks (a new
     * head) are initialised as HuggingFace does and reported; tensors it has that the model does not
     * use (an old head) are reported too.
     *
     * @param base the checkpoint
     * @param task the task, with labels fixed where it has labels
     * @param maxLength maximum tokens per input for prediction
     * @return the model, ready to train or predict
     */
    public FineTunedModel prepare(PretrainedModel base, Task task, int maxLength) {
        return prepare(base, task, maxLength, options.seed());
    }

    /**
     * As {@link #prepare(PretrainedModel, Task, int)} with an explicit seed for the new head and the
     * engine's random numbers.
     *
     * @param base the checkpoint
     * @param task the task
     * @param maxLength maximum tokens per input for prediction
     * @param seed the seed
     * @return the model
     */
    public FineTunedModel prepare(PretrainedModel base, Task task, int maxLength, long seed) {
        return prepare(base, task, maxLength, seed, null);
    }

    /**
     * As {@link #prepare(PretrainedModel, Task, int, long)} with a LoRA adapter beside the model's
     * weights: a new one (PEFT's initialisation, so the model starts unchanged) or, when {@link
     * LoraConfig#adapter()} names a PEFT adapter folder, that adapter (its settings and weights). The
     * adapter is checked against the model before anything is lowered.
     *
     * @param base the checkpoint
     * @param task the task
     * @param maxLength maximum tokens per input for prediction
     * @param seed the seed
     * @param lora the adapter; null for none
     * @return the model
     */
    public FineTunedModel prepare(PretrainedModel base, Task task, int maxLength, long seed, LoraConfig lora) {
        EngineOptions lowering = new EngineOptions(options.device(), options.numThreads(), seed);
        ModelConfig config = base.config();
        if (!task.labels().isEmpty()) {
            config = config.withLabels(task.labels());
        }
        ConfigLimits.check(config, base.weights());
        ConfigLimits.checkTokenizer(config, base.tokenizer());
        ModelDefinition head = registry.family(config.modelType()).define(config, task.head());
        ConfigLimits.check(head, config);
        WeightBinder binder = new WeightBinder(head, base.weights(), seed);
        LoadReport report = binder.report();
        List<String> notNew = mayNotStartNew(head, task.head().kind(), report.missing());
        if (!notNew.isEmpty()) {
            throw new InvalidCheckpointException(base.origin() + " lacks weights of the pretrained model that "
                    + head.architecture() + " needs: " + notNew + "; only a task head may start new (a"
                    + " language-model head and the base model must be in the checkpoint, or tied by its config.json)");
        }
        ParameterSource source = binder;
        ModelDefinition body = head;
        if (lora != null) {
            PeftFolder.Adapter file = lora.adapter() == null ? null : PeftFolder.read(lora.adapter());
            LoraConfig settings = file == null ? lora : file.config();
            String where = file == null ? "LoRA settings" : lora.adapter().resolve(PeftFolder.CONFIG_FILE).toString();
            String baseName = file != null && file.baseModel() != null
                    ? baseName(lora.adapter(), file.baseModel()) : baseName(null, base.origin());
            LoraAdapter adapter = LoraAdapter.resolve(settings, head, task.head().kind(),
                    new java.util.HashSet<>(report.missing()), where, baseName);
            Map<String, TensorData> loaded = Map.of();
            if (file != null) {
                adapter.check(file.weightsFile().toString(), file.tensors(), head);
                loaded = file.tensors();
                List<String> missing = new ArrayList<>(report.missing());
                missing.removeAll(loaded.keySet());
                report = new LoadReport(report.loaded(), missing, report.unused());
            }
            body = new LoraDefinition(head, adapter);
            source = adapter.source(binder, loaded, seed);
        }
        ModelDefinition definition = new TrainableDefinition(body, task);
        if (!report.missing().isEmpty()) {
            LOG.warn("Some weights of {} were not in {} and are newly initialised: {}", definition.architecture(),
                    base.origin(), report.missing());
        }
        if (!report.unused().isEmpty()) {
            LOG.info("Some weights of {} were not used by {}: {}", base.origin(), definition.architecture(),
                    report.unused());
        }
        // the model keeps its own tokenizer, so the caller may close the checkpoint once it is lowered
        LoweredModel lowered = engine.lower(definition, source, lowering);
        try {
            DefaultFineTunedModel model = new DefaultFineTunedModel(lowered, task, config, task.tokenizerFor(base.tokenizer()),
                    maxLength, report, engine.name(), registry);
            return lora == null ? model : model.withAdapterLowering((d, s) -> engine.lower(d, s, lowering));
        } catch (RuntimeException e) {
            lowered.close();
            throw e;
        }
    }

    /** A local base model as an absolute path (what Python's PEFT and {@link #open(Path)} resolve anywhere). */
    private static String baseName(Path adapterFolder, String origin) {
        if (origin == null) {
            return null;
        }
        try {
            Path p = Path.of(origin);
            if (adapterFolder != null && !p.isAbsolute() && java.nio.file.Files.isDirectory(adapterFolder.resolve(p))) {
                // an adapter's relative base (PEFT's fixtures say ../bert-seqcls) is kept findable wherever it is saved
                return adapterFolder.resolve(p).toAbsolutePath().normalize().toString();
            }
            return java.nio.file.Files.isDirectory(p) ? p.toAbsolutePath().normalize().toString() : origin;
        } catch (java.nio.file.InvalidPathException e) {
            return origin;
        }
    }

    /**
     * The parameters a checkpoint lacks that may not start new, as HuggingFace's {@code
     * from_pretrained} would warn about and this SDK refuses: only a classification head's own
     * parameters (outside the base model, {@link ModelDefinition#baseModelPrefix()}) and the base
     * model's {@code pooler} (which masked-LM checkpoints leave out) may start new; a language-model
     * head (masked, causal, sequence to sequence) belongs to the pretrained model, and so does every
     * base-model weight.
     *
     * @param definition the model
     * @param kind its head
     * @param missing the parameters the checkpoint lacks
     * @return those of them that may not start new
     */
    static List<String> mayNotStartNew(ModelDefinition definition, HeadKind kind, List<String> missing) {
        boolean languageModel = kind == HeadKind.MASKED_LM || kind == HeadKind.CAUSAL_LM || kind == HeadKind.SEQ2SEQ_LM;
        String prefix = definition.baseModelPrefix();
        List<String> out = new ArrayList<>();
        for (String name : missing) {
            boolean head = !languageModel && prefix != null && !prefix.isEmpty()
                    && (!name.startsWith(prefix + ".") || name.startsWith(prefix + ".pooler."));
            if (!head) {
                out.add(name);
            }
        }
        return out;
    }

    /**
     * @param config training settings
     * @return a trainer with HuggingFace Trainer semantics
     */
    public Trainer trainer(TrainingConfig config) {
        return new DefaultTrainer(config);
    }

    /**
     * @param config training settings
     * @param control stops the run from another thread and hears its log
     * @return a trainer with HuggingFace Trainer semantics
     */
    public Trainer trainer(TrainingConfig config, TrainingControl control) {
        return new DefaultTrainer(config, control);
    }

    /**
     * Fixes the task's labels and other data-derived settings ({@link Task#fitToTrainingData}) from
     * the training data, prepares the model and trains it.
     *
     * @param base the checkpoint
     * @param task the task
     * @param train training data
     * @param eval evaluation data, or null
     * @param config training settings
     * @return the trained model and what training did
     */
    public Result fineTune(PretrainedModel base, Task task, Dataset train, Dataset eval, TrainingConfig config) {
        return fineTune(base, task, train, eval, config, new TrainingControl());
    }

    /**
     * As {@link #fineTune(PretrainedModel, Task, Dataset, Dataset, TrainingConfig)}, under a control
     * that can stop the run from another thread and hears its log.
     *
     * @param base the checkpoint
     * @param task the task
     * @param train training data
     * @param eval evaluation data, or null
     * @param config training settings
     * @param control stops the run and hears its log
     * @return the trained model and what training did
     * @throws dev.attune.error.TrainingStoppedException when the control stopped the run (the model is
     *     closed; its progress is in the exception's checkpoint)
     */
    public Result fineTune(PretrainedModel base, Task task, Dataset train, Dataset eval, TrainingConfig config,
            TrainingControl control) {
        Task labelled = (task.labels().isEmpty() ? task.withLabels(task.inferLabels(train)) : task)
                .fitToTrainingData(train);
        FineTunedModel model = prepare(base, labelled, config.maxLength(), config.seed(), config.peft());
        try {
            TrainingResult result = trainer(config, control).train(model, train, eval);
            return new Result(model, result);
        } catch (RuntimeException e) {
            model.close();
            throw e;
        }
    }

    /**
     * A trained model and its training summary.
     *
     * @param model the model
     * @param training what training did
     */
    public record Result(FineTunedModel model, TrainingResult training) {}

    /**
     * Opens a model saved by {@link FineTunedModel#save}, or exported in a format that a source
     * provider reads back ({@code hf}, {@code onnx}): its task, labels and settings come from
     * config.json.
     *
     * @param folder the saved model (a folder, or an exported file such as {@code model.onnx})
     * @return the model, on this SDK's engine
     */
    public FineTunedModel open(Path folder) {
        if (PeftFolder.isAdapter(folder)) {
            String name = PeftFolder.baseModel(folder);
            if (name == null || name.isBlank()) {
                throw new InvalidCheckpointException(folder.resolve(PeftFolder.CONFIG_FILE) + " has no"
                        + " base_model_name_or_path, so the base model is unknown; open it with open(base, adapterFolder)");
            }
            Path relative = folder.resolve(name);
            try (PretrainedModel base = java.nio.file.Files.isDirectory(relative) ? load(relative) : load(name)) {
                return open(base, folder);
            }
        }
        return open(registry.source(folder));
    }

    /**
     * Opens a LoRA adapter over its base model: an adapter folder that Attune saved ({@link
     * FineTunedModel#saveAdapter}; its task and labels come from its {@value PeftFolder#ATTUNE_FILE}) or
     * one PEFT saved (the task then comes from the base's Attune config; otherwise use {@link
     * #open(PretrainedModel, Task, int, Path)}). The model keeps the adapter beside the base's weights:
     * {@link FineTunedModel#mergeAdapter()} folds it in.
     *
     * @param base the base model the adapter was trained on
     * @param adapterFolder the adapter folder ({@code adapter_config.json}, {@code adapter_model.safetensors})
     * @return the model
     * @throws InvalidCheckpointException when the adapter does not fit the base (named keys and shapes)
     */
    public FineTunedModel open(PretrainedModel base, Path adapterFolder) {
        Path settings = adapterFolder.resolve(PeftFolder.ATTUNE_FILE);
        ModelConfig saved = base.config();
        if (java.nio.file.Files.isRegularFile(settings)) {
            try {
                saved = ModelConfig.parse(java.nio.file.Files.readString(settings), settings.toString());
            } catch (java.io.IOException e) {
                throw new InvalidCheckpointException("cannot read " + settings + ": " + e.getMessage(), e);
            }
        }
        JsonNode attune = saved.raw(FineTunedModel.CONFIG_KEY).orElseThrow(() -> new InvalidCheckpointException(
                adapterFolder + " has no " + PeftFolder.ATTUNE_FILE + " and " + base.origin() + " no '"
                        + FineTunedModel.CONFIG_KEY + "' section, so the task is unknown; open it with"
                        + " open(base, task, maxLength, adapterFolder) and name the task (--task)"));
        Map<String, String> taskOptions = new LinkedHashMap<>();
        attune.path("task_options").fields().forEachRemaining(e -> taskOptions.put(e.getKey(), e.getValue().asText()));
        Task task = task(attune.path("task").asText(), taskOptions);
        List<String> labels = saved.labels().orElse(List.of());
        return open(base, labels.isEmpty() ? task : task.withLabels(labels), attune.path("max_length").asInt(128),
                adapterFolder);
    }

    /**
     * Opens a LoRA adapter (made by Attune or by Python's PEFT) over its base model for a given task.
     *
     * @param base the base model
     * @param task the task (labels from the base's {@code id2label} when it has none)
     * @param maxLength maximum tokens per input
     * @param adapterFolder the adapter folder
     * @return the model
     */
    public FineTunedModel open(PretrainedModel base, Task task, int maxLength, Path adapterFolder) {
        List<String> labels = base.config().labels().orElse(List.of());
        Task labelled = task.labels().isEmpty() && !labels.isEmpty() ? task.withLabels(labels) : task;
        return prepare(base, labelled, maxLength > 0 ? maxLength : defaultMaxLength(base.config()), options.seed(),
                PeftFolder.readConfig(adapterFolder));
    }

    /**
     * Opens a saved or exported model from any source ({@link PluginRegistry#source(String)}).
     *
     * @param source where the model is
     * @return the model, on this SDK's engine
     */
    public FineTunedModel open(ModelSource source) {
        // the model copies what it needs (weights into the engine, its own tokenizer): the checkpoint
        // goes once it is open, so opening and closing models does not accumulate files and natives
        try (PretrainedModel base = load(source, Map.of())) {
            return open(base);
        }
    }

    /**
     * Opens a loaded checkpoint: one Attune saved or exported with the task, labels and settings of
     * the {@value FineTunedModel#CONFIG_KEY} section of its config; any other with the head its
     * config.json's {@code architectures} names, which must be in its weights ({@link
     * #open(PretrainedModel, HeadKind, boolean)} with no head and no new head allowed).
     *
     * @param base the checkpoint
     * @return the model, on this SDK's engine
     * @throws InvalidCheckpointException when the checkpoint lacks the weights of its head
     * @throws dev.attune.error.ConfigurationException when neither section nor architectures name a head
     */
    public FineTunedModel open(PretrainedModel base) {
        return open(base, null, false);
    }

    /**
     * Opens a checkpoint with a head, the way {@code attune logits}, {@code predict} and {@code
     * export} do: a model Attune saved or exported as its {@value FineTunedModel#CONFIG_KEY} section
     * says; any other checkpoint with the head asked for or, when none is, the head its config.json's
     * {@code architectures} names ({@link HeadKind#of}, as HuggingFace's {@code AutoModel} does), and
     * that head's task ({@link #taskFor}; labels from {@code id2label}). A head whose weights the
     * checkpoint lacks is an error unless {@code allowNewHead}, when it starts new as in {@link
     * #prepare}; missing base-model weights are always an error.
     *
     * @param base the checkpoint
     * @param head the head, or null for the saved task's or the one {@code architectures} names
     * @param allowNewHead whether a head the checkpoint has no weights for may start new
     * @return the model, on this SDK's engine
     * @throws dev.attune.error.ConfigurationException when no head is asked for and config.json names none
     * @throws InvalidCheckpointException when the checkpoint lacks the head's weights and {@code
     *     allowNewHead} is false
     */
    public FineTunedModel open(PretrainedModel base, HeadKind head, boolean allowNewHead) {
        return open(base, head, allowNewHead, 0);
    }

    /**
     * As {@link #open(PretrainedModel, HeadKind, boolean)} with the longest input a checkpoint
     * without Attune's settings takes.
     *
     * @param base the checkpoint
     * @param head the head, or null for the saved task's or the one {@code architectures} names
     * @param allowNewHead whether a head the checkpoint has no weights for may start new
     * @param maxLength maximum tokens per input for a checkpoint without Attune's settings; 0 for its
     *     {@code max_position_embeddings} (or {@code n_positions}, else 512)
     * @return the model, on this SDK's engine
     */
    public FineTunedModel open(PretrainedModel base, HeadKind head, boolean allowNewHead, int maxLength) {
        ModelConfig config = base.config();
        java.util.Optional<JsonNode> saved = config.raw(FineTunedModel.CONFIG_KEY);
        if (saved.isPresent()) {
            FineTunedModel m = openSaved(base, saved.get());
            if (head == null || m.task().head().kind() == head) {
                return m;
            }
            m.close();
        }
        HeadKind kind = head != null ? head : HeadKind.of(config).orElseThrow(() ->
                new dev.attune.error.ConfigurationException(base.origin() + ": config.json's architectures "
                        + config.raw("architectures").map(Object::toString).orElse("(none)") + " name no head, so"
                        + " the task is unknown; name the head (--head token-classification, or open(base, head,"
                        + " allowNewHead)), or open it with open(base, task, maxLength)"));
        FineTunedModel m = open(base, taskFor(kind, base), maxLength > 0 ? maxLength : defaultMaxLength(config));
        List<String> missing = m.loadReport().missing();
        if (!allowNewHead && !missing.isEmpty()) {
            m.close();
            throw new InvalidCheckpointException(base.origin() + " has no weights for the " + kind.cliName()
                    + " head (" + m.lowered().definition().architecture() + " lacks " + missing + "), so its"
                    + " outputs would come from a random start; use a checkpoint with that head, or allow a new"
                    + " head (--allow-new-head) to see an untrained one");
        }
        return m;
    }

    /**
     * The task that goes with a head when a checkpoint names no task: {@code text-classification},
     * {@code token-classification}, {@code question-answering}, {@code masked-lm}, {@code causal-lm}
     * or {@code seq2seq}, with the checkpoint's labels ({@code id2label}, else HuggingFace's {@code
     * LABEL_i} names for {@code num_labels}, 2 by default) for a classification head.
     *
     * @param kind the head
     * @param base the checkpoint
     * @return the task
     */
    public Task taskFor(HeadKind kind, PretrainedModel base) {
        return switch (kind) {
            case SEQUENCE_CLASSIFICATION -> task("text-classification", Map.of()).withLabels(labels(base.config()));
            case TOKEN_CLASSIFICATION -> task("token-classification", Map.of()).withLabels(labels(base.config()));
            case QUESTION_ANSWERING -> task("question-answering", Map.of());
            case MASKED_LM -> task("masked-lm", Map.of());
            case CAUSAL_LM -> task("causal-lm", Map.of());
            case SEQ2SEQ_LM -> task("seq2seq", Map.of());
            case MULTIPLE_CHOICE -> task("multiple-choice", Map.of());
        };
    }

    /** @return a checkpoint's labels: its id2label, else HuggingFace's names for {@code num_labels} (2) */
    private static List<String> labels(ModelConfig config) {
        return config.labels().orElseGet(() -> {
            int n = config.getInt("num_labels", 2);
            List<String> names = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                names.add("LABEL_" + i);
            }
            return names;
        });
    }

    /** @return the longest input a checkpoint's positions allow, 512 when its config does not say */
    private static int defaultMaxLength(ModelConfig config) {
        return config.getInt("max_position_embeddings", config.getInt("n_positions", 512));
    }

    private FineTunedModel openSaved(PretrainedModel base, JsonNode attune) {
        String taskName = attune.path("task").asText();
        Map<String, String> taskOptions = new LinkedHashMap<>();
        attune.path("task_options").fields().forEachRemaining(e -> taskOptions.put(e.getKey(), e.getValue().asText()));
        Task task = task(taskName, taskOptions);
        JsonNode lengthNode = attune.get("max_length");
        int maxLength = 128;
        if (lengthNode != null && !lengthNode.isNull()) {
            // a hand-edited config.json or ONNX metadata: a whole number of tokens, nothing else
            if (!lengthNode.isIntegralNumber() || !lengthNode.canConvertToInt() || lengthNode.intValue() < 1) {
                throw new InvalidCheckpointException(base.origin() + ": '" + FineTunedModel.CONFIG_KEY
                        + ".max_length' must be a whole number of tokens from 1, found " + lengthNode
                        + "; fix it in config.json (or the ONNX file's attune.config metadata), e.g. 128");
            }
            maxLength = lengthNode.intValue();
        }
        return open(base, task, maxLength);
    }

    /**
     * Opens a fine-tuned checkpoint for a given task (labels from its {@code id2label}). When the
     * engine runs the checkpoint's file as it is ({@link Engine#serve}: the {@code onnx} engine and
     * an ONNX file), that file is served; otherwise the task's head is put on the checkpoint as in
     * {@link #prepare(PretrainedModel, Task, int)}.
     *
     * @param base the loaded folder
     * @param task the task
     * @param maxLength maximum tokens per input
     * @return the model
     */
    public FineTunedModel open(PretrainedModel base, Task task, int maxLength) {
        List<String> labels = base.config().labels().orElse(List.of());
        Task labelled = labels.isEmpty() ? task : task.withLabels(labels);
        java.util.Optional<LoweredModel> served = engine.serve(base, options);
        if (served.isPresent()) {
            LOG.info("{} runs {} as stored", engine.name(), base.origin());
            try {
                return new DefaultFineTunedModel(served.get(), labelled, base.config(), labelled.tokenizerFor(base.tokenizer()),
                        maxLength, new LoadReport(List.of(), List.of(), List.of()), engine.name(), registry);
            } catch (RuntimeException e) {
                served.get().close();
                throw e;
            }
        }
        return prepare(base, labelled, maxLength);
    }

    /**
     * Lowers a checkpoint with one of its family's heads and no task, for inference such as text
     * generation with a causal language model ({@code new HeadSpec(HeadKind.CAUSAL_LM, 0)} and
     * {@link dev.attune.core.generate.Generator}). The head's weights must all be in the checkpoint.
     *
     * @param base the checkpoint
     * @param head the head the family puts on it
     * @return the lowered model; the caller closes it (and {@code base})
     * @throws InvalidCheckpointException when the checkpoint lacks weights the head needs
     */
    public LoweredModel lower(PretrainedModel base, HeadSpec head) {
        java.util.Optional<LoweredModel> served = engine.serve(base, options);
        if (served.isPresent()) {
            // an ONNX file on the onnx engine runs as stored (its past key/value inputs included)
            String architecture = served.get().definition().architecture();
            java.util.Optional<HeadKind> has = HeadKind.ofArchitecture(architecture);
            if (has.isPresent() && has.get() != head.kind()) {
                served.get().close();
                throw new InvalidCheckpointException(base.origin() + " holds a " + architecture + ", not a "
                        + head.kind().cliName() + " model");
            }
            LOG.info("{} runs {} as stored", engine.name(), base.origin());
            return served.get();
        }
        ConfigLimits.check(base.config(), base.weights());
        ConfigLimits.checkTokenizer(base.config(), base.tokenizer());
        ModelDefinition definition = registry.family(base.config().modelType()).define(base.config(), head);
        ConfigLimits.check(definition, base.config());
        WeightBinder binder = new WeightBinder(definition, base.weights(), options.seed());
        LoadReport report = binder.report();
        if (!report.missing().isEmpty()) {
            throw new InvalidCheckpointException(base.origin() + " lacks weights that " + definition.architecture()
                    + " needs: " + report.missing() + "; use a checkpoint saved with that head");
        }
        if (!report.unused().isEmpty()) {
            LOG.info("Some weights of {} were not used by {}: {}", base.origin(), definition.architecture(),
                    report.unused());
        }
        return engine.lower(definition, binder, options);
    }

    @Override
    public void close() {
        engine.close();
    }

    /** Chooses the engine, device, threads and seed. */
    public static final class Builder {
        private String engineName;
        private DeviceSpec device = DeviceSpec.AUTO;
        private int numThreads;
        private long seed = 42;
        private PluginRegistry registry;

        private Builder() {}

        /**
         * @param name engine name ({@code pytorch}); null picks the default
         * @return this
         */
        public Builder engine(String name) {
            this.engineName = name;
            return this;
        }

        /**
         * @param value device choice
         * @return this
         */
        public Builder device(DeviceSpec value) {
            this.device = Objects.requireNonNull(value);
            return this;
        }

        /**
         * @param value intra-op CPU threads (0: engine default)
         * @return this
         */
        public Builder numThreads(int value) {
            this.numThreads = value;
            return this;
        }

        /**
         * @param value seed for head initialisation and dropout
         * @return this
         */
        public Builder seed(long value) {
            this.seed = value;
            return this;
        }

        /**
         * @param value plugins to use (for example from Guice); default: discovered
         * @return this
         */
        public Builder registry(PluginRegistry value) {
            this.registry = value;
            return this;
        }

        /**
         * Starts the engine and logs at INFO which one it is and why (named, or the default: the
         * lowest rank on the class path), so a run's log says what it ran on.
         *
         * @return the SDK, engine started
         */
        public Attune build() {
            PluginRegistry r = registry != null ? registry : PluginRegistry.discover();
            EngineProvider provider = r.engine(engineName);
            Engine engine = provider.create(new EngineOptions(device, numThreads, seed));
            LOG.info("engine {} ({}): {}, device {}{}", provider.name(),
                    engineName == null || engineName.isBlank() ? "the default, of " + r.engines().keySet() : "chosen",
                    engine.describe(), device, numThreads > 0 ? ", " + numThreads + " threads" : "");
            return new Attune(r, engine, new EngineOptions(device, numThreads, seed));
        }
    }
}
