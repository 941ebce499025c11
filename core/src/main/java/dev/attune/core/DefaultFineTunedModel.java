package dev.attune.core;

import org.apiguardian.api.API;

import dev.attune.model.FineTunedModel.Predictor;

import dev.attune.core.generate.Generator;
import dev.attune.core.generate.Seq2SeqGenerator;
import dev.attune.engine.Batch;
import dev.attune.generate.TextGenerator;
import dev.attune.engine.LoweredModel;
import dev.attune.error.AttuneException;
import dev.attune.core.internal.AtomicDirectory;
import dev.attune.core.lora.LoraAdapter;
import dev.attune.core.lora.LoraDefinition;
import dev.attune.core.lora.PeftFolder;
import dev.attune.PluginRegistry;
import dev.attune.formats.hf.HfExporter;
import dev.attune.model.Exporter;
import dev.attune.model.FineTunedModel;
import dev.attune.model.FineTunedModel.LoadReport;
import dev.attune.model.ModelConfig;
import dev.attune.model.TextTokenizer;
import dev.attune.ops.DType;
import dev.attune.ops.Parameter;
import dev.attune.ops.TensorData;
import dev.attune.task.Dataset;
import dev.attune.task.Evaluator;
import dev.attune.task.Example;
import dev.attune.task.Features;
import dev.attune.task.Prediction;
import dev.attune.task.Task;
import dev.attune.core.train.DefaultTrainer;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** The runtime's {@link FineTunedModel}: a lowered model with its task, config and tokenizer. */
@API(status = API.Status.INTERNAL, since = "0.1")
public final class DefaultFineTunedModel implements FineTunedModel {

    private final LoweredModel lowered;
    private final Task task;
    private final ModelConfig config;
    private final TextTokenizer tokenizer;
    private final int maxLength;
    private final LoadReport loadReport;
    private final String engineName;
    private final PluginRegistry registry;
    private volatile boolean closed;
    /** Lowers the model without its adapter, for {@link #mergeAdapter()}; null when it has none. */
    private java.util.function.BiFunction<dev.attune.model.ModelDefinition, dev.attune.engine.Engine.ParameterSource,
            LoweredModel> relower;

    /**
     * A model whose {@link #export} finds exporters on the context class path. It owns {@code
     * lowered} and {@code tokenizer}: {@link #close()} closes both.
     *
     * @param lowered the runnable model
     * @param task the task (with its labels)
     * @param config the model's config
     * @param tokenizer its tokenizer
     * @param maxLength maximum tokens per input for prediction
     * @param loadReport which parameters came from the checkpoint
     * @param engineName the engine's name
     */
    public DefaultFineTunedModel(
            LoweredModel lowered,
            Task task,
            ModelConfig config,
            TextTokenizer tokenizer,
            int maxLength,
            LoadReport loadReport,
            String engineName) {
        this(lowered, task, config, tokenizer, maxLength, loadReport, engineName, null);
    }

    /**
     * @param lowered the runnable model
     * @param task the task (with its labels)
     * @param config the model's config
     * @param tokenizer its tokenizer
     * @param maxLength maximum tokens per input for prediction
     * @param loadReport which parameters came from the checkpoint
     * @param engineName the engine's name
     * @param registry where {@link #export} finds exporters; null: discovered when first needed
     * @throws NullPointerException when the model, task, config or tokenizer is null
     */
    public DefaultFineTunedModel(
            LoweredModel lowered,
            Task task,
            ModelConfig config,
            TextTokenizer tokenizer,
            int maxLength,
            LoadReport loadReport,
            String engineName,
            PluginRegistry registry) {
        this.registry = registry;
        this.lowered = java.util.Objects.requireNonNull(lowered, "lowered");
        this.task = java.util.Objects.requireNonNull(task, "task");
        this.config = java.util.Objects.requireNonNull(config, "config");
        this.tokenizer = java.util.Objects.requireNonNull(tokenizer, "tokenizer");
        this.maxLength = maxLength;
        this.loadReport = loadReport;
        this.engineName = engineName;
    }

    /**
     * Wraps a model that an engine runs but that was not prepared by {@link dev.attune.Attune} (an ONNX file
     * served by ONNX Runtime, for example), so it gets the same predictor, evaluation and batching.
     *
     * @param lowered the runnable model
     * @param task the task (with its labels) that encodes inputs and decodes outputs
     * @param config the model's config
     * @param tokenizer its tokenizer
     * @param maxLength maximum tokens per input for prediction
     * @param engineName the engine's name
     * @return the model; closing it closes {@code lowered}
     */
    public static FineTunedModel of(LoweredModel lowered, Task task, ModelConfig config, TextTokenizer tokenizer,
            int maxLength, String engineName) {
        return new DefaultFineTunedModel(lowered, task, config, tokenizer, maxLength,
                new LoadReport(List.of(), List.of(), List.of()), engineName);
    }

    @Override
    public Task task() {
        return task;
    }

    @Override
    public ModelConfig config() {
        return config;
    }

    @Override
    public TextTokenizer tokenizer() {
        return tokenizer;
    }

    @Override
    public LoweredModel lowered() {
        return lowered;
    }

    @Override
    public int maxLength() {
        return maxLength;
    }

    @Override
    public LoadReport loadReport() {
        return loadReport;
    }

    @Override
    public String engineName() {
        return engineName;
    }

    @Override
    public List<Features> encode(Dataset data, int length) {
        return encode(data, length, () -> false);
    }

    /**
     * Encodes a data set, giving up between examples once {@code stop} says so (the trainer asks
     * its {@link dev.attune.train.TrainingControl}, so Ctrl-C or SIGTERM ends a long tokenization
     * at once rather than after it).
     *
     * @param data the examples
     * @param length the maximum length
     * @param stop asked every 64 examples
     * @return the features, or those of the examples encoded before {@code stop} said yes
     */
    public List<Features> encode(Dataset data, int length, java.util.function.BooleanSupplier stop) {
        ensureOpen();
        List<Features> out = new ArrayList<>(data.size());
        List<? extends Example> examples = data.examples();
        for (int i = 0; i < examples.size(); i++) {
            if ((i & 63) == 0 && stop.getAsBoolean()) {
                return out;
            }
            out.addAll(task.encode(examples.get(i), i, tokenizer, length));
        }
        return out;
    }

    @Override
    public double run(List<Features> features, int batchSize, int fixedLength, OutputSink sink) {
        ensureOpen();
        Map<String, Long> padding = task.padding(tokenizer);
        double lossSum = 0;
        long lossCount = 0;
        for (int start = 0; start < features.size(); start += batchSize) {
            List<Features> chunk = features.subList(start, Math.min(features.size(), start + batchSize));
            Batch batch = Collator.collate(chunk, padding, fixedLength, task::sequenceRows);
            Map<String, TensorData> out = lowered.predict(batch);
            TensorData loss = out.get("loss");
            if (loss != null) {
                lossSum += loss.toFloatArray()[0] * chunk.size();
                lossCount += chunk.size();
            }
            if (sink != null) {
                Map<String, float[]> flat = new LinkedHashMap<>();
                for (Map.Entry<String, TensorData> e : out.entrySet()) {
                    if (!e.getKey().equals("loss")) {
                        flat.put(e.getKey(), e.getValue().toFloatArray());
                    }
                }
                for (int i = 0; i < chunk.size(); i++) {
                    Map<String, float[]> row = new LinkedHashMap<>();
                    for (Map.Entry<String, float[]> e : flat.entrySet()) {
                        float[] all = e.getValue();
                        int per = all.length / chunk.size();
                        float[] slice = new float[per];
                        System.arraycopy(all, i * per, slice, 0, per);
                        row.put(e.getKey(), slice);
                    }
                    sink.accept(chunk.get(i), row);
                }
            }
        }
        return lossCount == 0 ? Double.NaN : lossSum / lossCount;
    }


    @Override
    public Map<String, Double> evaluate(Dataset data, int batchSize) {
        return evaluate(data, encode(data, maxLength), batchSize);
    }

    @Override
    public Map<String, Double> evaluate(Dataset data, List<Features> features, int batchSize) {
        ensureOpen();
        Evaluator evaluator = task.evaluator(data);
        double loss = run(features, batchSize, 0, evaluator::accept);
        evaluator.generate(this::generator, tokenizer, config);
        Map<String, Double> metrics = new LinkedHashMap<>();
        if (!Double.isNaN(loss)) {
            metrics.put("loss", loss);
        }
        metrics.putAll(evaluator.metrics());
        return metrics;
    }

    @Override
    public TextGenerator generator() {
        ensureOpen();
        return config.getBoolean("is_encoder_decoder", false) ? new Seq2SeqGenerator(lowered) : new Generator(lowered);
    }


    @Override
    public Predictor predictor() {
        return new Predictor() {
            @Override
            public Prediction predict(Map<String, String> input) {
                return predictAll(List.of(input)).get(0);
            }

            @Override
            public List<Prediction> predictAll(List<Map<String, String>> inputs) {
                ensureOpen();
                List<Example> examples = new ArrayList<>();
                List<Features> features = new ArrayList<>();
                for (int i = 0; i < inputs.size(); i++) {
                    Example e = task.parseInput(inputs.get(i));
                    examples.add(e);
                    features.addAll(task.encode(e, i, tokenizer, maxLength));
                }
                List<List<Features>> perExample = new ArrayList<>();
                List<List<Map<String, float[]>>> outputs = new ArrayList<>();
                for (int i = 0; i < inputs.size(); i++) {
                    perExample.add(new ArrayList<>());
                    outputs.add(new ArrayList<>());
                }
                // a model that does not compute the task's own outputs (an ONNX language model served as
                // stored gives logits, not per-token losses) runs one input at a time, unpadded, so the
                // task can reduce its outputs on the host knowing their layout
                List<String> has = lowered.definition().outputs();
                int batchSize = has.containsAll(task.outputNames(has)) ? PREDICT_BATCH_SIZE : 1;
                run(features, batchSize, 0, (f, out) -> {
                    perExample.get(f.exampleIndex()).add(f);
                    outputs.get(f.exampleIndex()).add(out);
                });
                List<Prediction> result = new ArrayList<>();
                for (int i = 0; i < inputs.size(); i++) {
                    result.add(task.decode(examples.get(i), perExample.get(i), outputs.get(i)));
                }
                return result;
            }
        };
    }

    @Override
    public Map<String, TensorData> stateDict() {
        ensureOpen();
        Map<String, TensorData> tensors = new LinkedHashMap<>();
        for (Parameter p : lowered.definition().parameters().all()) {
            tensors.put(p.name(), lowered.read(p));
        }
        return tensors;
    }

    /**
     * Writes the {@code hf} format, the one exporter core always has (formats-hf is its dependency);
     * a model with a LoRA adapter writes its adapter folder ({@link #saveAdapter}).
     */
    @Override
    public void save(Path directory) {
        save(directory, false);
    }

    @Override
    public void save(Path directory, boolean overwriteOutputDir) {
        save(directory, overwriteOutputDir, DType.FLOAT32);
    }

    @Override
    public void save(Path directory, boolean overwriteOutputDir, DType dtype) {
        ensureOpen();
        HfExporter.cast(Map.of(), dtype); // refuses a non-floating dtype before anything is written
        if (lora().isPresent()) {
            saveAdapter(directory, overwriteOutputDir, dtype);
            return;
        }
        Map<String, String> options = dtype == DType.FLOAT32 ? Map.of()
                : Map.of(HfExporter.DTYPE_OPTION, dtype.name());
        write(new HfExporter(), directory, options, overwriteOutputDir);
    }

    /**
     * Makes {@link #mergeAdapter()} possible for a model whose definition carries a LoRA adapter.
     *
     * @param lowering lowers a definition from given weights on this model's engine and device
     * @return this model
     */
    public DefaultFineTunedModel withAdapterLowering(java.util.function.BiFunction<dev.attune.model.ModelDefinition,
            dev.attune.engine.Engine.ParameterSource, LoweredModel> lowering) {
        this.relower = lowering;
        return this;
    }

    private java.util.Optional<LoraDefinition> lora() {
        return LoraDefinition.find(lowered.definition());
    }

    @Override
    public java.util.Optional<dev.attune.train.TrainingConfig.LoraConfig> adapter() {
        return lora().map(l -> l.adapter().config());
    }

    @Override
    public void saveAdapter(Path directory) {
        saveAdapter(directory, false, DType.FLOAT32);
    }

    private void saveAdapter(Path directory, boolean overwriteOutputDir, DType dtype) {
        ensureOpen();
        LoraAdapter adapter = lora().orElseThrow(() -> new dev.attune.error.ConfigurationException(
                "this model has no LoRA adapter to save; save it with save(folder), or train with"
                        + " TrainingConfig.withPeft(lora)")).adapter();
        try {
            AtomicDirectory.write(directory, tmp -> writeAdapter(tmp, adapter, dtype), DefaultTrainer::isRunFile,
                    overwriteOutputDir);
        } catch (IOException e) {
            throw new AttuneException("could not save the adapter to " + directory + ": " + e.getMessage()
                    + "; check free space and permissions (any previous adapter there is unchanged)", e);
        }
    }

    /**
     * Writes the adapter's files (PEFT's two, Attune's task settings, the tokenizer) into a folder.
     *
     * @param folder an existing folder
     * @param adapter this model's adapter
     * @throws IOException when a file cannot be written
     */
    public void writeAdapter(Path folder, LoraAdapter adapter) throws IOException {
        writeAdapter(folder, adapter, DType.FLOAT32);
    }

    /**
     * As {@link #writeAdapter(Path, LoraAdapter)}, the adapter tensors stored in a given floating-point
     * type; {@value PeftFolder#ATTUNE_FILE}'s {@code dtype} names it.
     *
     * @param folder an existing folder
     * @param adapter this model's adapter
     * @param dtype FLOAT32, BFLOAT16 or FLOAT16
     * @throws IOException when a file cannot be written
     */
    public void writeAdapter(Path folder, LoraAdapter adapter, DType dtype) throws IOException {
        Map<String, TensorData> values = new LinkedHashMap<>();
        for (Parameter p : lowered.definition().parameters().all()) {
            if (adapter.trainable().contains(p.name())) {
                values.put(p.name(), lowered.read(p));
            }
        }
        values = HfExporter.cast(values, dtype);
        PeftFolder.write(folder, adapter, values, adapter.baseModel());
        java.nio.file.Files.writeString(folder.resolve(PeftFolder.ATTUNE_FILE),
                HfExporter.withDtype(savedConfig(), values).toJson() + "\n");
        tokenizer.saveTo(folder);
    }

    @Override
    public FineTunedModel mergeAdapter() {
        ensureOpen();
        LoraDefinition definition = lora().orElseThrow(() -> new dev.attune.error.ConfigurationException(
                "this model has no LoRA adapter to merge"));
        if (relower == null) {
            throw new dev.attune.error.ConfigurationException("this model was not prepared by Attune, so its"
                    + " adapter cannot be merged here; open it with attune.open(base, adapterFolder)");
        }
        Map<String, TensorData> merged = definition.adapter().mergedWeights(lowered::read);
        dev.attune.model.ModelDefinition plain = new dev.attune.core.internal.TrainableDefinition(definition.base(), task);
        LoweredModel result = relower.apply(plain, p -> {
            TensorData m = merged.get(p.name());
            return m != null ? m : lowered.read(p);
        });
        try {
            return new DefaultFineTunedModel(result, task, config, tokenizer.copy(), maxLength, loadReport, engineName,
                    registry);
        } catch (RuntimeException e) {
            result.close();
            throw e;
        }
    }

    /** Exports; a model with a LoRA adapter is merged first ({@link #mergeAdapter()}), so the export is a full model. */
    @Override
    public void export(String format, Path directory, Map<String, String> options) {
        ensureOpen();
        if (lora().isPresent()) {
            try (FineTunedModel merged = mergeAdapter()) {
                merged.export(format, directory, options);
            }
            return;
        }
        PluginRegistry plugins = registry != null ? registry : PluginRegistry.discover();
        Map<String, String> exporterOptions = new LinkedHashMap<>(options == null ? Map.of() : options);
        String overwrite = exporterOptions.remove(OVERWRITE_OUTPUT_DIR);
        if (overwrite != null && !overwrite.equals("true") && !overwrite.equals("false")) {
            throw new dev.attune.error.ConfigurationException("export option " + OVERWRITE_OUTPUT_DIR
                    + " must be true or false, not '" + overwrite + "'");
        }
        write(plugins.exporter(format), directory, exporterOptions, "true".equals(overwrite));
    }

    /**
     * Hands the exporter an empty folder beside the target and renames it into place when complete
     * ({@link AtomicDirectory}), keeping what a training run wrote there.
     */
    private void write(Exporter exporter, Path directory, Map<String, String> options, boolean overwrite) {
        try {
            AtomicDirectory.write(directory, tmp -> exporter.export(this, tmp, options), DefaultTrainer::isRunFile,
                    overwrite);
        } catch (IOException e) {
            String what = exporter.format().equals(HfExporter.FORMAT) ? "save the model"
                    : "export the model as " + exporter.format();
            throw new AttuneException("could not " + what + " to " + directory + ": " + e.getMessage()
                    + "; check free space and permissions (any previous model there is unchanged)", e);
        }
    }

    @Override
    public ModelConfig savedConfig() {
        ModelConfig c = config.with("architectures", List.of(lowered.definition().architecture()));
        if (!task.labels().isEmpty()) {
            c = c.withLabels(task.labels());
        }
        for (Map.Entry<String, Object> e : task.configEntries().entrySet()) {
            c = c.with(e.getKey(), e.getValue());
        }
        Map<String, Object> attune = new LinkedHashMap<>();
        attune.put("task", task.name());
        attune.put("task_options", task.options().values());
        attune.put("max_length", maxLength);
        return c.with(CONFIG_KEY, attune);
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            lowered.close();
        } finally {
            tokenizer.close();
        }
    }

    /**
     * @throws AttuneException when the model was closed: its weights and tokenizer are released, and
     *     engines would otherwise fail natively
     */
    private void ensureOpen() {
        if (closed) {
            throw new AttuneException("the model " + lowered.definition().architecture() + " (" + engineName
                    + ") is closed; open it again (attune.open(folder)) to use it");
        }
    }
}
