package dev.attune.train;

import static org.apiguardian.api.API.Status.STABLE;
import static org.apiguardian.api.API.Status.EXPERIMENTAL;

import dev.attune.error.ConfigurationException;
import dev.attune.ops.DType;
import dev.attune.task.Task;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.Set;
import org.apiguardian.api.API;

/**
 * Immutable training settings, grouped by what they govern: the optimizer, the learning-rate
 * schedule, batching, evaluation, saving, logging and transfer learning. Names follow HuggingFace
 * {@code TrainingArguments} where the meaning is the same ({@code learningRate} is {@code
 * learning_rate}, ...). Build with {@link #builder()}, whose setters are flat:
 *
 * <pre>{@code
 * TrainingConfig config = TrainingConfig.builder()
 *         .numTrainEpochs(2).perDeviceTrainBatchSize(32).learningRate(1e-4)
 *         .warmupRatio(0.1).weightDecay(0.01).maxLength(64).build();
 * }</pre>
 *
 * <p>Each setting's accessor is on this record too ({@code config.learningRate()} is {@code
 * config.optimization().learningRate()}). The defaults are HuggingFace's except these:
 *
 * <table>
 * <caption>Defaults that differ from HuggingFace's TrainingArguments</caption>
 * <tr><th>setting</th><th>here</th><th>HuggingFace</th><th>why</th></tr>
 * <tr><td>outputDir</td><td>null: nothing written</td><td>required</td><td>a library call need not write files</td></tr>
 * <tr><td>evalStrategy</td><td>EPOCH</td><td>no</td><td>evaluation data given to the trainer is used</td></tr>
 * <tr><td>saveSteps</td><td>0: no periodic checkpoints</td><td>500</td><td>checkpoints need outputDir</td></tr>
 * <tr><td>perDeviceEvalBatchSize</td><td>32</td><td>8</td><td>evaluation keeps no gradients</td></tr>
 * <tr><td>metricForBestModel</td><td>the task's {@link Task#primaryMetric()}</td><td>loss</td><td>f1, accuracy or perplexity say more than the loss</td></tr>
 * <tr><td>greaterIsBetter</td><td>the task's {@link Task#greaterIsBetter()} for its metric</td><td>false for a name ending in loss, else true</td><td>a perplexity is better lower</td></tr>
 * <tr><td>maxLength</td><td>128</td><td>the tokenizer's (often 512)</td><td>a tokenizer setting in HuggingFace</td></tr>
 * <tr><td>earlyStoppingPatience</td><td>0: off</td><td>(a callback, off unless added)</td><td></td></tr>
 * </table>
 *
 * <p>The command line's defaults differ again where it says so ({@code --logging-steps 50}).
 * Contradictory settings are refused with a {@link ConfigurationException} naming the setting:
 * checkpoints ({@code saveSteps}, {@code saveOnEpochEnd}, {@code saveTotalLimit}, {@code
 * loadBestModelAtEnd}) without {@code outputDir}, {@code loadBestModelAtEnd} without evaluation or
 * without checkpoints, early stopping without evaluation, {@code evalSteps} without the {@code
 * STEPS} strategy, {@code earlyStoppingThreshold} without patience, both {@code warmupSteps} and
 * {@code warmupRatio}. The trainer refuses {@code evalStrategy STEPS} or {@code evalOnStart} without
 * evaluation data when it starts.
 *
 * <p>Callbacks: every run gets the built-in callbacks of {@code dev.attune.core.train.callbacks}
 * ({@code DefaultFlowCallback}, {@code JsonlLogCallback}, {@code TensorBoardCallback}, {@code
 * ProgressBarCallback}, {@code EarlyStoppingCallback}, {@code CheckpointCallback}, {@code
 * PlotsCallback}, {@code ModelCardCallback}, in that order); {@link Builder#withoutDefault} removes
 * one, {@link Builder#callbacks} adds the config's own after them, and one of the same class as a
 * built-in replaces it in its place.
 *
 * @param outputDir folder for the log (trainer_log.jsonl), TensorBoard events, checkpoints, plots and
 *     the model card; null writes nothing; default null
 * @param seed seed for head initialisation, dropout and shuffling ({@code seed}); default 42
 * @param optimization AdamW and gradient clipping
 * @param schedule how long to train and the learning-rate schedule
 * @param batching batches and sequence lengths
 * @param evaluation when to evaluate, the best model and early stopping
 * @param saving checkpoints and resuming
 * @param logging the log, TensorBoard and the progress bar
 * @param transferLearning freezing, layer-wise rates and gradual unfreezing
 * @param callbacks the config's own callbacks, run after the built-in ones (or in place of a built-in
 *     one of the same class); default none
 * @param withoutDefaults built-in callbacks left out of the run, by class; default none
 * @param peft parameter-efficient fine-tuning: a LoRA adapter beside the frozen model ({@link
 *     #withPeft}); null (the default) trains every parameter
 * @param mixedPrecision HuggingFace's {@code bf16}/{@code fp16}: BFLOAT16 or FLOAT16 runs matrix
 *     products and attention in that type with {@code torch.autocast}'s semantics (parameters and
 *     optimizer state stay float32; softmax, norms and losses in float32), FLOAT16 with dynamic loss
 *     scaling as {@code GradScaler}'s defaults; FLOAT32 (the default) trains in float32 throughout
 * @param memory memory-saving settings: gradient checkpointing and finding a batch size that fits;
 *     null means both off
 */
@API(status = STABLE, since = "0.1")
public record TrainingConfig(
        Path outputDir,
        long seed,
        Optimization optimization,
        Schedule schedule,
        Batching batching,
        Evaluation evaluation,
        Saving saving,
        Logging logging,
        TransferLearning transferLearning,
        List<TrainerCallback> callbacks,
        Set<Class<? extends TrainerCallback>> withoutDefaults,
        LoraConfig peft,
        DType mixedPrecision,
        Memory memory) {

    /** Checks that the groups are present and agree with each other; messages name the setting. */
    public TrainingConfig {
        Objects.requireNonNull(optimization, "optimization");
        Objects.requireNonNull(schedule, "schedule");
        Objects.requireNonNull(batching, "batching");
        Objects.requireNonNull(evaluation, "evaluation");
        Objects.requireNonNull(saving, "saving");
        Objects.requireNonNull(logging, "logging");
        Objects.requireNonNull(transferLearning, "transferLearning");
        callbacks = callbacks == null ? List.of() : List.copyOf(callbacks);
        withoutDefaults = withoutDefaults == null ? Set.of() : Set.copyOf(withoutDefaults);
        mixedPrecision = mixedPrecision == null ? DType.FLOAT32 : mixedPrecision;
        if (mixedPrecision != DType.FLOAT32 && mixedPrecision != DType.BFLOAT16 && mixedPrecision != DType.FLOAT16) {
            throw new ConfigurationException("mixedPrecision is BFLOAT16 (bf16), FLOAT16 (fp16) or FLOAT32 (off), not "
                    + mixedPrecision);
        }
        memory = memory == null ? new Memory(false, false) : memory;
        if (outputDir == null) {
            String needs = " needs an outputDir: checkpoints are written to outputDir/checkpoint-N; set outputDir";
            if (saving.saveSteps() > 0) {
                throw new ConfigurationException("saveSteps" + needs + " or saveSteps 0");
            }
            if (saving.saveOnEpochEnd()) {
                throw new ConfigurationException("saveOnEpochEnd" + needs + " or turn saveOnEpochEnd off");
            }
            if (saving.saveTotalLimit() > 0) {
                throw new ConfigurationException("saveTotalLimit" + needs + " or saveTotalLimit 0");
            }
            if (evaluation.loadBestModelAtEnd()) {
                throw new ConfigurationException("loadBestModelAtEnd" + needs + " or turn loadBestModelAtEnd off");
            }
        }
        if (evaluation.loadBestModelAtEnd()) {
            if (evaluation.evalStrategy() == EvalStrategy.NO) {
                throw new ConfigurationException("loadBestModelAtEnd needs evaluations to rank checkpoints: set"
                        + " evalStrategy to EPOCH or STEPS, or turn loadBestModelAtEnd off");
            }
            if (saving.saveSteps() == 0 && !saving.saveOnEpochEnd()) {
                throw new ConfigurationException("loadBestModelAtEnd needs checkpoints to load from: set saveSteps"
                        + " (to evalSteps, so every evaluation has its checkpoint) or saveOnEpochEnd");
            }
        }
    }

    /** @return a builder with the defaults above */
    public static Builder builder() {
        return new Builder();
    }

    /** @return a builder starting from this config */
    public Builder toBuilder() {
        return new Builder(this);
    }

    /** @return {@link Memory#gradientCheckpointing()} */
    public boolean gradientCheckpointing() {
        return memory.gradientCheckpointing();
    }

    /** @return {@link Memory#autoFindBatchSize()} */
    public boolean autoFindBatchSize() {
        return memory.autoFindBatchSize();
    }

    /**
     * Memory against time.
     *
     * @param gradientCheckpointing keep only each layer's input through the forward pass and recompute the
     *     layer in the backward pass ({@code gradient_checkpointing}): activations take about one layer's
     *     worth instead of every layer's, for a second forward computation; the gradients are the same, bit
     *     for bit. Engines that keep every activation anyway (TensorFlow's graph) ignore it; default false
     * @param autoFindBatchSize when a training step runs out of memory ({@link
     *     dev.attune.error.EngineException.OutOfMemory}), drop the step's gradients, halve the examples per
     *     forward pass and run the same examples again as twice as many passes (each step still sees
     *     {@code perDeviceTrainBatchSize * gradientAccumulationSteps} examples), down to one example per
     *     pass ({@code auto_find_batch_size}, which halves the batch itself); default false
     */
    @API(status = EXPERIMENTAL, since = "0.2")
    public record Memory(boolean gradientCheckpointing, boolean autoFindBatchSize) {}

    /**
     * @param lora the adapter to train beside the frozen model; null trains every parameter
     * @return this config with parameter-efficient fine-tuning ({@code peft_config})
     */
    public TrainingConfig withPeft(LoraConfig lora) {
        return toBuilder().peft(lora).build();
    }

    /**
     * @param task the task being trained
     * @return {@code metricForBestModel}, or the task's {@link Task#primaryMetric()} when unset
     */
    public String metricForBestModel(Task task) {
        return evaluation.metricForBestModel(task);
    }

    /**
     * @param task the task being trained
     * @return whether a larger {@link #metricForBestModel(Task)} is better: {@code greaterIsBetter}
     *     when set, else the task's {@link Task#greaterIsBetter()} for its own primary metric, else
     *     false for a name ending in {@code loss} and true otherwise
     */
    public boolean greaterIsBetter(Task task) {
        return evaluation.greaterIsBetter(task);
    }

    /**
     * @param totalSteps optimizer steps of the run
     * @return warmup steps: {@code warmupSteps} when positive, else {@code ceil(warmupRatio * total)}
     */
    public long warmupStepsFor(long totalSteps) {
        return schedule.warmupStepsFor(totalSteps);
    }

    // ---- the settings one by one, as HuggingFace names them ----

    /** @return {@link Optimization#learningRate()} */
    public double learningRate() {
        return optimization.learningRate();
    }

    /** @return {@link Optimization#weightDecay()} */
    public double weightDecay() {
        return optimization.weightDecay();
    }

    /** @return {@link Optimization#adamBeta1()} */
    public double adamBeta1() {
        return optimization.adamBeta1();
    }

    /** @return {@link Optimization#adamBeta2()} */
    public double adamBeta2() {
        return optimization.adamBeta2();
    }

    /** @return {@link Optimization#adamEpsilon()} */
    public double adamEpsilon() {
        return optimization.adamEpsilon();
    }

    /** @return {@link Optimization#maxGradNorm()} */
    public double maxGradNorm() {
        return optimization.maxGradNorm();
    }

    /** @return {@link Schedule#numTrainEpochs()} */
    public double numTrainEpochs() {
        return schedule.numTrainEpochs();
    }

    /** @return {@link Schedule#maxSteps()} */
    public long maxSteps() {
        return schedule.maxSteps();
    }

    /** @return {@link Schedule#lrSchedulerType()} */
    public SchedulerType lrSchedulerType() {
        return schedule.lrSchedulerType();
    }

    /** @return {@link Schedule#warmupSteps()} */
    public long warmupSteps() {
        return schedule.warmupSteps();
    }

    /** @return {@link Schedule#warmupRatio()} */
    public double warmupRatio() {
        return schedule.warmupRatio();
    }

    /** @return {@link Schedule#lrNumCycles()} */
    public double lrNumCycles() {
        return schedule.lrNumCycles();
    }

    /** @return {@link Schedule#lrPower()} */
    public double lrPower() {
        return schedule.lrPower();
    }

    /** @return {@link Schedule#lrEnd()} */
    public double lrEnd() {
        return schedule.lrEnd();
    }

    /** @return {@link Batching#perDeviceTrainBatchSize()} */
    public int perDeviceTrainBatchSize() {
        return batching.perDeviceTrainBatchSize();
    }

    /** @return {@link Batching#perDeviceEvalBatchSize()} */
    public int perDeviceEvalBatchSize() {
        return batching.perDeviceEvalBatchSize();
    }

    /** @return {@link Batching#gradientAccumulationSteps()} */
    public int gradientAccumulationSteps() {
        return batching.gradientAccumulationSteps();
    }

    /** @return {@link Batching#maxLength()} */
    public int maxLength() {
        return batching.maxLength();
    }

    /** @return {@link Batching#padToMaxLength()} */
    public boolean padToMaxLength() {
        return batching.padToMaxLength();
    }

    /** @return {@link Batching#shuffle()} */
    public boolean shuffle() {
        return batching.shuffle();
    }

    /** @return {@link Batching#groupByLength()} */
    public boolean groupByLength() {
        return batching.groupByLength();
    }

    /** @return {@link Evaluation#evalStrategy()} */
    public EvalStrategy evalStrategy() {
        return evaluation.evalStrategy();
    }

    /** @return {@link Evaluation#evalSteps()} */
    public int evalSteps() {
        return evaluation.evalSteps();
    }

    /** @return {@link Evaluation#evalOnStart()} */
    public boolean evalOnStart() {
        return evaluation.evalOnStart();
    }

    /** @return {@link Evaluation#metricForBestModel()}: null means the task's primary metric */
    public String metricForBestModel() {
        return evaluation.metricForBestModel();
    }

    /** @return {@link Evaluation#loadBestModelAtEnd()} */
    public boolean loadBestModelAtEnd() {
        return evaluation.loadBestModelAtEnd();
    }

    /** @return {@link Evaluation#earlyStoppingPatience()} */
    public int earlyStoppingPatience() {
        return evaluation.earlyStoppingPatience();
    }

    /** @return {@link Evaluation#earlyStoppingThreshold()} */
    public double earlyStoppingThreshold() {
        return evaluation.earlyStoppingThreshold();
    }

    /** @return {@link Saving#saveSteps()} */
    public int saveSteps() {
        return saving.saveSteps();
    }

    /** @return {@link Saving#saveOnEpochEnd()} */
    public boolean saveOnEpochEnd() {
        return saving.saveOnEpochEnd();
    }

    /** @return {@link Saving#saveTotalLimit()} */
    public int saveTotalLimit() {
        return saving.saveTotalLimit();
    }

    /** @return {@link Saving#resumeFromCheckpoint()} */
    public Path resumeFromCheckpoint() {
        return saving.resumeFromCheckpoint();
    }

    /** @return {@link Saving#overwriteOutputDir()} */
    public boolean overwriteOutputDir() {
        return saving.overwriteOutputDir();
    }

    /** @return {@link Logging#loggingSteps()} */
    public int loggingSteps() {
        return logging.loggingSteps();
    }

    /** @return {@link Logging#tensorboard()} */
    public boolean tensorboard() {
        return logging.tensorboard();
    }

    /** @return {@link Logging#disableTqdm()}: null means off when standard error is not a terminal */
    public Boolean disableTqdm() {
        return logging.disableTqdm();
    }

    /** @return {@link TransferLearning#freezeEmbeddings()} */
    public boolean freezeEmbeddings() {
        return transferLearning.freezeEmbeddings();
    }

    /** @return {@link TransferLearning#freezeLayers()} */
    public int freezeLayers() {
        return transferLearning.freezeLayers();
    }

    /** @return {@link TransferLearning#trainHeadOnly()} */
    public boolean trainHeadOnly() {
        return transferLearning.trainHeadOnly();
    }

    /** @return {@link TransferLearning#layerwiseLrDecay()} */
    public double layerwiseLrDecay() {
        return transferLearning.layerwiseLrDecay();
    }

    /** @return {@link TransferLearning#gradualUnfreezing()} */
    public boolean gradualUnfreezing() {
        return transferLearning.gradualUnfreezing();
    }

    private static void positive(String name, double v) {
        if (!(v > 0)) {
            throw new ConfigurationException(name + " must be > 0, got " + v);
        }
    }

    private static void nonNegative(String name, double v) {
        if (!(v >= 0)) {
            throw new ConfigurationException(name + " must be >= 0, got " + v);
        }
    }

    /**
     * AdamW (decoupled weight decay) and global-norm gradient clipping.
     *
     * @param learningRate peak learning rate ({@code learning_rate}); default 5e-5
     * @param weightDecay AdamW decoupled weight decay, not applied to biases and LayerNorm ({@code weight_decay}); default 0.0
     * @param adamBeta1 AdamW beta1 ({@code adam_beta1}); default 0.9
     * @param adamBeta2 AdamW beta2 ({@code adam_beta2}); default 0.999
     * @param adamEpsilon AdamW epsilon ({@code adam_epsilon}); default 1e-8
     * @param maxGradNorm global gradient-norm clip; 0 disables ({@code max_grad_norm}); default 1.0
     */
    @API(status = STABLE, since = "0.1")
    public record Optimization(double learningRate, double weightDecay, double adamBeta1, double adamBeta2,
            double adamEpsilon, double maxGradNorm) {
        /** Validates ranges; messages name the setting. */
        public Optimization {
            positive("learningRate", learningRate);
            nonNegative("weightDecay", weightDecay);
            if (adamBeta1 < 0 || adamBeta1 >= 1) {
                throw new ConfigurationException("adamBeta1 must be in [0, 1), got " + adamBeta1);
            }
            if (adamBeta2 < 0 || adamBeta2 >= 1) {
                throw new ConfigurationException("adamBeta2 must be in [0, 1), got " + adamBeta2);
            }
            positive("adamEpsilon", adamEpsilon);
            nonNegative("maxGradNorm", maxGradNorm);
        }
    }

    /**
     * How long to train and how the learning rate moves.
     *
     * @param numTrainEpochs epochs ({@code num_train_epochs}); a fraction stops part-way; default 3.0
     * @param maxSteps optimizer steps; overrides epochs when positive ({@code max_steps}); default -1
     * @param lrSchedulerType learning-rate schedule ({@code lr_scheduler_type}); default LINEAR
     * @param warmupSteps linear warmup steps ({@code warmup_steps}); default 0
     * @param warmupRatio warmup as a fraction of all steps, rounded up ({@code warmup_ratio}); set this or
     *     warmupSteps, not both; default 0.0
     * @param lrNumCycles cosine waves of {@link SchedulerType#COSINE_WITH_RESTARTS} ({@code num_cycles}); default 1
     * @param lrPower power of {@link SchedulerType#POLYNOMIAL} ({@code power}); default 1
     * @param lrEnd final learning rate of {@link SchedulerType#POLYNOMIAL} ({@code lr_end}); default 1e-7
     */
    @API(status = STABLE, since = "0.1")
    public record Schedule(double numTrainEpochs, long maxSteps, SchedulerType lrSchedulerType, long warmupSteps,
            double warmupRatio, double lrNumCycles, double lrPower, double lrEnd) {
        /** Validates ranges; messages name the setting. */
        public Schedule {
            if (maxSteps <= 0 && !(numTrainEpochs > 0)) {
                throw new ConfigurationException("numTrainEpochs must be > 0 (or set maxSteps), got " + numTrainEpochs);
            }
            if (lrSchedulerType == null) {
                throw new ConfigurationException("lrSchedulerType must be set");
            }
            nonNegative("warmupSteps", warmupSteps);
            if (!(warmupRatio >= 0 && warmupRatio <= 1)) {
                throw new ConfigurationException("warmupRatio must be in [0, 1], got " + warmupRatio);
            }
            if (warmupSteps > 0 && warmupRatio > 0) {
                throw new ConfigurationException("warmupSteps (" + warmupSteps + ") and warmupRatio (" + warmupRatio
                        + ") are both set; set one of them");
            }
            positive("lrNumCycles", lrNumCycles);
            positive("lrPower", lrPower);
            nonNegative("lrEnd", lrEnd);
        }

        /**
         * @param totalSteps optimizer steps of the run
         * @return warmup steps: {@code warmupSteps} when positive, else {@code ceil(warmupRatio * total)}
         */
        public long warmupStepsFor(long totalSteps) {
            return warmupSteps > 0 ? warmupSteps : (long) Math.ceil(warmupRatio * totalSteps);
        }
    }

    /**
     * Batches and sequence lengths.
     *
     * @param perDeviceTrainBatchSize examples per forward pass ({@code per_device_train_batch_size}); default 8
     * @param perDeviceEvalBatchSize examples per evaluation batch ({@code per_device_eval_batch_size};
     *     HuggingFace's default is 8); default 32
     * @param gradientAccumulationSteps forward passes per optimizer step ({@code gradient_accumulation_steps}); default 1
     * @param maxLength tokens per example after truncation (a tokenizer setting in HuggingFace); default 128
     * @param padToMaxLength pad every batch to maxLength instead of to its longest example; default false
     * @param shuffle shuffle training data each epoch; false keeps file order; default true
     * @param groupByLength batch examples of similar length together (sorted within shuffled mega-batches
     *     of 50 batches, batches then shuffled), so dynamic padding wastes little ({@code group_by_length});
     *     default false
     */
    @API(status = STABLE, since = "0.1")
    public record Batching(int perDeviceTrainBatchSize, int perDeviceEvalBatchSize, int gradientAccumulationSteps,
            int maxLength, boolean padToMaxLength, boolean shuffle, boolean groupByLength) {
        /** Validates ranges; messages name the setting. */
        public Batching {
            positive("perDeviceTrainBatchSize", perDeviceTrainBatchSize);
            positive("perDeviceEvalBatchSize", perDeviceEvalBatchSize);
            positive("gradientAccumulationSteps", gradientAccumulationSteps);
            positive("maxLength", maxLength);
        }
    }

    /**
     * When to evaluate, which checkpoint is best, and early stopping.
     *
     * @param evalStrategy when to evaluate ({@code eval_strategy}; HuggingFace's default is no); default EPOCH
     * @param evalSteps steps between evaluations under {@link EvalStrategy#STEPS}; 0 means loggingSteps
     *     ({@code eval_steps}); default 0
     * @param evalOnStart evaluate the model once before its first step (step 0), to show where fine-tuning
     *     starts from; logged and kept in the history, but not a candidate for the best model nor counted
     *     by early stopping ({@code eval_on_start}); default false
     * @param metricForBestModel evaluation metric, without the {@code eval_} prefix, that ranks checkpoints
     *     and drives early stopping ({@code metric_for_best_model}); null means the task's {@link
     *     Task#primaryMetric()}; default null
     * @param greaterIsBetter whether a larger metricForBestModel is better ({@code greater_is_better}); null
     *     decides by {@link #greaterIsBetter(Task)}; default null
     * @param loadBestModelAtEnd after training, put the best checkpoint's weights back into the model
     *     ({@code load_best_model_at_end}); default false
     * @param earlyStoppingPatience stop after this many evaluations without improvement of
     *     metricForBestModel by more than the threshold; 0 never stops early ({@code
     *     early_stopping_patience}); default 0
     * @param earlyStoppingThreshold least improvement that resets the patience ({@code
     *     early_stopping_threshold}); default 0.0
     */
    @API(status = STABLE, since = "0.1")
    public record Evaluation(EvalStrategy evalStrategy, int evalSteps, boolean evalOnStart, String metricForBestModel,
            Boolean greaterIsBetter, boolean loadBestModelAtEnd, int earlyStoppingPatience,
            double earlyStoppingThreshold) {
        /** Validates ranges and drops an {@code eval_} prefix; messages name the setting. */
        public Evaluation {
            if (evalStrategy == null) {
                throw new ConfigurationException("evalStrategy must be set (NO, STEPS or EPOCH)");
            }
            nonNegative("evalSteps", evalSteps);
            if (evalSteps > 0 && evalStrategy != EvalStrategy.STEPS) {
                throw new ConfigurationException("evalSteps is " + evalSteps + " but evalStrategy is " + evalStrategy
                        + "; evalSteps counts only under evalStrategy STEPS: set that, or evalSteps 0");
            }
            if (metricForBestModel != null) {
                if (metricForBestModel.isBlank()) {
                    throw new ConfigurationException("metricForBestModel must name an evaluation metric (e.g. loss or"
                            + " accuracy), or be null for the task's primary metric");
                }
                if (metricForBestModel.startsWith("eval_")) {
                    metricForBestModel = metricForBestModel.substring(5);
                }
            }
            nonNegative("earlyStoppingPatience", earlyStoppingPatience);
            nonNegative("earlyStoppingThreshold", earlyStoppingThreshold);
            if (earlyStoppingPatience > 0 && evalStrategy == EvalStrategy.NO) {
                throw new ConfigurationException("earlyStoppingPatience needs evaluations: set evalStrategy to EPOCH"
                        + " or STEPS");
            }
            if (earlyStoppingThreshold > 0 && earlyStoppingPatience == 0) {
                throw new ConfigurationException("earlyStoppingThreshold is " + earlyStoppingThreshold
                        + " but earlyStoppingPatience is 0 (early stopping is off); set a patience, or threshold 0");
            }
        }

        /**
         * @param task the task being trained
         * @return metricForBestModel, or the task's {@link Task#primaryMetric()} when unset
         */
        public String metricForBestModel(Task task) {
            return metricForBestModel != null ? metricForBestModel : task.primaryMetric();
        }

        /**
         * @param task the task being trained
         * @return greaterIsBetter when set; else the task's {@link Task#greaterIsBetter()} when the metric
         *     is the task's primary one; else false for a name ending in {@code loss}, true otherwise
         */
        public boolean greaterIsBetter(Task task) {
            if (greaterIsBetter != null) {
                return greaterIsBetter;
            }
            if (metricForBestModel == null || metricForBestModel.equals(task.primaryMetric())) {
                return task.greaterIsBetter();
            }
            return !metricForBestModel.endsWith("loss");
        }
    }

    /**
     * Checkpoints and resuming.
     *
     * @param saveSteps steps between checkpoints in outputDir/checkpoint-N; 0 saves none ({@code save_steps};
     *     HuggingFace's default is 500); default 0
     * @param saveOnEpochEnd also write a checkpoint at the end of every epoch ({@code save_strategy=epoch}
     *     next to {@code save_steps}); default false
     * @param saveTotalLimit checkpoints kept: older ones are deleted, the best one never; 0 keeps all
     *     ({@code save_total_limit}); default 0
     * @param resumeFromCheckpoint checkpoint folder (outputDir/checkpoint-N) to continue from: weights,
     *     optimizer, schedule, random and data position; null starts afresh ({@code
     *     resume_from_checkpoint}); default null
     * @param overwriteOutputDir write into an outputDir that already holds files Attune did not write (a
     *     project's {@code src/}, notes): its other entries are left as they are ({@code
     *     overwrite_output_dir}); default false, which refuses such a folder before training starts
     */
    @API(status = STABLE, since = "0.1")
    public record Saving(int saveSteps, boolean saveOnEpochEnd, int saveTotalLimit, Path resumeFromCheckpoint,
            boolean overwriteOutputDir) {
        /** Validates ranges; messages name the setting. */
        public Saving {
            nonNegative("saveSteps", saveSteps);
            nonNegative("saveTotalLimit", saveTotalLimit);
        }
    }

    /**
     * The log, TensorBoard and the console progress bar.
     *
     * @param loggingSteps optimizer steps between log records ({@code logging_steps}); default 500
     * @param tensorboard write TensorBoard event files to outputDir/runs ({@code report_to=tensorboard}); default true
     * @param disableTqdm true: no console progress bar; false: a bar on standard error; null: a bar only
     *     when standard error is a terminal ({@code disable_tqdm}); default null
     */
    @API(status = STABLE, since = "0.1")
    public record Logging(int loggingSteps, boolean tensorboard, Boolean disableTqdm) {
        /** Validates ranges; messages name the setting. */
        public Logging {
            positive("loggingSteps", loggingSteps);
        }
    }

    /**
     * Transfer learning on layer groups found from the parameters' HuggingFace names.
     *
     * @param freezeEmbeddings hold the embedding tables fixed; default false
     * @param freezeLayers hold the first N transformer layers (and the embeddings) fixed; default 0
     * @param trainHeadOnly train only the task head, the pretrained body fixed (feature extraction); default false
     * @param layerwiseLrDecay layer-wise learning-rate decay: the head trains at the full rate, each layer
     *     below at this factor times the one above, the embeddings lowest; 1 disables; default 1.0
     * @param gradualUnfreezing ULMFiT gradual unfreezing: epoch 1 trains the head only, each later epoch
     *     unfreezes one more layer group from the top; default false
     */
    @API(status = STABLE, since = "0.1")
    public record TransferLearning(boolean freezeEmbeddings, int freezeLayers, boolean trainHeadOnly,
            double layerwiseLrDecay, boolean gradualUnfreezing) {
        /** Validates ranges; messages name the setting. */
        public TransferLearning {
            nonNegative("freezeLayers", freezeLayers);
            if (!(layerwiseLrDecay > 0 && layerwiseLrDecay <= 1)) {
                throw new ConfigurationException("layerwiseLrDecay must be in (0, 1], got " + layerwiseLrDecay);
            }
        }
    }

    /** When the trainer evaluates, as HuggingFace's {@code eval_strategy}. */
    @API(status = STABLE, since = "0.1")
    public enum EvalStrategy {
        /** Never during training. */
        NO,
        /** Every {@code eval_steps} optimizer steps (and at the end). */
        STEPS,
        /** At the end of every epoch. */
        EPOCH;

        /**
         * @param name {@code no}, {@code steps} or {@code epoch} (any case)
         * @return the strategy
         * @throws ConfigurationException naming the accepted values
         */
        public static EvalStrategy parse(String name) {
            try {
                return valueOf(name.trim().toUpperCase(Locale.ROOT));
            } catch (IllegalArgumentException e) {
                throw new ConfigurationException("evalStrategy must be no, steps or epoch, not '" + name + "'");
            }
        }
    }

    /** Learning-rate schedules, named as HuggingFace's {@code lr_scheduler_type}. */
    @API(status = STABLE, since = "0.1")
    public enum SchedulerType {
        /** Linear warmup, then linear decay to 0 at the last step. */
        LINEAR,
        /** Linear warmup, then half a cosine wave down to 0. */
        COSINE,
        /** The same rate throughout (warmup ignored, as HuggingFace's {@code constant}). */
        CONSTANT,
        /** Linear warmup, then constant. */
        CONSTANT_WITH_WARMUP,
        /**
         * Linear warmup, then {@code numCycles} cosine waves each falling from the peak to 0 and jumping
         * back up (SGDR warm restarts; HuggingFace's {@code cosine_with_restarts}).
         */
        COSINE_WITH_RESTARTS,
        /**
         * Linear warmup, then polynomial decay {@code (1 - progress)^power} from the peak down to a final
         * rate (HuggingFace's {@code polynomial}, whose default end rate is 1e-7 and power 1).
         */
        POLYNOMIAL,
        /**
         * ULMFiT's slanted triangular rate (Howard and Ruder, 2018): a short linear rise over the warmup
         * steps (10% of the run when no warmup is set) from peak/32 to the peak, then a long linear fall
         * back to peak/32.
         */
        SLANTED_TRIANGULAR;

        /** Ratio of the peak to the lowest rate of {@link #SLANTED_TRIANGULAR} (the paper's value). */
        public static final double SLANTED_RATIO = 32;
        /** Rise fraction of {@link #SLANTED_TRIANGULAR} when no warmup is set (the paper's cut_frac). */
        public static final double SLANTED_CUT_FRACTION = 0.1;

        /**
         * @param name {@code linear}, {@code cosine}, {@code cosine_with_restarts}, {@code polynomial},
         *     {@code constant}, {@code constant_with_warmup} or {@code slanted_triangular}
         * @return the type
         */
        public static SchedulerType parse(String name) {
            try {
                return valueOf(name.trim().toUpperCase(java.util.Locale.ROOT).replace('-', '_'));
            } catch (IllegalArgumentException e) {
                throw new dev.attune.error.ConfigurationException("unknown lr scheduler '" + name + "'; use linear, cosine, "
                        + "cosine_with_restarts, polynomial, constant, constant_with_warmup or slanted_triangular");
            }
        }

        /**
         * The multiplier of the base learning rate for the update that follows {@code step} completed
         * updates, exactly as HuggingFace's {@code get_scheduler} lambdas compute it (one cosine cycle,
         * polynomial power 1 down to 0).
         *
         * @param step completed optimizer steps (0 for the first update)
         * @param warmup warmup steps
         * @param total total optimizer steps
         * @return the factor
         */
        public double factor(long step, long warmup, long total) {
            return factor(step, warmup, total, 1, 1.0, 0.0);
        }

        /**
         * The multiplier of the base learning rate for the update that follows {@code step} completed
         * updates.
         *
         * @param step completed optimizer steps (0 for the first update)
         * @param warmup warmup steps
         * @param total total optimizer steps
         * @param numCycles cosine waves of {@link #COSINE_WITH_RESTARTS} ({@code num_cycles})
         * @param power exponent of {@link #POLYNOMIAL} ({@code power})
         * @param endFactor final rate of {@link #POLYNOMIAL} as a fraction of the peak ({@code lr_end / lr})
         * @return the factor
         */
        public double factor(long step, long warmup, long total, double numCycles, double power, double endFactor) {
            if (this == CONSTANT) {
                return 1.0;
            }
            if (this == SLANTED_TRIANGULAR) {
                long cut = warmup > 0 ? warmup : Math.max(1, (long) Math.floor(total * SLANTED_CUT_FRACTION));
                double p = step < cut
                        ? (double) step / cut
                        : Math.max(0.0, 1.0 - (double) (step - cut) / Math.max(1, total - cut));
                return (1 + p * (SLANTED_RATIO - 1)) / SLANTED_RATIO;
            }
            if (step < warmup) {
                return (double) step / Math.max(1, warmup);
            }
            double progress = (double) (step - warmup) / Math.max(1, total - warmup);
            return switch (this) {
                case LINEAR -> Math.max(0.0, (double) (total - step) / Math.max(1, total - warmup));
                case COSINE -> Math.max(0.0, 0.5 * (1.0 + Math.cos(Math.PI * progress)));
                case COSINE_WITH_RESTARTS -> progress >= 1.0
                        ? 0.0
                        : Math.max(0.0, 0.5 * (1.0 + Math.cos(Math.PI * ((numCycles * progress) % 1.0))));
                case POLYNOMIAL -> step > total
                        ? endFactor
                        : (1 - endFactor) * Math.pow(1 - progress, power) + endFactor;
                default -> 1.0;
            };
        }
    }

    /** Builds a {@link TrainingConfig}; every setter is named after its setting and returns this builder. */
    @API(status = STABLE, since = "0.1")
    public static final class Builder {
        private Path outputDir = null;
        private long seed = 42;
        private double learningRate = 5e-5;
        private double weightDecay = 0.0;
        private double adamBeta1 = 0.9;
        private double adamBeta2 = 0.999;
        private double adamEpsilon = 1e-8;
        private double maxGradNorm = 1.0;
        private double numTrainEpochs = 3.0;
        private long maxSteps = -1;
        private SchedulerType lrSchedulerType = SchedulerType.LINEAR;
        private long warmupSteps = 0;
        private double warmupRatio = 0.0;
        private double lrNumCycles = 1.0;
        private double lrPower = 1.0;
        private double lrEnd = 1e-7;
        private int perDeviceTrainBatchSize = 8;
        private int perDeviceEvalBatchSize = 32;
        private int gradientAccumulationSteps = 1;
        private int maxLength = 128;
        private boolean padToMaxLength = false;
        private boolean shuffle = true;
        private boolean groupByLength = false;
        private boolean gradientCheckpointing = false;
        private boolean autoFindBatchSize = false;
        private EvalStrategy evalStrategy = EvalStrategy.EPOCH;
        private int evalSteps = 0;
        private boolean evalOnStart = false;
        private String metricForBestModel = null;
        private Boolean greaterIsBetter = null;
        private boolean loadBestModelAtEnd = false;
        private int earlyStoppingPatience = 0;
        private double earlyStoppingThreshold = 0.0;
        private int saveSteps = 0;
        private boolean saveOnEpochEnd = false;
        private int saveTotalLimit = 0;
        private Path resumeFromCheckpoint = null;
        private boolean overwriteOutputDir = false;
        private int loggingSteps = 500;
        private boolean tensorboard = true;
        private Boolean disableTqdm = null;
        private boolean freezeEmbeddings = false;
        private int freezeLayers = 0;
        private boolean trainHeadOnly = false;
        private double layerwiseLrDecay = 1.0;
        private boolean gradualUnfreezing = false;
        private final List<TrainerCallback> callbacks = new ArrayList<>();
        private final Set<Class<? extends TrainerCallback>> withoutDefaults = new LinkedHashSet<>();
        private LoraConfig peft = null;
        private DType mixedPrecision = DType.FLOAT32;

        private Builder() {}

        private Builder(TrainingConfig c) {
            outputDir = c.outputDir();
            seed = c.seed();
            Optimization o = c.optimization();
            learningRate = o.learningRate();
            weightDecay = o.weightDecay();
            adamBeta1 = o.adamBeta1();
            adamBeta2 = o.adamBeta2();
            adamEpsilon = o.adamEpsilon();
            maxGradNorm = o.maxGradNorm();
            Schedule s = c.schedule();
            numTrainEpochs = s.numTrainEpochs();
            maxSteps = s.maxSteps();
            lrSchedulerType = s.lrSchedulerType();
            warmupSteps = s.warmupSteps();
            warmupRatio = s.warmupRatio();
            lrNumCycles = s.lrNumCycles();
            lrPower = s.lrPower();
            lrEnd = s.lrEnd();
            Batching b = c.batching();
            perDeviceTrainBatchSize = b.perDeviceTrainBatchSize();
            perDeviceEvalBatchSize = b.perDeviceEvalBatchSize();
            gradientAccumulationSteps = b.gradientAccumulationSteps();
            maxLength = b.maxLength();
            padToMaxLength = b.padToMaxLength();
            shuffle = b.shuffle();
            groupByLength = b.groupByLength();
            Evaluation e = c.evaluation();
            evalStrategy = e.evalStrategy();
            evalSteps = e.evalSteps();
            evalOnStart = e.evalOnStart();
            metricForBestModel = e.metricForBestModel();
            greaterIsBetter = e.greaterIsBetter();
            loadBestModelAtEnd = e.loadBestModelAtEnd();
            earlyStoppingPatience = e.earlyStoppingPatience();
            earlyStoppingThreshold = e.earlyStoppingThreshold();
            Saving v = c.saving();
            saveSteps = v.saveSteps();
            saveOnEpochEnd = v.saveOnEpochEnd();
            saveTotalLimit = v.saveTotalLimit();
            resumeFromCheckpoint = v.resumeFromCheckpoint();
            overwriteOutputDir = v.overwriteOutputDir();
            Logging l = c.logging();
            loggingSteps = l.loggingSteps();
            tensorboard = l.tensorboard();
            disableTqdm = l.disableTqdm();
            TransferLearning t = c.transferLearning();
            freezeEmbeddings = t.freezeEmbeddings();
            freezeLayers = t.freezeLayers();
            trainHeadOnly = t.trainHeadOnly();
            layerwiseLrDecay = t.layerwiseLrDecay();
            gradualUnfreezing = t.gradualUnfreezing();
            callbacks.addAll(c.callbacks());
            withoutDefaults.addAll(c.withoutDefaults());
            peft = c.peft();
            mixedPrecision = c.mixedPrecision();
            gradientCheckpointing = c.gradientCheckpointing();
            autoFindBatchSize = c.autoFindBatchSize();
        }

        /**
         * @param value BFLOAT16 ({@code --bf16}) or FLOAT16 ({@code --fp16}, with dynamic loss scaling)
         *     mixed precision; FLOAT32 (the default) turns it off
         * @return this builder
         */
        public Builder mixedPrecision(DType value) {
            mixedPrecision = value;
            return this;
        }

        /**
         * @param value recompute each layer in the backward pass instead of keeping its activations
         *     ({@code gradient_checkpointing}); see {@link Memory}
         * @return this builder
         */
        @API(status = EXPERIMENTAL, since = "0.2")
        public Builder gradientCheckpointing(boolean value) {
            gradientCheckpointing = value;
            return this;
        }

        /**
         * @param value on running out of memory, retry the step's examples in passes of half the size
         *     ({@code auto_find_batch_size}); see {@link Memory}
         * @return this builder
         */
        @API(status = EXPERIMENTAL, since = "0.2")
        public Builder autoFindBatchSize(boolean value) {
            autoFindBatchSize = value;
            return this;
        }

        /**
         * @param value a LoRA adapter to train beside the frozen model; null trains every parameter
         * @return this builder
         */
        public Builder peft(LoraConfig value) {
            peft = value;
            return this;
        }

        /**
         * @param value folder for logs, checkpoints, plots and the model card; null writes nothing
         * @return this builder
         */
        public Builder outputDir(Path value) {
            outputDir = value;
            return this;
        }

        /**
         * @param value seed for head initialisation, dropout and shuffling ({@code seed})
         * @return this builder
         */
        public Builder seed(long value) {
            seed = value;
            return this;
        }

        /**
         * @param value peak learning rate ({@code learning_rate})
         * @return this builder
         */
        public Builder learningRate(double value) {
            learningRate = value;
            return this;
        }

        /**
         * @param value AdamW decoupled weight decay, not applied to biases and LayerNorm ({@code weight_decay})
         * @return this builder
         */
        public Builder weightDecay(double value) {
            weightDecay = value;
            return this;
        }

        /**
         * @param value AdamW beta1 ({@code adam_beta1})
         * @return this builder
         */
        public Builder adamBeta1(double value) {
            adamBeta1 = value;
            return this;
        }

        /**
         * @param value AdamW beta2 ({@code adam_beta2})
         * @return this builder
         */
        public Builder adamBeta2(double value) {
            adamBeta2 = value;
            return this;
        }

        /**
         * @param value AdamW epsilon ({@code adam_epsilon})
         * @return this builder
         */
        public Builder adamEpsilon(double value) {
            adamEpsilon = value;
            return this;
        }

        /**
         * @param value global gradient-norm clip; 0 disables ({@code max_grad_norm})
         * @return this builder
         */
        public Builder maxGradNorm(double value) {
            maxGradNorm = value;
            return this;
        }

        /**
         * @param value epochs ({@code num_train_epochs}); a fraction stops part-way
         * @return this builder
         */
        public Builder numTrainEpochs(double value) {
            numTrainEpochs = value;
            return this;
        }

        /**
         * @param value optimizer steps; overrides epochs when positive ({@code max_steps})
         * @return this builder
         */
        public Builder maxSteps(long value) {
            maxSteps = value;
            return this;
        }

        /**
         * @param value learning-rate schedule ({@code lr_scheduler_type})
         * @return this builder
         */
        public Builder lrSchedulerType(SchedulerType value) {
            lrSchedulerType = value;
            return this;
        }

        /**
         * @param value linear warmup steps ({@code warmup_steps}); set this or warmupRatio
         * @return this builder
         */
        public Builder warmupSteps(long value) {
            warmupSteps = value;
            return this;
        }

        /**
         * @param value warmup as a fraction of all steps, rounded up ({@code warmup_ratio}); set this or warmupSteps
         * @return this builder
         */
        public Builder warmupRatio(double value) {
            warmupRatio = value;
            return this;
        }

        /**
         * @param value cosine waves of {@link SchedulerType#COSINE_WITH_RESTARTS} ({@code num_cycles})
         * @return this builder
         */
        public Builder lrNumCycles(double value) {
            lrNumCycles = value;
            return this;
        }

        /**
         * @param value power of {@link SchedulerType#POLYNOMIAL} ({@code power})
         * @return this builder
         */
        public Builder lrPower(double value) {
            lrPower = value;
            return this;
        }

        /**
         * @param value final learning rate of {@link SchedulerType#POLYNOMIAL} ({@code lr_end})
         * @return this builder
         */
        public Builder lrEnd(double value) {
            lrEnd = value;
            return this;
        }

        /**
         * @param value examples per forward pass ({@code per_device_train_batch_size})
         * @return this builder
         */
        public Builder perDeviceTrainBatchSize(int value) {
            perDeviceTrainBatchSize = value;
            return this;
        }

        /**
         * @param value examples per evaluation batch ({@code per_device_eval_batch_size}; HuggingFace's default is 8)
         * @return this builder
         */
        public Builder perDeviceEvalBatchSize(int value) {
            perDeviceEvalBatchSize = value;
            return this;
        }

        /**
         * @param value forward passes per optimizer step ({@code gradient_accumulation_steps})
         * @return this builder
         */
        public Builder gradientAccumulationSteps(int value) {
            gradientAccumulationSteps = value;
            return this;
        }

        /**
         * @param value tokens per example after truncation (a tokenizer setting in HuggingFace)
         * @return this builder
         */
        public Builder maxLength(int value) {
            maxLength = value;
            return this;
        }

        /**
         * @param value pad every batch to maxLength instead of to its longest example
         * @return this builder
         */
        public Builder padToMaxLength(boolean value) {
            padToMaxLength = value;
            return this;
        }

        /**
         * @param value shuffle training data each epoch; false keeps file order
         * @return this builder
         */
        public Builder shuffle(boolean value) {
            shuffle = value;
            return this;
        }

        /**
         * @param value batch examples of similar length together ({@code group_by_length})
         * @return this builder
         */
        public Builder groupByLength(boolean value) {
            groupByLength = value;
            return this;
        }

        /**
         * @param value when to evaluate ({@code eval_strategy}; HuggingFace's default is no)
         * @return this builder
         */
        public Builder evalStrategy(EvalStrategy value) {
            evalStrategy = value;
            return this;
        }

        /**
         * @param value steps between evaluations under {@link EvalStrategy#STEPS}; 0 means loggingSteps ({@code eval_steps})
         * @return this builder
         */
        public Builder evalSteps(int value) {
            evalSteps = value;
            return this;
        }

        /**
         * @param value evaluate once before the first step, to show where fine-tuning starts from ({@code eval_on_start})
         * @return this builder
         */
        public Builder evalOnStart(boolean value) {
            evalOnStart = value;
            return this;
        }

        /**
         * @param value evaluation metric, with or without the {@code eval_} prefix, that ranks checkpoints and
         *     drives early stopping ({@code metric_for_best_model}); null for the task's primary metric
         * @return this builder
         */
        public Builder metricForBestModel(String value) {
            metricForBestModel = value;
            return this;
        }

        /**
         * @param value whether a larger metricForBestModel is better ({@code greater_is_better}); unset, the
         *     task's direction for its primary metric, else false for names ending in {@code loss}
         * @return this builder
         */
        public Builder greaterIsBetter(boolean value) {
            greaterIsBetter = value;
            return this;
        }

        /**
         * @param value after training, put the best checkpoint's weights back into the model ({@code load_best_model_at_end})
         * @return this builder
         */
        public Builder loadBestModelAtEnd(boolean value) {
            loadBestModelAtEnd = value;
            return this;
        }

        /**
         * @param value stop after this many evaluations without improvement; 0 never stops early ({@code early_stopping_patience})
         * @return this builder
         */
        public Builder earlyStoppingPatience(int value) {
            earlyStoppingPatience = value;
            return this;
        }

        /**
         * @param value least improvement that resets the patience ({@code early_stopping_threshold})
         * @return this builder
         */
        public Builder earlyStoppingThreshold(double value) {
            earlyStoppingThreshold = value;
            return this;
        }

        /**
         * @param value steps between checkpoints in outputDir/checkpoint-N; 0 saves none ({@code save_steps})
         * @return this builder
         */
        public Builder saveSteps(int value) {
            saveSteps = value;
            return this;
        }

        /**
         * @param value also write a checkpoint at the end of every epoch
         * @return this builder
         */
        public Builder saveOnEpochEnd(boolean value) {
            saveOnEpochEnd = value;
            return this;
        }

        /**
         * @param value checkpoints kept (the best one too); 0 keeps all ({@code save_total_limit})
         * @return this builder
         */
        public Builder saveTotalLimit(int value) {
            saveTotalLimit = value;
            return this;
        }

        /**
         * @param value checkpoint folder to continue from; null starts afresh ({@code resume_from_checkpoint})
         * @return this builder
         */
        public Builder resumeFromCheckpoint(Path value) {
            resumeFromCheckpoint = value;
            return this;
        }

        /**
         * @param value write into an outputDir holding files Attune did not write, leaving them as they
         *     are ({@code overwrite_output_dir}); false refuses such a folder
         * @return this builder
         */
        public Builder overwriteOutputDir(boolean value) {
            overwriteOutputDir = value;
            return this;
        }

        /**
         * @param value optimizer steps between log records ({@code logging_steps})
         * @return this builder
         */
        public Builder loggingSteps(int value) {
            loggingSteps = value;
            return this;
        }

        /**
         * @param value write TensorBoard event files to outputDir/runs ({@code report_to=tensorboard})
         * @return this builder
         */
        public Builder tensorboard(boolean value) {
            tensorboard = value;
            return this;
        }

        /**
         * @param value true: no console progress bar; false: a bar even when standard error is not a
         *     terminal ({@code disable_tqdm}); unset, a bar only on a terminal
         * @return this builder
         */
        public Builder disableTqdm(boolean value) {
            disableTqdm = value;
            return this;
        }

        /**
         * @param value hold the embedding tables fixed
         * @return this builder
         */
        public Builder freezeEmbeddings(boolean value) {
            freezeEmbeddings = value;
            return this;
        }

        /**
         * @param value hold the first N transformer layers (and the embeddings) fixed
         * @return this builder
         */
        public Builder freezeLayers(int value) {
            freezeLayers = value;
            return this;
        }

        /**
         * @param value train only the task head, the pretrained body fixed (feature extraction)
         * @return this builder
         */
        public Builder trainHeadOnly(boolean value) {
            trainHeadOnly = value;
            return this;
        }

        /**
         * @param value layer-wise learning-rate decay factor per layer going down from the head; 1 disables
         * @return this builder
         */
        public Builder layerwiseLrDecay(double value) {
            layerwiseLrDecay = value;
            return this;
        }

        /**
         * @param value ULMFiT gradual unfreezing: one more layer group per epoch from the top
         * @return this builder
         */
        public Builder gradualUnfreezing(boolean value) {
            gradualUnfreezing = value;
            return this;
        }

        /**
         * Adds callbacks to every run of the config: after the built-in ones, in the order given; one of
         * the same class as a built-in callback takes its place instead (to configure it differently).
         *
         * @param values the callbacks
         * @return this builder
         */
        public Builder callbacks(TrainerCallback... values) {
            for (TrainerCallback c : values) {
                callbacks.add(Objects.requireNonNull(c, "callback"));
            }
            return this;
        }

        /**
         * Leaves a built-in callback out of the run, e.g. {@code withoutDefault(ProgressBarCallback.class)}
         * (package {@code dev.attune.core.train.callbacks}). Leaving out {@code DefaultFlowCallback} leaves
         * logging and evaluation to the config's own callbacks; a class that is no built-in one is refused
         * when the run starts.
         *
         * @param type the built-in callback's class
         * @return this builder
         */
        public Builder withoutDefault(Class<? extends TrainerCallback> type) {
            withoutDefaults.add(Objects.requireNonNull(type, "type"));
            return this;
        }

        /** @return the validated config */
        public TrainingConfig build() {
            return new TrainingConfig(outputDir, seed,
                    new Optimization(learningRate, weightDecay, adamBeta1, adamBeta2, adamEpsilon, maxGradNorm),
                    new Schedule(numTrainEpochs, maxSteps, lrSchedulerType, warmupSteps, warmupRatio, lrNumCycles,
                            lrPower, lrEnd),
                    new Batching(perDeviceTrainBatchSize, perDeviceEvalBatchSize, gradientAccumulationSteps, maxLength,
                            padToMaxLength, shuffle, groupByLength),
                    new Evaluation(evalStrategy, evalSteps, evalOnStart, metricForBestModel, greaterIsBetter,
                            loadBestModelAtEnd, earlyStoppingPatience, earlyStoppingThreshold),
                    new Saving(saveSteps, saveOnEpochEnd, saveTotalLimit, resumeFromCheckpoint, overwriteOutputDir),
                    new Logging(loggingSteps, tensorboard, disableTqdm),
                    new TransferLearning(freezeEmbeddings, freezeLayers, trainHeadOnly, layerwiseLrDecay,
                            gradualUnfreezing),
                    callbacks, withoutDefaults, peft, mixedPrecision, new Memory(gradientCheckpointing, autoFindBatchSize));
        }
    }

    /**
     * A LoRA adapter (PEFT's {@code LoraConfig}, same option names and defaults): low-rank matrices
     * {@code A [r, in]} and {@code B [out, r]} beside each chosen linear layer, whose output gains
     * {@code scaling * B A dropout(x)}; the model's own weights stay fixed and only the adapter and
     * {@link #modulesToSave} train. Saved as a PEFT adapter folder ({@code adapter_config.json},
     * {@code adapter_model.safetensors}) that Python's {@code peft.PeftModel.from_pretrained} loads.
     *
     * <pre>{@code
     * LoraConfig lora = LoraConfig.builder().r(8).loraAlpha(16).loraDropout(0.1)
     *         .targetModules("query", "value").build();
     * attune.fineTune(base, task, train, eval, config.withPeft(lora));
     * }</pre>
     *
     * @param r rank of the update ({@code r}); default 8; must be > 0
     * @param loraAlpha scale numerator ({@code lora_alpha}): the update is scaled by {@code alpha / r}
     *     (or {@code alpha / sqrt(r)} with {@code useRslora}); default 8
     * @param loraDropout dropout on the adapter's input while training ({@code lora_dropout}); default 0
     * @param targetModules which linear layers get an adapter ({@code target_modules}), by HuggingFace
     *     module name: a module is chosen when its name is an entry or ends with {@code "." + entry};
     *     the single entry {@code all-linear} chooses every linear layer except the output layer; empty
     *     (the default) takes PEFT's default for the model type ({@code query,value} for BERT)
     * @param targetModulesRegex instead of {@code targetModules}: a regular expression that a module's
     *     whole name must match (PEFT's string form of {@code target_modules}); default null
     * @param modulesToSave modules that train in full and are saved with the adapter ({@code
     *     modules_to_save}); null (the default) takes the task's new head (a classifier, as PEFT does
     *     for {@code SEQ_CLS}); empty trains none
     * @param useRslora rank-stabilised scaling {@code alpha / sqrt(r)} ({@code use_rslora}); default false
     * @param bias which biases train ({@code bias}); only {@code none} is supported
     * @param initLoraWeights PEFT's initialisation ({@code init_lora_weights}): A Kaiming-uniform, B zero,
     *     so training starts from the model unchanged; false draws B randomly too (for tests); default true
     * @param adapter a PEFT adapter folder to continue training from: its {@code adapter_config.json}
     *     gives r, alpha, the targets, the modules to save and the scaling (the fields above other than
     *     {@code loraDropout} are then ignored) and its weights the start; default null (a new adapter)
     */
    @API(status = API.Status.EXPERIMENTAL, since = "0.2")
    public record LoraConfig(int r, double loraAlpha, double loraDropout, List<String> targetModules,
            String targetModulesRegex, List<String> modulesToSave, boolean useRslora, String bias,
            boolean initLoraWeights, Path adapter) {
        /** The {@code target_modules} entry that chooses every linear layer but the output layer. */
        public static final String ALL_LINEAR = "all-linear";

        /** Validates, as PEFT does before it touches a model; messages name the option and the fix. */
        public LoraConfig {
            if (r <= 0) {
                throw new ConfigurationException("LoRA r must be > 0, got " + r + "; use a rank such as 8 (--lora-r)");
            }
            if (!(loraAlpha > 0)) {
                throw new ConfigurationException("LoRA lora_alpha must be > 0, got " + loraAlpha + "; PEFT's default is 8"
                        + " (--lora-alpha)");
            }
            if (!(loraDropout >= 0 && loraDropout < 1)) {
                throw new ConfigurationException("LoRA lora_dropout must be in [0, 1), got " + loraDropout
                        + " (--lora-dropout)");
            }
            targetModules = targetModules == null ? List.of() : List.copyOf(targetModules);
            for (String t : targetModules) {
                if (t.isBlank()) {
                    throw new ConfigurationException("LoRA target_modules has an empty entry: " + targetModules
                            + "; name modules such as query,value or all-linear (--lora-target-modules)");
                }
            }
            if (targetModulesRegex != null && !targetModules.isEmpty()) {
                throw new ConfigurationException("LoRA target_modules is either a list of names or one regular"
                        + " expression, not both: " + targetModules + " and '" + targetModulesRegex + "'");
            }
            if (targetModulesRegex != null) {
                try {
                    java.util.regex.Pattern.compile(targetModulesRegex);
                } catch (java.util.regex.PatternSyntaxException e) {
                    throw new ConfigurationException("LoRA target_modules regular expression '" + targetModulesRegex
                            + "' does not compile: " + e.getDescription() + "; fix the expression");
                }
            }
            modulesToSave = modulesToSave == null ? null : List.copyOf(modulesToSave);
            bias = bias == null ? "none" : bias;
            if (!bias.equals("none")) {
                throw new ConfigurationException("LoRA bias '" + bias + "' is not supported: only 'none' (biases stay"
                        + " fixed, as PEFT's default); train biases with a full fine-tune");
            }
        }

        /** @return the factor of the update: {@code alpha / r}, or {@code alpha / sqrt(r)} with rsLoRA */
        public double scaling() {
            return useRslora ? loraAlpha / Math.sqrt(r) : loraAlpha / r;
        }

        /** @return a builder with PEFT's defaults */
        public static Builder builder() {
            return new Builder();
        }

        /** @return a builder starting from this config */
        public Builder toBuilder() {
            Builder b = new Builder();
            b.r = r;
            b.loraAlpha = loraAlpha;
            b.loraDropout = loraDropout;
            b.targetModules = targetModules;
            b.targetModulesRegex = targetModulesRegex;
            b.modulesToSave = modulesToSave;
            b.useRslora = useRslora;
            b.bias = bias;
            b.initLoraWeights = initLoraWeights;
            b.adapter = adapter;
            return b;
        }

        /** Builds a {@link LoraConfig}; setters carry PEFT's option names in camel case. */
        @API(status = API.Status.EXPERIMENTAL, since = "0.2")
        public static final class Builder {
            private int r = 8;
            private double loraAlpha = 8;
            private double loraDropout = 0;
            private List<String> targetModules = List.of();
            private String targetModulesRegex;
            private List<String> modulesToSave;
            private boolean useRslora;
            private String bias = "none";
            private boolean initLoraWeights = true;
            private Path adapter;

            private Builder() {}

            /**
             * @param value rank ({@code r})
             * @return this builder
             */
            public Builder r(int value) {
                r = value;
                return this;
            }

            /**
             * @param value {@code lora_alpha}
             * @return this builder
             */
            public Builder loraAlpha(double value) {
                loraAlpha = value;
                return this;
            }

            /**
             * @param value {@code lora_dropout}
             * @return this builder
             */
            public Builder loraDropout(double value) {
                loraDropout = value;
                return this;
            }

            /**
             * @param values module names or suffixes, or {@code all-linear} ({@code target_modules})
             * @return this builder
             */
            public Builder targetModules(String... values) {
                return targetModules(List.of(values));
            }

            /**
             * @param values module names or suffixes, or {@code all-linear} ({@code target_modules})
             * @return this builder
             */
            public Builder targetModules(List<String> values) {
                targetModules = values == null ? List.of() : values;
                targetModulesRegex = null;
                return this;
            }

            /**
             * @param value a regular expression a module's whole name must match ({@code target_modules} as a string)
             * @return this builder
             */
            public Builder targetModulesRegex(String value) {
                targetModulesRegex = value;
                targetModules = List.of();
                return this;
            }

            /**
             * @param values modules trained in full and saved with the adapter; null: the task's head
             * @return this builder
             */
            public Builder modulesToSave(List<String> values) {
                modulesToSave = values;
                return this;
            }

            /**
             * @param value {@code use_rslora}
             * @return this builder
             */
            public Builder useRslora(boolean value) {
                useRslora = value;
                return this;
            }

            /**
             * @param value {@code bias} (only {@code none})
             * @return this builder
             */
            public Builder bias(String value) {
                bias = value;
                return this;
            }

            /**
             * @param value {@code init_lora_weights}
             * @return this builder
             */
            public Builder initLoraWeights(boolean value) {
                initLoraWeights = value;
                return this;
            }

            /**
             * @param value a PEFT adapter folder to continue training from (its settings win)
             * @return this builder
             */
            public Builder adapter(Path value) {
                adapter = value;
                return this;
            }

            /** @return the validated config */
            public LoraConfig build() {
                return new LoraConfig(r, loraAlpha, loraDropout, targetModules, targetModulesRegex, modulesToSave,
                        useRslora, bias, initLoraWeights, adapter);
            }
        }
    }
}
