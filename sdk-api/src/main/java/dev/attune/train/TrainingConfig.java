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
        boolean disableTqdm) {

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

        /** @return the validated config */
        public TrainingConfig build() {
            return new TrainingConfig(outputDir, learningRate, numTrainEpochs, maxSteps, perDeviceTrainBatchSize, perDeviceEvalBatchSize, gradientAccumulationSteps, warmupSteps, warmupRatio, weightDecay, adamBeta1, adamBeta2, adamEpsilon, maxGradNorm, lrSchedulerType, loggingSteps, evalStrategy, evalSteps, saveSteps, seed, shuffle, maxLength, padToMaxLength, disableTqdm);
        }
    }
}
