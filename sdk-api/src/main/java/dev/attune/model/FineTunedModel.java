package dev.attune.model;

import dev.attune.engine.LoweredModel;
import dev.attune.generate.TextGenerator;
import dev.attune.ops.TensorData;
import dev.attune.task.Dataset;
import dev.attune.task.Features;
import dev.attune.task.Prediction;
import dev.attune.task.Task;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.apiguardian.api.API;

/**
 * A model with a task head, lowered onto an engine: train it with a {@link dev.attune.train.Trainer},
 * then evaluate it, predict with it, or save it as a HuggingFace folder that Python {@code
 * transformers} loads, or export it in another format ({@link #export(String, Path, Map)}). Closing
 * it releases what it holds on the engine.
 */
@API(status = API.Status.STABLE, since = "0.1")
public interface FineTunedModel extends AutoCloseable {
    /** Key under which Attune keeps its own settings in config.json (ignored by transformers). */
    String CONFIG_KEY = "attune";

    /** Examples per forward pass of {@link #predictor()}. */
    int PREDICT_BATCH_SIZE = 32;

    /** @return the task (with its labels) */
    Task task();

    /** @return the config as it will be saved (labels included) */
    ModelConfig config();

    /** @return the tokenizer */
    TextTokenizer tokenizer();

    /** @return the engine's model */
    LoweredModel lowered();

    /** @return maximum tokens per input used for prediction (training may override) */
    int maxLength();

    /** @return which parameters came from the checkpoint and which were initialised */
    LoadReport loadReport();

    /** @return the engine's name */
    String engineName();

    /**
     * Tokenises a data set with the task's encoder.
     *
     * @param data examples
     * @param length maximum tokens per feature
     * @return features in example order
     */
    List<Features> encode(Dataset data, int length);

    /**
     * Runs inference over features in batches.
     *
     * @param features inputs
     * @param batchSize examples per batch
     * @param fixedLength pad to this length (0: longest in batch)
     * @param sink receives each feature with its outputs (batch axis removed); may be null
     * @return mean loss over labelled batches, or NaN when unlabelled
     */
    double run(List<Features> features, int batchSize, int fixedLength, OutputSink sink);

    /** Receives one feature's outputs. */
    @FunctionalInterface
    @API(status = API.Status.STABLE, since = "0.1")
    interface OutputSink {
        /**
         * @param features the input
         * @param outputs its outputs by name
         */
        void accept(Features features, Map<String, float[]> outputs);
    }

    /**
     * @param data labelled examples
     * @param batchSize examples per batch
     * @return the task's metrics plus {@code loss}
     */
    Map<String, Double> evaluate(Dataset data, int batchSize);

    /**
     * @param data labelled examples
     * @param features their encoded features
     * @param batchSize examples per batch
     * @return the task's metrics plus {@code loss}
     */
    Map<String, Double> evaluate(Dataset data, List<Features> features, int batchSize);

    /**
     * @return a generator decoding with this model: an encoder-decoder generator when the config says
     *     {@code is_encoder_decoder}, a decoder-only one otherwise
     */
    TextGenerator generator();

    /** @return a predictor over this model (batches of {@link #PREDICT_BATCH_SIZE}) */
    Predictor predictor();

    /** @return current parameter values by HuggingFace name, as they are saved */
    Map<String, TensorData> stateDict();

    /**
     * Saves a HuggingFace folder: config.json ({@code architectures}, {@code id2label}, {@code
     * label2id}, the task's {@link dev.attune.task.Task#configEntries()} such as {@code problem_type},
     * and Attune's task settings), model.safetensors and the tokenizer files. The folder
     * is written aside and renamed into place, so an existing model there stays intact until the new
     * one is complete. What a training run wrote into the same folder (its log, TensorBoard events
     * and checkpoints) is kept; the rest of what Attune wrote there is replaced. A folder that holds
     * files Attune does not write (a project's {@code src/}, {@code .git/}, notes) is refused: see
     * {@link #save(Path, boolean)}.
     *
     * <p>A model with a LoRA adapter ({@link #adapter()}) saves its adapter folder instead ({@link
     * #saveAdapter}); {@link #mergeAdapter()} gives the full model.
     *
     * @param directory target folder (created or replaced)
     * @throws dev.attune.error.ConfigurationException when the folder holds files Attune did not write
     */
    void save(Path directory);

    /**
     * As {@link #save(Path)}; with {@code overwriteOutputDir} a folder that holds files Attune did not
     * write is written into, its other entries left as they are (HuggingFace's {@code
     * overwrite_output_dir}). Neither ever deletes what Attune did not write, nor renames the working
     * folder.
     *
     * @param directory target folder
     * @param overwriteOutputDir whether a folder of the user's may receive the model
     */
    @API(status = API.Status.EXPERIMENTAL, since = "0.2")
    void save(Path directory, boolean overwriteOutputDir);

    /**
     * As {@link #save(Path, boolean)}, storing the floating-point tensors in a given type: {@link
     * dev.attune.ops.DType#FLOAT32} (what {@link #save(Path)} writes), or {@link
     * dev.attune.ops.DType#BFLOAT16} / {@link dev.attune.ops.DType#FLOAT16} for a folder half the size
     * (values rounded to nearest even, as PyTorch's {@code .to(dtype)}). config.json's {@code dtype} (and
     * {@code torch_dtype} where the config has it) names the type written, so Python {@code transformers}
     * loads the folder in that type without being told. A model with a LoRA adapter stores its adapter
     * tensors in that type ({@code adapter_model.safetensors}).
     *
     * @param directory target folder
     * @param overwriteOutputDir whether a folder of the user's may receive the model
     * @param dtype FLOAT32, BFLOAT16 or FLOAT16
     * @throws dev.attune.error.ConfigurationException for any other dtype
     */
    @API(status = API.Status.EXPERIMENTAL, since = "0.2")
    default void save(Path directory, boolean overwriteOutputDir, dev.attune.ops.DType dtype) {
        if (dtype != dev.attune.ops.DType.FLOAT32) {
            throw new dev.attune.error.ConfigurationException("this model saves float32 only; save it with"
                    + " save(folder), or export(\"hf\", folder, Map.of(\"dtype\", \"bf16\"))");
        }
        save(directory, overwriteOutputDir);
    }

    /**
     * @return the LoRA adapter this model carries beside its frozen weights (as trained or opened), or
     *     empty for a plain model
     */
    @API(status = API.Status.EXPERIMENTAL, since = "0.2")
    default java.util.Optional<dev.attune.train.TrainingConfig.LoraConfig> adapter() {
        return java.util.Optional.empty();
    }

    /**
     * Saves the LoRA adapter as a PEFT adapter folder: {@code adapter_config.json} (with {@code
     * base_model_name_or_path}), {@code adapter_model.safetensors} with PEFT's key names (the adapter
     * matrices and the modules to save), and the tokenizer files. Python loads it with {@code
     * peft.PeftModel.from_pretrained(base, folder)}; Attune with {@code attune.open(base, folder)}.
     *
     * @param directory target folder (created or replaced, as {@link #save})
     * @throws dev.attune.error.ConfigurationException when the model has no adapter
     */
    @API(status = API.Status.EXPERIMENTAL, since = "0.2")
    default void saveAdapter(Path directory) {
        throw new dev.attune.error.ConfigurationException("this model has no LoRA adapter to save; save it with"
                + " save(folder), or train with TrainingConfig.withPeft(lora)");
    }

    /**
     * Merges the LoRA adapter into the weights ({@code W + scaling * B A}, as PEFT's {@code
     * merge_and_unload}): a plain model with the same outputs, which saves and exports as a full
     * HuggingFace model. This model stays open and unchanged; the caller closes both.
     *
     * @return the merged model
     * @throws dev.attune.error.ConfigurationException when the model has no adapter
     */
    @API(status = API.Status.EXPERIMENTAL, since = "0.2")
    default FineTunedModel mergeAdapter() {
        throw new dev.attune.error.ConfigurationException("this model has no LoRA adapter to merge");
    }

    /**
     * Exports the model with the {@link Exporter} of a format, found with {@link
     * java.util.ServiceLoader}: {@code hf} (what {@link #save} writes), {@code onnx} (needs {@code
     * attune-engine-onnx}), {@code savedmodel} (needs {@code attune-engine-tensorflow}), or a
     * plugin's own. Like {@link #save}, the folder is written aside and renamed into place, and what
     * a training run wrote there (its log, TensorBoard events, checkpoints) is kept.
     *
     * @param format the format's name
     * @param directory target folder (created or replaced)
     * @param options the exporter's settings (for {@code onnx}: {@code fp16}, {@code past}, {@code
     *     external_data_mb}); for every format {@value #OVERWRITE_OUTPUT_DIR} {@code true} writes into a
     *     folder holding files Attune did not write, as {@link #save(Path, boolean)}
     * @throws dev.attune.error.ConfigurationException when no exporter of that format is on the class path
     * @throws dev.attune.error.ConfigurationException when the exporter does not know an option
     * @throws dev.attune.error.AttuneException when writing fails (any previous folder there is unchanged)
     */
    @API(status = API.Status.EXPERIMENTAL, since = "0.1")
    void export(String format, Path directory, Map<String, String> options);

    /** The {@link #export(String, Path, Map)} option that allows a folder holding files Attune did not write. */
    String OVERWRITE_OUTPUT_DIR = "overwrite_output_dir";

    /**
     * As {@link #export(String, Path, Map)} with the exporter's default settings.
     *
     * @param format the format's name
     * @param directory target folder (created or replaced)
     */
    @API(status = API.Status.EXPERIMENTAL, since = "0.1")
    default void export(String format, Path directory) {
        export(format, directory, Map.of());
    }

    /** @return config.json as {@link #save} writes it */
    ModelConfig savedConfig();

    @Override
    void close();

    /**
     * What happened when a checkpoint's tensors were matched to a definition's parameters, as
     * HuggingFace reports it on {@code from_pretrained}.
     *
     * @param loaded parameters filled from the checkpoint
     * @param missing parameters the checkpoint lacks, freshly initialised (a new head)
     * @param unused checkpoint tensors no parameter took (an old head)
     */
    @API(status = API.Status.STABLE, since = "0.1")
    public record LoadReport(List<String> loaded, List<String> missing, List<String> unused) {
        /** Copies the lists. */
        public LoadReport {
            loaded = List.copyOf(loaded);
            missing = List.copyOf(missing);
            unused = List.copyOf(unused);
        }
    }

    /** Text in, answer out, on whichever engine the model was lowered. Thread-safe. */
    @API(status = API.Status.STABLE, since = "0.1")
    public interface Predictor {
        /**
         * @param input the task's input fields ({@code text}, and {@code text_pair} for pairs)
         * @return the task's answer
         */
        Prediction predict(Map<String, String> input);

        /**
         * @param text a single text
         * @return the task's answer
         */
        default Prediction predict(String text) {
            return predict(Map.of("text", text));
        }

        /**
         * Predicts several inputs in batches.
         *
         * @param inputs the inputs
         * @return one answer per input, in order
         */
        List<Prediction> predictAll(List<Map<String, String>> inputs);
    }
}
