package dev.attune.train;

import dev.attune.error.ConfigurationException;

/**
 * Immutable training settings. Names follow HuggingFace {@code TrainingArguments} where the meaning
 * is the same ({@code learningRate} is {@code learning_rate}, ...). Build with {@link #builder()}.
 *
 * @param outputDir folder for logs (trainer_log.jsonl) and checkpoints; null writes nothing; default null
 * @param learningRate peak learning rate ({@code learning_rate}); default 5e-5
 * @param numTrainEpochs epochs ({@code num_train_epochs}); a fraction stops part-way; default 3.0
 * @param maxSteps optimizer steps; overrides epochs when positive ({@code max_steps}); default -1
 * @param perDeviceTrainBatchSize examples per forward pass ({@code per_device_train_batch_size}); default 8
 * @param perDeviceEvalBatchSize examples per evaluation batch ({@code per_device_eval_batch_size}; HuggingFace's default is 8); default 32
 * @param gradientAccumulationSteps forward passes per optimizer step ({@code gradient_accumulation_steps}); default 1
 * @param warmupSteps linear warmup steps ({@code warmup_steps}); overrides the ratio when positive; default 0
 * @param warmupRatio warmup as a fraction of all steps, rounded up ({@code warmup_ratio}); default 0.0
 * @param weightDecay AdamW decoupled weight decay, not applied to biases and LayerNorm ({@code weight_decay}); default 0.0
 * @param adamBeta1 AdamW beta1 ({@code adam_beta1}); default 0.9
 * @param adamBeta2 AdamW beta2 ({@code adam_beta2}); default 0.999
 * @param adamEpsilon AdamW epsilon ({@code adam_epsilon}); default 1e-8
 * @param maxGradNorm global gradient-norm clip; 0 disables ({@code max_grad_norm}); default 1.0
 * @param lrSchedulerType learning-rate schedule ({@code lr_scheduler_type}); default LINEAR
 * @param loggingSteps optimizer steps between log records ({@code logging_steps}); default 500
 * @param evalStrategy when to evaluate ({@code eval_strategy}; HuggingFace's default is no); default EPOCH
 * @param evalSteps steps between evaluations under {@link EvalStrategy#STEPS}; 0 means loggingSteps ({@code eval_steps}); default 0
 * @param saveSteps steps between model snapshots in outputDir/checkpoint-N; 0 saves none ({@code save_steps}); default 0
 * @param seed seed for head initialisation, dropout and shuffling ({@code seed}); default 42
 * @param shuffle shuffle training data each epoch; false keeps file order; default true
 * @param maxLength tokens per example after truncation (a tokenizer setting in HuggingFace); default 128
 * @param padToMaxLength pad every batch to maxLength instead of to its longest example; default false
 * @param disableTqdm no console progress bar ({@code disable_tqdm}); default false
 * @param saveOnEpochEnd also write a checkpoint at the end of every epoch ({@code save_strategy=epoch} next to {@code save_steps}); default false
 * @param saveTotalLimit checkpoints kept: older ones are deleted, the best one never; 0 keeps all ({@code save_total_limit}); default 0
 * @param metricForBestModel evaluation metric, without the {@code eval_} prefix, that ranks checkpoints and drives early stopping; names containing {@code loss} are better lower, others higher ({@code metric_for_best_model}); default loss
 * @param loadBestModelAtEnd after training, put the best checkpoint's weights back into the model ({@code load_best_model_at_end}); default false
 * @param earlyStoppingPatience stop after this many evaluations without improvement of metricForBestModel by more than the threshold; 0 never stops early ({@code early_stopping_patience}); default 0
 * @param earlyStoppingThreshold least improvement that resets the patience ({@code early_stopping_threshold}); default 0.0
 * @param resumeFromCheckpoint checkpoint folder (outputDir/checkpoint-N) to continue from: weights, optimizer, schedule, random and data position; null starts afresh ({@code resume_from_checkpoint}); default null
 * @param lrNumCycles cosine waves of {@link SchedulerType#COSINE_WITH_RESTARTS} ({@code num_cycles}); default 1
 * @param lrPower power of {@link SchedulerType#POLYNOMIAL} ({@code power}); default 1
 * @param lrEnd final learning rate of {@link SchedulerType#POLYNOMIAL} ({@code lr_end}); default 1e-7
 * @param freezeEmbeddings hold the embedding tables fixed; default false
 * @param freezeLayers hold the first N transformer layers (and the embeddings) fixed; default 0
 * @param trainHeadOnly train only the task head, the pretrained body fixed (feature extraction); default false
 * @param layerwiseLrDecay layer-wise learning-rate decay: the head trains at the full rate, each layer below at this factor times the one above, the embeddings lowest; 1 disables; default 1.0
 * @param gradualUnfreezing ULMFiT gradual unfreezing: epoch 1 trains the head only, each later epoch unfreezes one more layer group from the top; default false
 * @param groupByLength batch examples of similar length together (sorted within shuffled mega-batches of 50 batches, batches then shuffled), so dynamic padding wastes little ({@code group_by_length}); default false
 * @param tensorboard write TensorBoard event files to outputDir/runs ({@code report_to=tensorboard}); default true
 * @param evalOnStart evaluate the model once before its first step (step 0), to show where fine-tuning starts from; logged and kept in the history, but not a candidate for the best model nor counted by early stopping ({@code eval_on_start}); default false
 */
public record TrainingConfig(
        java.nio.file.Path outputDir,
        double learningRate,
        double numTrainEpochs,
        long maxSteps,
        int perDeviceTrainBatchSize,
        int perDeviceEvalBatchSize,
        int gradientAccumulationSteps,
        long warmupSteps,
        double warmupRatio,
        double weightDecay,
        double adamBeta1,
        double adamBeta2,
        double adamEpsilon,
        double maxGradNorm,
        SchedulerType lrSchedulerType,
        int loggingSteps,
        EvalStrategy evalStrategy,
        int evalSteps,
        int saveSteps,
        long seed,
        boolean shuffle,
        int maxLength,
        boolean padToMaxLength,
        boolean disableTqdm,
        boolean saveOnEpochEnd,
        int saveTotalLimit,
        String metricForBestModel,
        boolean loadBestModelAtEnd,
        int earlyStoppingPatience,
        double earlyStoppingThreshold,
        java.nio.file.Path resumeFromCheckpoint,
        double lrNumCycles,
        double lrPower,
        double lrEnd,
        boolean freezeEmbeddings,
        int freezeLayers,
        boolean trainHeadOnly,
        double layerwiseLrDecay,
        boolean gradualUnfreezing,
        boolean groupByLength,
        boolean tensorboard,
        boolean evalOnStart) {

    /** Validates ranges; messages name the setting. */
    public TrainingConfig {
        positive("learningRate", learningRate);
        if (maxSteps <= 0 && numTrainEpochs <= 0) {
            throw new ConfigurationException("numTrainEpochs must be > 0 (or set maxSteps)");
        }
        positive("perDeviceTrainBatchSize", perDeviceTrainBatchSize);
        positive("perDeviceEvalBatchSize", perDeviceEvalBatchSize);
        positive("gradientAccumulationSteps", gradientAccumulationSteps);
        positive("loggingSteps", loggingSteps);
        positive("maxLength", maxLength);
        nonNegative("warmupSteps", warmupSteps);
        nonNegative("weightDecay", weightDecay);
        nonNegative("evalSteps", evalSteps);
        nonNegative("saveSteps", saveSteps);
        if (warmupRatio < 0 || warmupRatio > 1) {
            throw new ConfigurationException("warmupRatio must be in [0, 1], got " + warmupRatio);
        }
        if (adamBeta1 < 0 || adamBeta1 >= 1 || adamBeta2 < 0 || adamBeta2 >= 1) {
            throw new ConfigurationException("adam betas must be in [0, 1)");
        }
        positive("adamEpsilon", adamEpsilon);
        if (lrSchedulerType == null || evalStrategy == null) {
            throw new ConfigurationException("lrSchedulerType and evalStrategy must be set");
        }
        nonNegative("saveTotalLimit", saveTotalLimit);
        nonNegative("earlyStoppingPatience", earlyStoppingPatience);
        nonNegative("earlyStoppingThreshold", earlyStoppingThreshold);
        nonNegative("freezeLayers", freezeLayers);
        positive("lrNumCycles", lrNumCycles);
        positive("lrPower", lrPower);
        nonNegative("lrEnd", lrEnd);
        if (!(layerwiseLrDecay > 0 && layerwiseLrDecay <= 1)) {
            throw new ConfigurationException("layerwiseLrDecay must be in (0, 1], got " + layerwiseLrDecay);
        }
        if (metricForBestModel == null || metricForBestModel.isBlank()) {
            throw new ConfigurationException("metricForBestModel must name an evaluation metric, e.g. loss or accuracy");
        }
        if (metricForBestModel.startsWith("eval_")) {
            metricForBestModel = metricForBestModel.substring(5);
        }
        if (earlyStoppingPatience > 0 && evalStrategy == EvalStrategy.NO) {
            throw new ConfigurationException("earlyStoppingPatience needs evaluations: set evalStrategy to EPOCH or STEPS");
        }
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
     * @param totalSteps optimizer steps of the run
     * @return warmup steps: {@code warmupSteps} when positive, else {@code ceil(warmupRatio * total)}
     */
    public long warmupStepsFor(long totalSteps) {
        return warmupSteps > 0 ? warmupSteps : (long) Math.ceil(warmupRatio * totalSteps);
    }

    /** @return true when a larger {@link #metricForBestModel} is better (any metric not named like a loss) */
    public boolean greaterIsBetter() {
        return !metricForBestModel.contains("loss");
    }

    /** @return a builder with HuggingFace's defaults */
    public static Builder builder() {
        return new Builder();
    }

    /** @return a builder starting from this config */
    public Builder toBuilder() {
        Builder b = new Builder();
        b.outputDir = outputDir;
        b.learningRate = learningRate;
        b.numTrainEpochs = numTrainEpochs;
        b.maxSteps = maxSteps;
        b.perDeviceTrainBatchSize = perDeviceTrainBatchSize;
        b.perDeviceEvalBatchSize = perDeviceEvalBatchSize;
        b.gradientAccumulationSteps = gradientAccumulationSteps;
        b.warmupSteps = warmupSteps;
        b.warmupRatio = warmupRatio;
        b.weightDecay = weightDecay;
        b.adamBeta1 = adamBeta1;
        b.adamBeta2 = adamBeta2;
        b.adamEpsilon = adamEpsilon;
        b.maxGradNorm = maxGradNorm;
        b.lrSchedulerType = lrSchedulerType;
        b.loggingSteps = loggingSteps;
        b.evalStrategy = evalStrategy;
        b.evalSteps = evalSteps;
        b.saveSteps = saveSteps;
        b.seed = seed;
        b.shuffle = shuffle;
        b.maxLength = maxLength;
        b.padToMaxLength = padToMaxLength;
        b.disableTqdm = disableTqdm;
        b.saveOnEpochEnd = saveOnEpochEnd;
        b.saveTotalLimit = saveTotalLimit;
        b.metricForBestModel = metricForBestModel;
        b.loadBestModelAtEnd = loadBestModelAtEnd;
        b.earlyStoppingPatience = earlyStoppingPatience;
        b.earlyStoppingThreshold = earlyStoppingThreshold;
        b.resumeFromCheckpoint = resumeFromCheckpoint;
        b.lrNumCycles = lrNumCycles;
        b.lrPower = lrPower;
        b.lrEnd = lrEnd;
        b.freezeEmbeddings = freezeEmbeddings;
        b.freezeLayers = freezeLayers;
        b.trainHeadOnly = trainHeadOnly;
        b.layerwiseLrDecay = layerwiseLrDecay;
        b.gradualUnfreezing = gradualUnfreezing;
        b.groupByLength = groupByLength;
        b.tensorboard = tensorboard;
        b.evalOnStart = evalOnStart;
        return b;
    }

    /** Builds a {@link TrainingConfig}; every setter is named after its field. */
    public static final class Builder {
        private java.nio.file.Path outputDir = null;
        private double learningRate = 5e-5;
        private double numTrainEpochs = 3.0;
        private long maxSteps = -1;
        private int perDeviceTrainBatchSize = 8;
        private int perDeviceEvalBatchSize = 32;
        private int gradientAccumulationSteps = 1;
        private long warmupSteps = 0;
        private double warmupRatio = 0.0;
        private double weightDecay = 0.0;
        private double adamBeta1 = 0.9;
        private double adamBeta2 = 0.999;
        private double adamEpsilon = 1e-8;
        private double maxGradNorm = 1.0;
        private SchedulerType lrSchedulerType = SchedulerType.LINEAR;
        private int loggingSteps = 500;
        private EvalStrategy evalStrategy = EvalStrategy.EPOCH;
        private int evalSteps = 0;
        private int saveSteps = 0;
        private long seed = 42;
        private boolean shuffle = true;
        private int maxLength = 128;
        private boolean padToMaxLength = false;
        private boolean disableTqdm = false;
        private boolean saveOnEpochEnd = false;
        private int saveTotalLimit = 0;
        private String metricForBestModel = "loss";
        private boolean loadBestModelAtEnd = false;
        private int earlyStoppingPatience = 0;
        private double earlyStoppingThreshold = 0.0;
        private java.nio.file.Path resumeFromCheckpoint = null;
        private double lrNumCycles = 1.0;
        private double lrPower = 1.0;
        private double lrEnd = 1e-7;
        private boolean freezeEmbeddings = false;
        private int freezeLayers = 0;
        private boolean trainHeadOnly = false;
        private double layerwiseLrDecay = 1.0;
        private boolean gradualUnfreezing = false;
        private boolean groupByLength = false;
        private boolean tensorboard = true;
        private boolean evalOnStart = false;

        private Builder() {}

        /**
         * @param value folder for logs (trainer_log.jsonl) and checkpoints; null writes nothing
         * @return this builder
         */
        public Builder outputDir(java.nio.file.Path value) {
            this.outputDir = value;
            return this;
        }

        /**
         * @param value peak learning rate ({@code learning_rate})
         * @return this builder
         */
        public Builder learningRate(double value) {
            this.learningRate = value;
            return this;
        }

        /**
         * @param value epochs ({@code num_train_epochs}); a fraction stops part-way
         * @return this builder
         */
        public Builder numTrainEpochs(double value) {
            this.numTrainEpochs = value;
            return this;
        }

        /**
         * @param value optimizer steps; overrides epochs when positive ({@code max_steps})
         * @return this builder
         */
        public Builder maxSteps(long value) {
            this.maxSteps = value;
            return this;
        }

        /**
         * @param value examples per forward pass ({@code per_device_train_batch_size})
         * @return this builder
         */
        public Builder perDeviceTrainBatchSize(int value) {
            this.perDeviceTrainBatchSize = value;
            return this;
        }

        /**
         * @param value examples per evaluation batch ({@code per_device_eval_batch_size}; HuggingFace's default is 8)
         * @return this builder
         */
        public Builder perDeviceEvalBatchSize(int value) {
            this.perDeviceEvalBatchSize = value;
            return this;
        }

        /**
         * @param value forward passes per optimizer step ({@code gradient_accumulation_steps})
         * @return this builder
         */
        public Builder gradientAccumulationSteps(int value) {
            this.gradientAccumulationSteps = value;
            return this;
        }

        /**
         * @param value linear warmup steps ({@code warmup_steps}); overrides the ratio when positive
         * @return this builder
         */
        public Builder warmupSteps(long value) {
            this.warmupSteps = value;
            return this;
        }

        /**
         * @param value warmup as a fraction of all steps, rounded up ({@code warmup_ratio})
         * @return this builder
         */
        public Builder warmupRatio(double value) {
            this.warmupRatio = value;
            return this;
        }

        /**
         * @param value AdamW decoupled weight decay, not applied to biases and LayerNorm ({@code weight_decay})
         * @return this builder
         */
        public Builder weightDecay(double value) {
            this.weightDecay = value;
            return this;
        }

        /**
         * @param value AdamW beta1 ({@code adam_beta1})
         * @return this builder
         */
        public Builder adamBeta1(double value) {
            this.adamBeta1 = value;
            return this;
        }

        /**
         * @param value AdamW beta2 ({@code adam_beta2})
         * @return this builder
         */
        public Builder adamBeta2(double value) {
            this.adamBeta2 = value;
            return this;
        }

        /**
         * @param value AdamW epsilon ({@code adam_epsilon})
         * @return this builder
         */
        public Builder adamEpsilon(double value) {
            this.adamEpsilon = value;
            return this;
        }

        /**
         * @param value global gradient-norm clip; 0 disables ({@code max_grad_norm})
         * @return this builder
         */
        public Builder maxGradNorm(double value) {
            this.maxGradNorm = value;
            return this;
        }

        /**
         * @param value learning-rate schedule ({@code lr_scheduler_type})
         * @return this builder
         */
        public Builder lrSchedulerType(SchedulerType value) {
            this.lrSchedulerType = value;
            return this;
        }

        /**
         * @param value optimizer steps between log records ({@code logging_steps})
         * @return this builder
         */
        public Builder loggingSteps(int value) {
            this.loggingSteps = value;
            return this;
        }

        /**
         * @param value when to evaluate ({@code eval_strategy}; HuggingFace's default is no)
         * @return this builder
         */
        public Builder evalStrategy(EvalStrategy value) {
            this.evalStrategy = value;
            return this;
        }

        /**
         * @param value steps between evaluations under {@link EvalStrategy#STEPS}; 0 means loggingSteps ({@code eval_steps})
         * @return this builder
         */
        public Builder evalSteps(int value) {
            this.evalSteps = value;
            return this;
        }

        /**
         * @param value steps between model snapshots in outputDir/checkpoint-N; 0 saves none ({@code save_steps})
         * @return this builder
         */
        public Builder saveSteps(int value) {
            this.saveSteps = value;
            return this;
        }

        /**
         * @param value seed for head initialisation, dropout and shuffling ({@code seed})
         * @return this builder
         */
        public Builder seed(long value) {
            this.seed = value;
            return this;
        }

        /**
         * @param value shuffle training data each epoch; false keeps file order
         * @return this builder
         */
        public Builder shuffle(boolean value) {
            this.shuffle = value;
            return this;
        }

        /**
         * @param value tokens per example after truncation (a tokenizer setting in HuggingFace)
         * @return this builder
         */
        public Builder maxLength(int value) {
            this.maxLength = value;
            return this;
        }

        /**
         * @param value pad every batch to maxLength instead of to its longest example
         * @return this builder
         */
        public Builder padToMaxLength(boolean value) {
            this.padToMaxLength = value;
            return this;
        }

        /**
         * @param value no console progress bar ({@code disable_tqdm})
         * @return this builder
         */
        public Builder disableTqdm(boolean value) {
            this.disableTqdm = value;
            return this;
        }

        /**
         * @param value also write a checkpoint at the end of every epoch ({@code save_strategy=epoch} next to {@code save_steps})
         * @return this builder
         */
        public Builder saveOnEpochEnd(boolean value) {
            this.saveOnEpochEnd = value;
            return this;
        }

        /**
         * @param value checkpoints kept: older ones are deleted, the best one never; 0 keeps all ({@code save_total_limit})
         * @return this builder
         */
        public Builder saveTotalLimit(int value) {
            this.saveTotalLimit = value;
            return this;
        }

        /**
         * @param value evaluation metric, without the {@code eval_} prefix, that ranks checkpoints and drives early stopping; names containing {@code loss} are better lower, others higher ({@code metric_for_best_model})
         * @return this builder
         */
        public Builder metricForBestModel(String value) {
            this.metricForBestModel = value;
            return this;
        }

        /**
         * @param value after training, put the best checkpoint's weights back into the model ({@code load_best_model_at_end})
         * @return this builder
         */
        public Builder loadBestModelAtEnd(boolean value) {
            this.loadBestModelAtEnd = value;
            return this;
        }

        /**
         * @param value stop after this many evaluations without improvement of metricForBestModel by more than the threshold; 0 never stops early ({@code early_stopping_patience})
         * @return this builder
         */
        public Builder earlyStoppingPatience(int value) {
            this.earlyStoppingPatience = value;
            return this;
        }

        /**
         * @param value least improvement that resets the patience ({@code early_stopping_threshold})
         * @return this builder
         */
        public Builder earlyStoppingThreshold(double value) {
            this.earlyStoppingThreshold = value;
            return this;
        }

        /**
         * @param value checkpoint folder (outputDir/checkpoint-N) to continue from: weights, optimizer, schedule, random and data position; null starts afresh ({@code resume_from_checkpoint})
         * @return this builder
         */
        public Builder resumeFromCheckpoint(java.nio.file.Path value) {
            this.resumeFromCheckpoint = value;
            return this;
        }

        /**
         * @param value cosine waves of {@link SchedulerType#COSINE_WITH_RESTARTS} ({@code num_cycles})
         * @return this builder
         */
        public Builder lrNumCycles(double value) {
            this.lrNumCycles = value;
            return this;
        }

        /**
         * @param value power of {@link SchedulerType#POLYNOMIAL} ({@code power})
         * @return this builder
         */
        public Builder lrPower(double value) {
            this.lrPower = value;
            return this;
        }

        /**
         * @param value final learning rate of {@link SchedulerType#POLYNOMIAL} ({@code lr_end})
         * @return this builder
         */
        public Builder lrEnd(double value) {
            this.lrEnd = value;
            return this;
        }

        /**
         * @param value hold the embedding tables fixed
         * @return this builder
         */
        public Builder freezeEmbeddings(boolean value) {
            this.freezeEmbeddings = value;
            return this;
        }

        /**
         * @param value hold the first N transformer layers (and the embeddings) fixed
         * @return this builder
         */
        public Builder freezeLayers(int value) {
            this.freezeLayers = value;
            return this;
        }

        /**
         * @param value train only the task head, the pretrained body fixed (feature extraction)
         * @return this builder
         */
        public Builder trainHeadOnly(boolean value) {
            this.trainHeadOnly = value;
            return this;
        }

        /**
         * @param value layer-wise learning-rate decay: the head trains at the full rate, each layer below at this factor times the one above, the embeddings lowest; 1 disables
         * @return this builder
         */
        public Builder layerwiseLrDecay(double value) {
            this.layerwiseLrDecay = value;
            return this;
        }

        /**
         * @param value ULMFiT gradual unfreezing: epoch 1 trains the head only, each later epoch unfreezes one more layer group from the top
         * @return this builder
         */
        public Builder gradualUnfreezing(boolean value) {
            this.gradualUnfreezing = value;
            return this;
        }

        /**
         * @param value batch examples of similar length together (sorted within shuffled mega-batches of 50 batches, batches then shuffled), so dynamic padding wastes little ({@code group_by_length})
         * @return this builder
         */
        public Builder groupByLength(boolean value) {
            this.groupByLength = value;
            return this;
        }

        /**
         * @param value write TensorBoard event files to outputDir/runs ({@code report_to=tensorboard})
         * @return this builder
         */
        public Builder tensorboard(boolean value) {
            this.tensorboard = value;
            return this;
        }

        /**
         * @param value evaluate once before the first step, to show where fine-tuning starts from ({@code eval_on_start})
         * @return this builder
         */
        public Builder evalOnStart(boolean value) {
            this.evalOnStart = value;
            return this;
        }

        /** @return the validated config */
        public TrainingConfig build() {
            return new TrainingConfig(outputDir, learningRate, numTrainEpochs, maxSteps, perDeviceTrainBatchSize, perDeviceEvalBatchSize, gradientAccumulationSteps, warmupSteps, warmupRatio, weightDecay, adamBeta1, adamBeta2, adamEpsilon, maxGradNorm, lrSchedulerType, loggingSteps, evalStrategy, evalSteps, saveSteps, seed, shuffle, maxLength, padToMaxLength, disableTqdm,
                    saveOnEpochEnd, saveTotalLimit, metricForBestModel, loadBestModelAtEnd, earlyStoppingPatience, earlyStoppingThreshold, resumeFromCheckpoint, lrNumCycles, lrPower, lrEnd, freezeEmbeddings, freezeLayers, trainHeadOnly, layerwiseLrDecay, gradualUnfreezing, groupByLength, tensorboard,
                    evalOnStart);
        }
    }
}
