package dev.attune.core.train;
import org.apiguardian.api.API;

import dev.attune.core.internal.OutputFolder;

import dev.attune.core.Collator;
import dev.attune.core.lora.LoraDefinition;
import dev.attune.core.train.callbacks.ModelCardCallback;
import dev.attune.core.train.callbacks.PlotsCallback;
import dev.attune.engine.Batch;
import dev.attune.engine.LoweredModel;
import dev.attune.engine.TrainingSession;
import dev.attune.error.AttuneException;
import dev.attune.error.ConfigurationException;
import dev.attune.error.EngineException;
import dev.attune.error.InvalidCheckpointException;
import dev.attune.error.InvalidDataException;
import dev.attune.error.TrainingStoppedException;
import dev.attune.model.FineTunedModel;
import dev.attune.ops.DType;
import dev.attune.ops.Parameter;
import dev.attune.ops.TensorData;
import dev.attune.task.Dataset;
import dev.attune.task.Features;
import dev.attune.train.Trainer;
import dev.attune.train.TrainerCallback;
import dev.attune.train.TrainerState;
import dev.attune.train.TrainingConfig;
import dev.attune.train.TrainingConfig.EvalStrategy;
import dev.attune.train.TrainingControl;
import dev.attune.train.Trainer.TrainingResult;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Random;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The training loop with HuggingFace Trainer semantics, on any engine: seeded shuffling each epoch
 * (optionally grouped by length), gradient accumulation, AdamW with global-norm clipping, a
 * warmup-then-decay schedule, evaluation, checkpoints and the best model. Freezing, layer-wise
 * learning-rate decay and gradual unfreezing work on layer groups found from the parameters'
 * HuggingFace names.
 *
 * <p>Everything around the loop is a {@link TrainerCallback} (package {@code
 * dev.attune.core.train.callbacks}): when to log, evaluate and save, the JSONL log, TensorBoard, the
 * progress bar, early stopping, checkpoint rotation, plots and the model card; the config removes or
 * adds callbacks. The loop acts on the flags they set ({@link TrainerCallback.Control}) and keeps
 * the {@link TrainerState}: it logs, evaluates and writes checkpoints (tracking the best one by
 * {@code metricForBestModel}), and stops where a callback says.
 *
 * <p>Checkpoints ({@code outputDir/checkpoint-N}) hold the model, the optimizer's moments and step
 * count, and the trainer state: step, epoch, position in the epoch's batches, the shuffling
 * generator, metrics and the best checkpoint. Dropout is reseeded from the run's seed and the
 * position before every forward pass, so a run resumed from a checkpoint ({@code
 * resumeFromCheckpoint}) takes exactly the steps the uninterrupted run would have taken: on CPU its
 * final weights are the same bit for bit. Checkpoints are written aside and renamed into place, so a
 * crash never leaves one that looks complete but is not. A {@link TrainingControl} stops a run from
 * another thread after its current step, with a checkpoint there, and hears every record of its log.
 */
@API(status = API.Status.INTERNAL, since = "0.1")
public final class DefaultTrainer implements Trainer {
    private static final Logger LOG = LoggerFactory.getLogger(DefaultTrainer.class);
    /** File in the output folder that receives one JSON record per logging step and evaluation. */
    public static final String LOG_FILE = "trainer_log.jsonl";
    /** Folder in the output folder that receives TensorBoard event files. */
    public static final String TENSORBOARD_DIR = "runs";
    /** Name prefix of the checkpoint folders in the output folder ({@code checkpoint-<step>}). */
    public static final String CHECKPOINT_PREFIX = "checkpoint-";
    private static final Set<String> RUN_FILES = Set.of(LOG_FILE, TENSORBOARD_DIR, ModelCardCallback.FILE,
            PlotsCallback.TRAIN_LOSS, PlotsCallback.EVAL_METRICS);

    /**
     * @param name an entry of an output folder
     * @return whether a training run writes it (its log, TensorBoard folder, checkpoints, plots or model
     *     card), which {@link dev.attune.model.FineTunedModel#save} keeps when it saves into the same folder
     */
    public static boolean isRunFile(String name) {
        return RUN_FILES.contains(name) || name.startsWith(CHECKPOINT_PREFIX);
    }

    private final TrainingConfig config;
    private final TrainingControl control;

    /** @param config training settings, with the callbacks they add or remove */
    public DefaultTrainer(TrainingConfig config) {
        this(config, new TrainingControl());
    }

    /**
     * @param config training settings, with the callbacks they add or remove
     * @param control stops the run from another thread and hears its log
     */
    public DefaultTrainer(TrainingConfig config, TrainingControl control) {
        this.config = Objects.requireNonNull(config, "config");
        this.control = Objects.requireNonNull(control, "control");
    }

    /**
     * @param config training settings
     * @return the callbacks a run of them calls, in order: new built-in ones less those the config
     *     leaves out, and the config's own
     */
    public static List<TrainerCallback> callbacks(TrainingConfig config) {
        return CallbackHandler.forRun(config);
    }

    @Override
    public TrainingResult train(FineTunedModel model, Dataset train, Dataset eval) {
        if (train.size() == 0) {
            throw new InvalidDataException(train.source() + ": the training set is empty; nothing to train on");
        }
        if (eval != null && eval.size() == 0) {
            throw new InvalidDataException(eval.source() + ": the evaluation set is empty, so no metric could be "
                    + "computed; pass a file with rows, or no evaluation set");
        }
        if (eval == null && config.evalOnStart()) {
            throw new ConfigurationException("evalOnStart needs evaluation data: pass an eval dataset (--eval) or"
                    + " turn evalOnStart off");
        }
        if (eval == null && config.evalStrategy() == EvalStrategy.STEPS) {
            throw new ConfigurationException("evalStrategy STEPS needs evaluation data: pass an eval dataset (--eval)"
                    + " or set evalStrategy to NO");
        }
        // before anything is written there: a folder of the user's is refused, not filled with run files
        OutputFolder.check(config.outputDir(), config.overwriteOutputDir(), "TrainingConfig.overwriteOutputDir");
        List<TrainerCallback> callbacks = CallbackHandler.forRun(config);
        model.task().validate(train);
        if (eval != null) {
            model.task().validate(eval);
        }
        return new Run(model, train, eval, callbacks).train();
    }

    /**
     * @param outputDir a run's output folder
     * @return its newest complete checkpoint ({@code checkpoint-N} with the highest N), if any
     */
    public static Optional<Path> latestCheckpoint(Path outputDir) {
        return Checkpoints.latest(outputDir);
    }

    /** Splits the training set into this epoch's batches: shuffled, optionally grouped by length. */
    List<int[]> plan(Random shuffler, List<Features> features, int batchSize) {
        List<Integer> order = new ArrayList<>(features.size());
        for (int i = 0; i < features.size(); i++) {
            order.add(i);
        }
        if (config.shuffle()) {
            Collections.shuffle(order, shuffler);
        }
        if (config.groupByLength()) {
            // sort within mega-batches of 50 batches, longest first, so each batch holds similar lengths
            // yet the epoch stays random; then shuffle the batches themselves
            int mega = batchSize * 50;
            for (int from = 0; from < order.size(); from += mega) {
                order.subList(from, Math.min(order.size(), from + mega))
                        .sort(Comparator.comparingInt((Integer i) -> features.get(i).length()).reversed());
            }
        }
        List<int[]> batches = new ArrayList<>();
        for (int from = 0; from < order.size(); from += batchSize) {
            List<Integer> part = order.subList(from, Math.min(order.size(), from + batchSize));
            batches.add(part.stream().mapToInt(Integer::intValue).toArray());
        }
        if (config.groupByLength() && config.shuffle()) {
            Collections.shuffle(batches, shuffler);
        }
        return batches;
    }

    /** SplitMix64 of the run's seed and a counter: independent-looking seeds for consecutive passes. */
    static long mix(long seed, long counter) {
        long z = seed + (counter + 1) * 0x9E3779B97F4A7C15L;
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return (z ^ (z >>> 31)) & Long.MAX_VALUE;
    }

    private static double round(double v) {
        return Math.round(v * 1e4) / 1e4;
    }

    private static void checkSameRun(Path checkpoint, Map<String, Object> saved, Map<String, Object> now) {
        if (saved != null && saved.containsKey("mixed_precision") && !now.containsKey("mixed_precision")) {
            throw new InvalidCheckpointException(checkpoint.resolve(Checkpoints.STATE_FILE) + ": the checkpoint was "
                    + "written with mixed_precision = " + saved.get("mixed_precision") + " but this run trains in float32;"
                    + " resume with the same precision (--bf16 / --fp16, TrainingConfig.mixedPrecision)");
        }
        for (Map.Entry<String, Object> e : now.entrySet()) {
            Object v = saved == null ? null : saved.get(e.getKey());
            if (v == null || !String.valueOf(v).equals(String.valueOf(e.getValue()))) {
                throw new InvalidCheckpointException(checkpoint.resolve(Checkpoints.STATE_FILE) + ": the checkpoint was "
                        + "written with " + e.getKey() + " = " + (v == null ? "(missing)" : v) + " but this run has "
                        + e.getValue() + "; resume with the same data and settings, or start a new run in another folder");
            }
        }
    }

    /**
     * A checkpoint's position must lie within the run it claims to be part of: a tampered or corrupt
     * trainer_state.json (a negative step or batch, a best checkpoint outside the output folder) is a
     * message naming the key, never an index error or a read of another folder.
     */
    static void checkPosition(Path checkpoint, TrainerState s, long totalSteps, int batchesPerEpoch) {
        Path file = checkpoint.resolve(Checkpoints.STATE_FILE);
        Map<String, Long> counts = new LinkedHashMap<>();
        counts.put("global_step", s.globalStep());
        counts.put("epoch", (long) s.epoch());
        counts.put("batch_in_epoch", (long) s.batchInEpoch());
        counts.put("micro_batches", s.microBatches());
        counts.put("samples", s.samples());
        counts.put("loss_count", s.lossCount());
        counts.put("window_count", s.windowCount());
        counts.put("evals_without_improvement", (long) s.evalsWithoutImprovement());
        counts.put("optimizer_steps", s.optimizerSteps() == null ? 0L : s.optimizerSteps());
        for (Map.Entry<String, Long> e : counts.entrySet()) {
            if (e.getValue() < 0) {
                throw new InvalidCheckpointException(file + ": '" + e.getKey() + "' is " + e.getValue()
                        + ", a position cannot be negative; the file was changed or is corrupt: resume from another"
                        + " checkpoint");
            }
        }
        if (s.globalStep() > totalSteps || s.batchInEpoch() > batchesPerEpoch) {
            throw new InvalidCheckpointException(file + ": position step " + s.globalStep() + ", batch "
                    + s.batchInEpoch() + " lies beyond this run's " + totalSteps + " steps of " + batchesPerEpoch
                    + " batches per epoch; resume with the settings the checkpoint was written with");
        }
        if (s.bestModelCheckpoint() != null && !s.bestModelCheckpoint().matches(
                java.util.regex.Pattern.quote(CHECKPOINT_PREFIX) + "\\d+")) {
            throw new InvalidCheckpointException(file + ": 'best_model_checkpoint' must name a checkpoint-N folder of"
                    + " the output folder, not '" + s.bestModelCheckpoint() + "'; the file was changed or is corrupt");
        }
        if (s.logHistory() == null || s.evalHistory() == null) {
            throw new InvalidCheckpointException(file + ": 'log_history' and 'eval_history' must be lists; the file was"
                    + " changed or is corrupt: resume from another checkpoint");
        }
    }

    /** One call of {@link #train}: the data, the state and the callbacks of one run. */
    private final class Run {
        private final FineTunedModel model;
        private final Dataset train;
        private final Dataset eval;
        private final List<TrainerCallback> callbacks;
        private final RunState run = new RunState();
        private final Path out = config.outputDir();
        private final String metric;
        private final boolean greaterIsBetter;
        private List<Features> trainFeatures;
        private List<Features> evalFeatures;
        private CallbackHandler handler;
        private TrainerCallback.Control flags;
        private EngineOptimizer optimizer;
        /** Forward passes per batch: 1, doubled each time autoFindBatchSize meets an out-of-memory failure. */
        private int split = 1;
        private long start;
        private double secondsBefore;

        Run(FineTunedModel model, Dataset train, Dataset eval, List<TrainerCallback> callbacks) {
            this.model = model;
            this.train = train;
            this.eval = eval;
            this.callbacks = callbacks;
            this.metric = config.metricForBestModel(model.task());
            this.greaterIsBetter = config.greaterIsBetter(model.task());
        }

        /** Tokenizes a data set; Ctrl-C, SIGTERM or {@code requestStop} ends it between examples. */
        private List<Features> encode(Dataset data) {
            LOG.info("tokenizing {} examples (max length {})", data.size(), config.maxLength());
            List<Features> features = model instanceof dev.attune.core.DefaultFineTunedModel d
                    ? d.encode(data, config.maxLength(), control::isStopRequested)
                    : model.encode(data, config.maxLength());
            if (control.isStopRequested()) {
                Path resumeFrom = config.resumeFromCheckpoint();
                throw new TrainingStoppedException(control.stopReason() + ": training stopped while tokenizing the"
                        + " data, before its first step" + (resumeFrom == null ? ""
                                : "; the run's progress is still in " + resumeFrom), run.step, resumeFrom);
            }
            return features;
        }

        /** Training time so far, over every resume of the run: what checkpoints and the result carry. */
        private double clock() {
            return secondsBefore + (System.nanoTime() - start) / 1e9;
        }

        TrainingResult train() {
            trainFeatures = encode(train);
            evalFeatures = eval == null ? List.of() : encode(eval);
            int batchSize = config.perDeviceTrainBatchSize();
            int accumulation = config.gradientAccumulationSteps();
            int batchesPerEpoch = (trainFeatures.size() + batchSize - 1) / batchSize;
            long updatesPerEpoch = Math.max(1, batchesPerEpoch / accumulation);
            long totalSteps = config.maxSteps() > 0
                    ? config.maxSteps()
                    : (long) Math.ceil(config.numTrainEpochs() * updatesPerEpoch);
            long warmup = config.warmupStepsFor(totalSteps);

            Map<String, Object> identity = new LinkedHashMap<>();
            identity.put("train_features", trainFeatures.size());
            identity.put("batch_size", batchSize);
            identity.put("gradient_accumulation_steps", accumulation);
            identity.put("total_steps", totalSteps);
            identity.put("seed", config.seed());
            identity.put("shuffle", config.shuffle());
            identity.put("group_by_length", config.groupByLength());
            if (config.mixedPrecision() != DType.FLOAT32) {
                identity.put("mixed_precision", config.mixedPrecision().name()); // absent for float32: old checkpoints match
            }

            Shuffler shuffler = new Shuffler(config.seed());
            Path resumeFrom = config.resumeFromCheckpoint();
            TrainerState resumed = null;
            if (resumeFrom != null) {
                resumed = Checkpoints.readState(resumeFrom);
                checkSameRun(resumeFrom, resumed.run(), identity);
                checkPosition(resumeFrom, resumed, totalSteps, batchesPerEpoch);
                run.load(resumed);
                shuffler = Shuffler.decode(resumed.shuffler(), resumeFrom);
            }
            run.identity = identity;
            run.maxSteps = totalSteps;
            run.batchesPerEpoch = batchesPerEpoch;
            if (out != null) {
                Checkpoints.cleanPartial(out);
            }
            LOG.info("training {} on {} examples ({} features), {} steps ({} per epoch), warmup {}, batch {} x {}{}",
                    model.lowered().definition().architecture(), train.size(), trainFeatures.size(), totalSteps,
                    updatesPerEpoch, warmup, batchSize, accumulation,
                    resumeFrom == null ? "" : ", resuming at step " + run.step + " from " + resumeFrom);
            if (control.isStopRequested()) {
                throw new TrainingStoppedException(control.stopReason() + ": training stopped before its"
                        + " first step" + (resumeFrom == null ? "" : "; the run's progress is still in " + resumeFrom),
                        run.step, resumeFrom);
            }
            start = System.nanoTime();
            secondsBefore = run.trainSeconds;
            handler = new CallbackHandler(callbacks, config, run, model, train, eval);
            flags = handler.control();
            try (EngineOptimizer opt = new EngineOptimizer(model, config)) {
                optimizer = opt;
                if (resumed != null) {
                    opt.restore(resumeFrom, resumed.optimizerSteps() == null ? 0 : resumed.optimizerSteps());
                }
                Throwable failure = null;
                try {
                    loop(shuffler, totalSteps, warmup);
                    if (config.loadBestModelAtEnd() && run.bestCheckpoint != null && out != null) {
                        Path best = out.resolve(run.bestCheckpoint);
                        LOG.info("loading the best checkpoint {} ({} = {})", best, metric, run.bestMetric);
                        opt.loadWeights(best);
                    }
                    run.trainSeconds = clock();
                    if (out != null) {
                        Checkpoints.writeText(out.resolve(Checkpoints.STATE_FILE), run.snapshot(null,
                                flags.shouldTrainingStop(), run.lossCount == 0 ? null : run.lossSum / run.lossCount)
                                .toJson() + "\n");
                    }
                    handler.onTrainEnd();
                } catch (RuntimeException | Error e) {
                    failure = e;
                    throw e;
                } finally {
                    handler.close(failure);
                }
            }
            double seconds = run.trainSeconds;
            return new TrainingResult(run.step, (double) run.step / updatesPerEpoch,
                    run.lossCount == 0 ? Double.NaN : run.lossSum / run.lossCount, seconds, run.samples / seconds,
                    run.lastEval, List.copyOf(run.history));
        }

        private void loop(Shuffler shuffler, long totalSteps, long warmup) {
            int accumulation = config.gradientAccumulationSteps();
            int fixedLength = config.padToMaxLength() ? config.maxLength() : 0;
            Map<String, Long> padding = model.task().padding(model.tokenizer());
            long samplesBefore = run.samples;
            handler.onTrainBegin();
            if (config.evalOnStart() && config.resumeFromCheckpoint() == null) {
                // the starting point, for comparison; not a candidate for the best model (there is no checkpoint-0)
                evaluate(0, false);
            }
            int startBatch = run.batchInEpoch;
            while (run.step < totalSteps && !flags.shouldTrainingStop()) {
                run.shuffler = shuffler.encode();
                List<int[]> batches = plan(shuffler, trainFeatures, config.perDeviceTrainBatchSize());
                optimizer.beginEpoch(run.epoch);
                handler.onEpochBegin();
                int inAccumulation = 0;
                int windowStart = startBatch;
                double[] counters = counters();
                for (int b = startBatch; b < batches.size() && run.step < totalSteps; b++) {
                    if (inAccumulation == 0) {
                        handler.onStepBegin();
                        windowStart = b;
                        counters = counters();
                    }
                    int[] indices = batches.get(b);
                    List<Features> chunk = new ArrayList<>(indices.length);
                    for (int i : indices) {
                        chunk.add(trainFeatures.get(i));
                    }
                    float loss;
                    try {
                        loss = passes(chunk, padding, fixedLength, accumulation);
                    } catch (EngineException.OutOfMemory e) {
                        int rows = (chunk.size() + split - 1) / split;
                        if (!config.autoFindBatchSize() || rows <= 1) {
                            throw e;
                        }
                        // the step starts again from its first batch, in passes of half the examples
                        split *= 2;
                        LOG.warn("out of memory in a forward and backward pass of {} examples; autoFindBatchSize: "
                                + "the step's batches run again in passes of {} ({})", rows, (rows + 1) / 2,
                                e.getMessage());
                        optimizer.session().clearGradients();
                        restore(counters);
                        inAccumulation = 0;
                        b = windowStart - 1;
                        continue;
                    }
                    if (!Float.isFinite(loss)) {
                        throw nonFinite(loss);
                    }
                    run.lossSum += loss;
                    run.lossCount++;
                    run.windowLoss += loss;
                    run.windowCount++;
                    run.samples += chunk.size();
                    inAccumulation++;
                    boolean lastOfEpoch = b == batches.size() - 1;
                    if (inAccumulation < accumulation && !lastOfEpoch) {
                        continue;
                    }
                    inAccumulation = 0;
                    double lr = config.learningRate() * config.lrSchedulerType().factor(run.step, warmup, totalSteps,
                            config.lrNumCycles(), config.lrPower(), config.lrEnd() / config.learningRate());
                    float gradNorm = optimizer.step(lr);
                    run.step++;
                    run.batchInEpoch = b + 1;
                    double epochProgress = run.epoch + (double) (b + 1) / batches.size();
                    handler.onStepEnd();
                    if (flags.shouldLog()) {
                        double throughput = (run.samples - samplesBefore)
                                / Math.max(1e-9, (System.nanoTime() - start) / 1e9);
                        Map<String, Object> record = new LinkedHashMap<>();
                        record.put("step", run.step);
                        record.put("epoch", round(epochProgress));
                        record.put("loss", run.windowLoss / run.windowCount);
                        record.put("learning_rate", lr);
                        record.put("grad_norm", gradNorm);
                        if (optimizer.scaler != null) {
                            record.put("loss_scale", optimizer.scaler.scale());
                        }
                        record.put("samples_per_second", throughput);
                        record.put("elapsed_seconds", clock());
                        run.windowLoss = 0;
                        run.windowCount = 0;
                        log(record);
                    }
                    actOnEvaluateAndSave(epochProgress);
                    if (control.isStopRequested() && run.step < totalSteps) {
                        throw stopped(totalSteps);
                    }
                    if (flags.shouldTrainingStop() || flags.shouldEpochStop()) {
                        break;
                    }
                }
                startBatch = 0;
                run.epoch++;
                run.batchInEpoch = 0;
                run.shuffler = shuffler.encode();
                handler.onEpochEnd();
                actOnEvaluateAndSave(run.epoch);
                if (control.isStopRequested() && run.step < totalSteps && !flags.shouldTrainingStop()) {
                    // the epoch's evaluation and checkpoint are done; the next epoch has not begun
                    throw stopped(totalSteps);
                }
            }
        }

        /**
         * One batch's forward and backward passes: one pass, or, after autoFindBatchSize met an out-of-memory
         * failure, {@code split} passes of consecutive slices whose losses are weighted by their share of
         * the batch's examples (as one pass averages them). Dropout draws from a generator seeded by the
         * pass's position, so a resumed run draws the same masks.
         *
         * @return the batch's loss
         */
        private float passes(List<Features> chunk, Map<String, Long> padding, int fixedLength, int accumulation) {
            int per = (chunk.size() + split - 1) / split;
            float loss = 0;
            for (int from = 0; from < chunk.size(); from += per) {
                List<Features> part = split == 1 ? chunk : chunk.subList(from, Math.min(chunk.size(), from + per));
                Batch batch = Collator.collate(part, padding, fixedLength, model.task()::sequenceRows);
                optimizer.session().reseed(mix(config.seed(), run.microBatches));
                run.microBatches++;
                if (split == 1) {
                    return optimizer.session().forwardBackward(batch, optimizer.lossFactor() / accumulation);
                }
                float share = (float) part.size() / chunk.size();
                loss += optimizer.session().forwardBackward(batch, optimizer.lossFactor() * share / accumulation) * share;
            }
            return loss;
        }

        /** The run's counters an accumulation window changes, to start the window again. */
        private double[] counters() {
            return new double[] {run.microBatches, run.samples, run.lossSum, run.lossCount, run.windowLoss,
                run.windowCount};
        }

        private void restore(double[] c) {
            run.microBatches = (long) c[0];
            run.samples = (long) c[1];
            run.lossSum = c[2];
            run.lossCount = (long) c[3];
            run.windowLoss = c[4];
            run.windowCount = (long) c[5];
        }

        /** Evaluates, then saves, where the callbacks asked for it (and the run has the data and the folder). */
        private void actOnEvaluateAndSave(double epoch) {
            if (flags.shouldEvaluate()) {
                flags.shouldEvaluate(false);
                if (eval != null) {
                    evaluate(epoch, true);
                } else {
                    LOG.debug("an evaluation was asked for at step {}, but the run has no evaluation data", run.step);
                }
            }
            if (flags.shouldSave()) {
                flags.shouldSave(false);
                if (out == null) {
                    LOG.debug("a checkpoint was asked for at step {}, but the run has no output folder", run.step);
                } else if (!run.savedAt(run.step)) {
                    save();
                }
            }
        }

        /** Records the log record, hands it to the callbacks, then to the control's listeners. */
        private void log(Map<String, Object> record) {
            run.addLog(record);
            handler.onLog(record);
            control.publish(record);
        }

        private void evaluate(double epoch, boolean candidate) {
            Map<String, Double> metrics = model.evaluate(eval, evalFeatures, config.perDeviceEvalBatchSize());
            Map<String, Double> entry = new LinkedHashMap<>();
            entry.put("step", (double) run.step);
            entry.put("epoch", round(epoch));
            metrics.forEach((k, v) -> entry.put("eval_" + k, v));
            run.history.add(Collections.unmodifiableMap(entry));
            Map<String, Object> record = new LinkedHashMap<>(entry);
            record.put("step", run.step); // a whole number in the log, as in the training records
            log(record);
            LOG.info("eval at step {}: {}", run.step, metrics);
            if (candidate) {
                run.lastEval = metrics;
                Double value = metrics.get(metric);
                if (value == null) {
                    if (config.earlyStoppingPatience() > 0 || config.loadBestModelAtEnd()) {
                        throw new ConfigurationException("metricForBestModel '" + metric + "'"
                                + (config.metricForBestModel() == null ? " (the task's primary metric)" : "")
                                + " is not among the evaluation metrics " + metrics.keySet() + "; choose one of them");
                    }
                } else {
                    run.lastMetric = value;
                    run.lastEvalStep = run.step;
                    if (run.patienceBest == null || better(value, run.patienceBest, config.earlyStoppingThreshold())) {
                        run.patienceBest = value;
                        run.evalsWithoutImprovement = 0;
                    } else {
                        run.evalsWithoutImprovement++;
                    }
                }
            }
            handler.onEvaluate(metrics);
        }

        private boolean better(double candidate, double reference, double threshold) {
            return greaterIsBetter ? candidate > reference + threshold : candidate < reference - threshold;
        }

        /** Writes a checkpoint of the current position, after deciding whether it is the best so far. */
        private void save() {
            Path folder = Checkpoints.folder(out, run.step);
            if (run.lastEvalStep == run.step && run.lastMetric != null
                    && (run.bestMetric == null || better(run.lastMetric, run.bestMetric, 0))) {
                run.bestMetric = run.lastMetric;
                run.bestCheckpoint = folder.getFileName().toString();
            }
            run.trainSeconds = clock();
            OptimizerState state = optimizer.state();
            Checkpoints.write(folder, model, state, run.snapshot(state.steps(), null, null));
            run.lastCheckpoint = folder;
            run.savedStep = run.step;
            handler.onSave(folder);
        }

        private AttuneException nonFinite(float loss) {
            String last = run.lastCheckpoint == null
                    ? "no checkpoint was written (set saveSteps to keep progress)"
                    : "the last good checkpoint is " + run.lastCheckpoint + " (resume from it with a lower learning rate)";
            String message = "training loss became " + loss + " at step " + (run.step + 1) + " (epoch " + (run.epoch + 1)
                    + "); training stopped and the model was not updated with it. " + last
                    + "; lower the learning rate, raise maxGradNorm's effect or check the data";
            Map<String, Object> record = new LinkedHashMap<>();
            record.put("step", run.step);
            record.put("error", message);
            log(record);
            return new AttuneException(message);
        }

        /**
         * Ends the run on a stop request: a checkpoint at the current position (unless one was just
         * written there), a {@code stopped} record in the log, and the exception that says where the
         * progress is.
         */
        private TrainingStoppedException stopped(long totalSteps) {
            Path saved = null;
            if (out != null && run.step > 0 && (control.checkpointsOnStop() || run.savedAt(run.step))) {
                if (!run.savedAt(run.step)) {
                    save();
                }
                saved = run.lastCheckpoint;
            } else {
                run.trainSeconds = clock();
            }
            String reason = control.stopReason();
            Map<String, Object> record = new LinkedHashMap<>();
            record.put("step", run.step);
            record.put("stopped", reason);
            record.put("checkpoint", saved == null ? null : saved.toString());
            log(record);
            String where = saved != null
                    ? "; its progress is in " + saved + ": resume from it (resumeFromCheckpoint, or ./attune fine-tune"
                            + " --resume with the same options)"
                    : out == null
                            ? "; the run had no output folder, so no checkpoint was written"
                            : run.step == 0 ? "; no step had been taken, so there is nothing to resume"
                                    : "; no checkpoint was written (its control turns that off)";
            String message = reason + ": training stopped after step " + run.step + " of " + totalSteps + where;
            // not logged as well: the caller gets the message in the exception (the CLI printed it twice)
            return new TrainingStoppedException(message, run.step, saved);
        }
    }

    /**
     * The optimizer, in one place: the AdamW settings built from the config (frozen groups, layer-wise
     * rates), the engine's training session that applies them, its state for checkpoints, and
     * restoring weights and moments. The loop reaches the engine's optimizer only through this class.
     */
    private static final class EngineOptimizer implements AutoCloseable {
        private final TrainingConfig config;
        private final LayerGroups groups;
        private final AdamW adamW;
        /** fp16's dynamic loss scaling; null without it. */
        private GradScaler scaler;
        private final LoweredModel lowered;
        private final DType computeBefore;

        EngineOptimizer(FineTunedModel model, TrainingConfig config) {
            this.config = config;
            List<String> names = new ArrayList<>();
            for (Parameter p : model.lowered().definition().parameters().all()) {
                names.add(p.name());
            }
            groups = new LayerGroups(names);
            Set<String> frozen = new LinkedHashSet<>();
            if (config.trainHeadOnly()) {
                frozen.addAll(groups.body());
            }
            if (config.freezeEmbeddings()) {
                frozen.addAll(groups.lowest(1));
            }
            if (config.freezeLayers() > 0) {
                frozen.addAll(groups.lowest(1 + config.freezeLayers()));
            }
            java.util.Optional<LoraDefinition> lora = LoraDefinition.find(model.lowered().definition());
            if (lora.isPresent()) {
                // parameter-efficient: the adapter and the modules to save train, everything else stays fixed
                Set<String> trainable = lora.get().adapter().trainable();
                long all = 0;
                long trained = 0;
                for (Parameter p : model.lowered().definition().parameters().all()) {
                    all += p.size();
                    if (trainable.contains(p.name())) {
                        trained += p.size();
                    } else {
                        frozen.add(p.name());
                    }
                }
                LOG.info(String.format(java.util.Locale.ROOT, "LoRA r=%d alpha=%s on %d layers; trainable params: %,d"
                        + " || all params: %,d || trainable%%: %.4f", lora.get().adapter().config().r(),
                        lora.get().adapter().config().loraAlpha(), lora.get().adapter().targets().size(), trained, all,
                        100.0 * trained / all));
            }
            Map<String, Double> scales = config.layerwiseLrDecay() < 1
                    ? groups.decayedScales(config.layerwiseLrDecay()) : Map.of();
            OptimizerSettings settings = new OptimizerSettings(config.adamBeta1(), config.adamBeta2(),
                    config.adamEpsilon(), config.weightDecay(), config.maxGradNorm(), frozen, scales);
            lowered = model.lowered();
            computeBefore = lowered.computeType();
            if (config.mixedPrecision() != DType.FLOAT32) {
                // autocast for the run's forward passes (evaluations too, as HuggingFace's Trainer); put back at close
                lowered.setComputeType(config.mixedPrecision());
            }
            scaler = config.mixedPrecision() == DType.FLOAT16 ? new GradScaler() : null;
            try {
                adamW = new AdamW(model.lowered(), settings);
            } catch (RuntimeException e) {
                lowered.setComputeType(computeBefore);
                throw e;
            }
            if (config.gradientCheckpointing()) {
                if (adamW.session().setGradientCheckpointing(true)) {
                    LOG.info("gradient checkpointing: each layer is recomputed in the backward pass");
                } else {
                    LOG.info("gradient checkpointing: this engine keeps every activation anyway; the setting has"
                            + " no effect");
                }
            }
        }

        /** @return the factor on the loss before backward: fp16's loss scale, else 1 */
        float lossFactor() {
            return scaler == null ? 1f : (float) scaler.scale();
        }

        /** @return the engine's session, for forward and backward passes */
        TrainingSession session() {
            return adamW.session();
        }

        /** Restores the weights and the optimizer's moments and step count from a checkpoint. */
        void restore(Path checkpoint, long optimizerSteps) {
            Map<String, TensorData> tensors = new LinkedHashMap<>(
                    Checkpoints.readTensors(checkpoint, Checkpoints.OPTIMIZER_FILE));
            java.util.Optional<GradScaler> saved = GradScaler.fromState(tensors);
            tensors.remove(GradScaler.SCALE_KEY);
            tensors.remove(GradScaler.GROWTH_TRACKER_KEY);
            adamW.restore(Checkpoints.readWeights(checkpoint), new OptimizerState(optimizerSteps, tensors));
            if (scaler != null && saved.isPresent()) {
                scaler = saved.get();
            }
        }

        /** Gradual unfreezing: the epoch's trainable layer groups. */
        void beginEpoch(int epoch) {
            if (config.gradualUnfreezing()) {
                adamW.setFrozen(groups.lowest(groups.count() - 1 - epoch));
            }
        }

        /** @return the gradients' global norm before clipping, after one AdamW update at this rate */
        float step(double learningRate) {
            if (scaler == null) {
                return adamW.step(learningRate);
            }
            double scale = scaler.scale();
            float norm = adamW.stepScaled(learningRate, scale);
            boolean overflow = !Float.isFinite(norm);
            scaler.update(overflow);
            if (overflow) {
                LOG.warn("fp16: the gradients overflowed (norm {}) at loss scale {}: step skipped, loss scale now {}",
                        norm, scale, scaler.scale());
            }
            return norm;
        }

        /** @return the optimizer's moments and step count (and fp16's loss scaler), for a checkpoint */
        OptimizerState state() {
            OptimizerState s = adamW.state();
            if (scaler == null) {
                return s;
            }
            Map<String, TensorData> tensors = new LinkedHashMap<>(s.tensors());
            tensors.putAll(scaler.state());
            return new OptimizerState(s.steps(), tensors);
        }

        /** Puts a checkpoint's weights back (the optimizer's state unchanged). */
        void loadWeights(Path checkpoint) {
            adamW.restore(Checkpoints.readWeights(checkpoint), adamW.state());
        }

        @Override
        public void close() {
            try {
                adamW.close();
            } finally {
                lowered.setComputeType(computeBefore);
            }
        }
    }
}
