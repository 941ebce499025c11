package dev.attune.core.train;

import dev.attune.train.EvalStrategy;
import dev.attune.train.Trainer;
import dev.attune.train.TrainingConfig;
import dev.attune.train.TrainingControl;
import dev.attune.train.TrainingResult;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.attune.model.FineTunedModel;
import dev.attune.engine.Batch;
import dev.attune.engine.TrainingSession;
import dev.attune.error.AttuneException;
import dev.attune.error.ConfigurationException;
import dev.attune.error.InvalidCheckpointException;
import dev.attune.error.InvalidDataException;
import dev.attune.error.TrainingStoppedException;
import dev.attune.core.train.Checkpoints;
import dev.attune.core.train.LayerGroups;
import dev.attune.core.train.TensorBoardWriter;
import dev.attune.ops.Parameter;
import com.fasterxml.jackson.databind.JsonNode;
import dev.attune.core.Collator;
import dev.attune.task.Dataset;
import dev.attune.task.Features;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashSet;
import java.util.Optional;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.function.DoubleSupplier;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The training loop with HuggingFace Trainer semantics, on any engine: seeded shuffling each epoch
 * (optionally grouped by length), gradient accumulation, AdamW ({@link AdamW}, written once for every engine)
 * with global-norm clipping, a warmup-then-decay schedule, evaluation per epoch or every N steps,
 * early stopping, a JSONL log, TensorBoard event files and a console progress bar with throughput and
 * ETA. Freezing, layer-wise learning-rate decay and gradual unfreezing work on layer groups found from
 * the parameters' HuggingFace names.
 *
 * <p>Checkpoints ({@code outputDir/checkpoint-N}, every {@code saveSteps} and optionally at each
 * epoch end) hold the model, the optimizer's moments and step count, and the trainer's state: step,
 * epoch, position in the epoch's batches, the shuffling generator, metrics and the best checkpoint.
 * Dropout is reseeded from the run's seed and the position before every forward pass, so a run
 * resumed from a checkpoint ({@code resumeFromCheckpoint}) takes exactly the steps the uninterrupted
 * run would have taken: on CPU its final weights are the same bit for bit. Checkpoints are written
 * aside and renamed into place, so a crash never leaves one that looks complete but is not. A {@link
 * TrainingControl} stops a run from another thread after its current step, with a checkpoint there,
 * and hears every record of its log.
 */
public final class DefaultTrainer implements Trainer {
    private static final Logger LOG = LoggerFactory.getLogger(DefaultTrainer.class);
    private static final ObjectMapper JSON = new ObjectMapper();
    /** File in the output folder that receives one JSON record per logging step and evaluation. */
    public static final String LOG_FILE = "trainer_log.jsonl";
    /** Folder in the output folder that receives TensorBoard event files. */
    public static final String TENSORBOARD_DIR = "runs";
    /** Name prefix of the checkpoint folders in the output folder ({@code checkpoint-<step>}). */
    public static final String CHECKPOINT_PREFIX = "checkpoint-";

    /**
     * @param name an entry of an output folder
     * @return whether a training run writes it (its log, TensorBoard folder or a checkpoint), which
     *     {@link dev.attune.model.FineTunedModel#save} keeps when it saves into the same folder
     */
    public static boolean isRunFile(String name) {
        return name.equals(LOG_FILE) || name.equals(TENSORBOARD_DIR) || name.startsWith(CHECKPOINT_PREFIX);
    }

    private final TrainingConfig config;
    private final TrainingControl control;

    /** @param config training settings */
    public DefaultTrainer(TrainingConfig config) {
        this(config, new TrainingControl());
    }

    /**
     * @param config training settings
     * @param control stops the run from another thread and hears its log
     */
    public DefaultTrainer(TrainingConfig config, TrainingControl control) {
        this.config = java.util.Objects.requireNonNull(config, "config");
        this.control = java.util.Objects.requireNonNull(control, "control");
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
        model.task().validate(train);
        if (eval != null) {
            model.task().validate(eval);
        }
        List<Features> trainFeatures = model.encode(train, config.maxLength());
        List<Features> evalFeatures = eval == null ? List.of() : model.encode(eval, config.maxLength());
        int batchSize = config.perDeviceTrainBatchSize();
        int accumulation = config.gradientAccumulationSteps();
        long batchesPerEpoch = (trainFeatures.size() + batchSize - 1) / batchSize;
        long updatesPerEpoch = Math.max(1, batchesPerEpoch / accumulation);
        long totalSteps = config.maxSteps() > 0
                ? config.maxSteps()
                : (long) Math.ceil(config.numTrainEpochs() * updatesPerEpoch);
        long warmup = config.warmupStepsFor(totalSteps);
        int fixedLength = config.padToMaxLength() ? config.maxLength() : 0;
        Map<String, Long> padding = model.task().padding(model.tokenizer());
        Path out = config.outputDir();

        List<String> names = new ArrayList<>();
        for (Parameter p : model.lowered().definition().parameters().all()) {
            names.add(p.name());
        }
        LayerGroups groups = new LayerGroups(names);
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
        Map<String, Double> scales = config.layerwiseLrDecay() < 1
                ? groups.decayedScales(config.layerwiseLrDecay()) : Map.of();
        OptimizerSettings settings = new OptimizerSettings(config.adamBeta1(), config.adamBeta2(),
                config.adamEpsilon(), config.weightDecay(), config.maxGradNorm(), frozen, scales);

        Map<String, Object> identity = new LinkedHashMap<>();
        identity.put("train_features", trainFeatures.size());
        identity.put("batch_size", batchSize);
        identity.put("gradient_accumulation_steps", accumulation);
        identity.put("total_steps", totalSteps);
        identity.put("seed", config.seed());
        identity.put("shuffle", config.shuffle());
        identity.put("group_by_length", config.groupByLength());

        RunState run = new RunState();
        Random shuffler = new Random(config.seed());
        Path resumeFrom = config.resumeFromCheckpoint();
        JsonNode resumed = null;
        if (resumeFrom != null) {
            resumed = Checkpoints.readState(resumeFrom);
            checkSameRun(resumeFrom, resumed.path("run"), identity);
            run.load(resumed);
            shuffler = RunState.decodeRandom(resumed.path("shuffler").asText(), resumeFrom);
        }
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
        long start = System.nanoTime();
        double secondsBefore = run.trainSeconds;
        // training time so far, over every resume of the run: what checkpoints and the result carry
        DoubleSupplier clock = () -> secondsBefore + (System.nanoTime() - start) / 1e9;
        long samplesBefore = run.samples;
        int evalEvery = config.evalSteps() > 0 ? config.evalSteps() : config.loggingSteps();
        try (JsonlLog log = JsonlLog.open(out, resumeFrom == null ? -1 : run.step, control);
                Scalars tb = Scalars.open(out, config.tensorboard());
                AdamW optimizer = new AdamW(model.lowered(), settings);
                ProgressBar bar = progress(totalSteps)) {
            TrainingSession session = optimizer.session();
            if (resumeFrom != null) {
                optimizer.restore(Checkpoints.readTensors(resumeFrom, "model.safetensors"),
                        new OptimizerState(resumed.path("optimizer_steps").asLong(),
                                Checkpoints.readTensors(resumeFrom, Checkpoints.OPTIMIZER_FILE)));
                bar.stepTo(run.step);
            }
            if (config.evalOnStart() && resumeFrom == null) {
                // the starting point, for comparison; not a candidate for the best model (there is no checkpoint-0)
                evaluate(model, eval, evalFeatures, 0, run, log, tb, false);
            }
            int startBatch = run.batchInEpoch;
            while (run.step < totalSteps && !run.stop) {
                String shufflerAtEpochStart = RunState.encodeRandom(shuffler);
                List<int[]> batches = plan(shuffler, trainFeatures, batchSize);
                if (config.gradualUnfreezing()) {
                    optimizer.setFrozen(groups.lowest(groups.count() - 1 - run.epoch));
                }
                int inAccumulation = 0;
                for (int b = startBatch; b < batches.size() && run.step < totalSteps; b++) {
                    int[] indices = batches.get(b);
                    List<Features> chunk = new ArrayList<>(indices.length);
                    for (int i : indices) {
                        chunk.add(trainFeatures.get(i));
                    }
                    Batch batch = Collator.collate(chunk, padding, fixedLength);
                    // dropout draws from a generator seeded by position, so a resumed run draws the same masks
                    session.reseed(mix(config.seed(), run.microBatches));
                    run.microBatches++;
                    float loss = session.forwardBackward(batch, 1f / accumulation);
                    if (!Float.isFinite(loss)) {
                        throw nonFinite(loss, run, log);
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
                    double epochProgress = run.epoch + (double) (b + 1) / batches.size();
                    double elapsed = clock.getAsDouble();
                    double throughput = (run.samples - samplesBefore) / Math.max(1e-9, (System.nanoTime() - start) / 1e9);
                    bar.stepTo(run.step);
                    bar.setExtraMessage(String.format(java.util.Locale.ROOT, "loss %.4f  %.1f samples/s",
                            run.windowLoss / run.windowCount, throughput));
                    if (run.step % config.loggingSteps() == 0 || run.step == totalSteps) {
                        Map<String, Object> record = new LinkedHashMap<>();
                        record.put("step", run.step);
                        record.put("epoch", round(epochProgress));
                        record.put("loss", run.windowLoss / run.windowCount);
                        record.put("learning_rate", lr);
                        record.put("grad_norm", gradNorm);
                        record.put("samples_per_second", throughput);
                        record.put("elapsed_seconds", elapsed);
                        log.write(record);
                        tb.scalar("train/loss", run.windowLoss / run.windowCount, run.step);
                        tb.scalar("train/learning_rate", lr, run.step);
                        tb.scalar("train/grad_norm", gradNorm, run.step);
                        tb.scalar("train/samples_per_second", throughput, run.step);
                        run.windowLoss = 0;
                        run.windowCount = 0;
                    }
                    boolean evalNow = eval != null && config.evalStrategy() == EvalStrategy.STEPS
                            && (run.step % evalEvery == 0 || run.step == totalSteps);
                    if (evalNow) {
                        evaluate(model, eval, evalFeatures, epochProgress, run, log, tb, true);
                    }
                    if (out != null && config.saveSteps() > 0 && run.step % config.saveSteps() == 0) {
                        run.trainSeconds = clock.getAsDouble();
                        checkpoint(model, optimizer, out, run, identity, run.epoch, b + 1, shufflerAtEpochStart);
                    }
                    if (control.isStopRequested() && run.step < totalSteps) {
                        run.trainSeconds = clock.getAsDouble();
                        throw stopped(model, optimizer, out, run, identity, run.epoch, b + 1, shufflerAtEpochStart, log,
                                totalSteps);
                    }
                    if (run.stop) {
                        break;
                    }
                }
                startBatch = 0;
                run.epoch++;
                if (!run.stop && eval != null && config.evalStrategy() == EvalStrategy.EPOCH) {
                    evaluate(model, eval, evalFeatures, run.epoch, run, log, tb, true);
                }
                run.trainSeconds = clock.getAsDouble();
                if (out != null && config.saveOnEpochEnd() && !run.savedAt(run.step)) {
                    checkpoint(model, optimizer, out, run, identity, run.epoch, 0, RunState.encodeRandom(shuffler));
                }
                if (control.isStopRequested() && run.step < totalSteps && !run.stop) {
                    // the epoch's evaluation and checkpoint are done; the next epoch has not begun
                    throw stopped(model, optimizer, out, run, identity, run.epoch, 0, RunState.encodeRandom(shuffler), log,
                            totalSteps);
                }
            }
            if (config.loadBestModelAtEnd() && run.bestCheckpoint != null && out != null) {
                Path best = out.resolve(run.bestCheckpoint);
                LOG.info("loading the best checkpoint {} ({} = {})", best, config.metricForBestModel(), run.bestMetric);
                optimizer.restore(Checkpoints.readTensors(best, "model.safetensors"), optimizer.state());
            }
        }
        double seconds = clock.getAsDouble();
        run.trainSeconds = seconds;
        double epochs = (double) run.step / updatesPerEpoch;
        if (out != null) {
            Map<String, Object> summary = run.toJson(identity);
            summary.put("stopped_early", run.stop);
            summary.put("train_loss", run.lossCount == 0 ? null : run.lossSum / run.lossCount);
            Checkpoints.writeJson(out.resolve(Checkpoints.STATE_FILE), summary);
        }
        return new TrainingResult(run.step, epochs, run.lossCount == 0 ? Double.NaN : run.lossSum / run.lossCount,
                seconds, run.samples / seconds, run.lastEval, run.history);
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

    private AttuneException nonFinite(float loss, RunState run, JsonlLog log) {
        String last = run.lastCheckpoint == null
                ? "no checkpoint was written (set saveSteps to keep progress)"
                : "the last good checkpoint is " + run.lastCheckpoint + " (resume from it with a lower learning rate)";
        String message = "training loss became " + loss + " at step " + (run.step + 1) + " (epoch " + (run.epoch + 1)
                + "); training stopped and the model was not updated with it. " + last
                + "; lower the learning rate, raise maxGradNorm's effect or check the data";
        Map<String, Object> record = new LinkedHashMap<>();
        record.put("step", run.step);
        record.put("error", message);
        log.write(record);
        return new AttuneException(message);
    }

    /**
     * Ends the run on a stop request: a checkpoint at the current position (unless one was just written
     * there), a {@code stopped} record in the log, and the exception that says where the progress is.
     */
    private TrainingStoppedException stopped(FineTunedModel model, AdamW optimizer, Path out,
            RunState run, Map<String, Object> identity, int epoch, int batchInEpoch, String shuffler, JsonlLog log,
            long totalSteps) {
        Path saved = null;
        if (out != null && run.step > 0 && (control.checkpointsOnStop() || run.savedAt(run.step))) {
            if (!run.savedAt(run.step)) {
                checkpoint(model, optimizer, out, run, identity, epoch, batchInEpoch, shuffler);
            }
            saved = run.lastCheckpoint;
        }
        String reason = control.stopReason();
        Map<String, Object> record = new LinkedHashMap<>();
        record.put("step", run.step);
        record.put("stopped", reason);
        record.put("checkpoint", saved == null ? null : saved.toString());
        log.write(record);
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

    private void checkpoint(FineTunedModel model, AdamW optimizer, Path out, RunState run,
            Map<String, Object> identity, int epoch, int batchInEpoch, String shuffler) {
        String name = Checkpoints.folder(out, run.step).getFileName().toString();
        if (run.lastEvalStep == run.step && run.lastMetric != null
                && (run.bestMetric == null || better(run.lastMetric, run.bestMetric, 0))) {
            run.bestMetric = run.lastMetric;
            run.bestCheckpoint = name;
        }
        Map<String, Object> state = run.toJson(identity);
        state.put("epoch", epoch);
        state.put("batch_in_epoch", batchInEpoch);
        state.put("shuffler", shuffler);
        Checkpoints.write(Checkpoints.folder(out, run.step), model, optimizer.state(), state);
        run.lastCheckpoint = Checkpoints.folder(out, run.step);
        run.savedStep = run.step;
        Checkpoints.rotate(out, config.saveTotalLimit(), run.bestCheckpoint);
    }

    private boolean better(double candidate, double reference, double threshold) {
        return config.greaterIsBetter() ? candidate > reference + threshold : candidate < reference - threshold;
    }

    private static void checkSameRun(Path checkpoint, JsonNode saved, Map<String, Object> now) {
        for (Map.Entry<String, Object> e : now.entrySet()) {
            JsonNode v = saved.get(e.getKey());
            if (v == null || !v.asText().equals(String.valueOf(e.getValue()))) {
                throw new InvalidCheckpointException(checkpoint.resolve(Checkpoints.STATE_FILE) + ": the checkpoint was "
                        + "written with " + e.getKey() + " = " + (v == null ? "(missing)" : v.asText()) + " but this run has "
                        + e.getValue() + "; resume with the same data and settings, or start a new run in another folder");
            }
        }
    }

    private void evaluate(FineTunedModel model, Dataset eval, List<Features> features, double epoch, RunState run,
            JsonlLog log, Scalars tb, boolean candidate) {
        Map<String, Double> metrics = model.evaluate(eval, features, config.perDeviceEvalBatchSize());
        Map<String, Double> entry = new LinkedHashMap<>();
        entry.put("step", (double) run.step);
        entry.put("epoch", round(epoch));
        metrics.forEach((k, v) -> entry.put("eval_" + k, v));
        run.history.add(entry);
        Map<String, Object> record = new LinkedHashMap<>(entry);
        record.put("step", run.step); // a whole number in the log, as in the training records
        log.write(record);
        for (Map.Entry<String, Double> e : metrics.entrySet()) {
            tb.scalar("eval/" + e.getKey(), e.getValue(), run.step);
        }
        LOG.info("eval at step {}: {}", run.step, metrics);
        if (!candidate) {
            return;
        }
        run.lastEval = metrics;
        Double value = metrics.get(config.metricForBestModel());
        if (value == null) {
            if (config.earlyStoppingPatience() > 0 || config.loadBestModelAtEnd()) {
                throw new ConfigurationException("metricForBestModel '" + config.metricForBestModel()
                        + "' is not among the evaluation metrics " + metrics.keySet() + "; choose one of them");
            }
            return;
        }
        run.lastMetric = value;
        run.lastEvalStep = run.step;
        if (run.patienceBest == null || better(value, run.patienceBest, config.earlyStoppingThreshold())) {
            run.patienceBest = value;
            run.evalsWithoutImprovement = 0;
        } else {
            run.evalsWithoutImprovement++;
        }
        if (config.earlyStoppingPatience() > 0 && run.evalsWithoutImprovement >= config.earlyStoppingPatience()) {
            LOG.info("early stopping at step {}: {} has not improved on {} for {} evaluations", run.step,
                    config.metricForBestModel(), run.patienceBest, run.evalsWithoutImprovement);
            run.stop = true;
        }
    }

    private static double round(double v) {
        return Math.round(v * 1e4) / 1e4;
    }

    private ProgressBar progress(long total) {
        ProgressBarBuilder builder = new ProgressBarBuilder()
                .setTaskName("train")
                .setInitialMax(total)
                .setUnit(" steps", 1)
                .setStyle(ProgressBarStyle.ASCII)
                .setUpdateIntervalMillis(500)
                .continuousUpdate();
        if (config.disableTqdm()) {
            builder.setConsumer(new me.tongfei.progressbar.DelegatingProgressBarConsumer(line -> { }));
        }
        return builder.build();
    }

    /** TensorBoard scalars under outputDir/runs, or nowhere. */
    private static final class Scalars implements AutoCloseable {
        private final TensorBoardWriter writer;

        private Scalars(TensorBoardWriter writer) {
            this.writer = writer;
        }

        static Scalars open(Path dir, boolean enabled) {
            if (dir == null || !enabled) {
                return new Scalars(null);
            }
            try {
                return new Scalars(TensorBoardWriter.create(dir.resolve(TENSORBOARD_DIR)));
            } catch (IOException e) {
                throw new AttuneException("cannot create a TensorBoard event file in " + dir.resolve(TENSORBOARD_DIR)
                        + ": " + e.getMessage() + "; check permissions or disable tensorboard", e);
            }
        }

        void scalar(String tag, double value, long step) {
            if (writer == null) {
                return;
            }
            try {
                writer.scalar(tag, value, step);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }

        @Override
        public void close() {
            if (writer != null) {
                try {
                    writer.close();
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            }
        }
    }

    /** Appends JSON lines to the output folder's log, or nowhere. */
    private static final class JsonlLog implements AutoCloseable {
        private final BufferedWriter out;
        private final TrainingControl control;

        private JsonlLog(BufferedWriter out, TrainingControl control) {
            this.out = out;
            this.control = control;
        }

        /**
         * @param dir output folder, or null for no log
         * @param resumedStep on resume, the checkpoint's step: records after it (written by the run that
         *     was interrupted) are dropped and new ones appended; -1 starts a new log
         * @param control whose listeners hear every record
         */
        static JsonlLog open(Path dir, long resumedStep, TrainingControl control) {
            if (dir == null) {
                return new JsonlLog(null, control);
            }
            try {
                Files.createDirectories(dir);
                Path file = dir.resolve(LOG_FILE);
                if (resumedStep >= 0 && Files.exists(file)) {
                    List<String> kept = new ArrayList<>();
                    for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
                        try {
                            JsonNode n = JSON.readTree(line);
                            if (n.path("step").asDouble() <= resumedStep && !n.has("error")) {
                                kept.add(line);
                            }
                        } catch (IOException torn) {
                            // a line cut by the crash; drop it
                        }
                    }
                    Checkpoints.writeText(file, kept.isEmpty() ? "" : String.join("\n", kept) + "\n");
                    return new JsonlLog(Files.newBufferedWriter(file, StandardCharsets.UTF_8,
                            StandardOpenOption.CREATE, StandardOpenOption.APPEND, StandardOpenOption.WRITE), control);
                }
                return new JsonlLog(Files.newBufferedWriter(file, StandardCharsets.UTF_8,
                        StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.WRITE), control);
            } catch (IOException e) {
                throw new AttuneException("cannot write the training log in " + dir + ": " + e.getMessage(), e);
            }
        }

        void write(Map<String, Object> record) {
            if (out != null) {
                try {
                    out.write(JSON.writeValueAsString(record));
                    out.newLine();
                    out.flush();
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            }
            control.publish(record);
        }

        @Override
        public void close() {
            if (out != null) {
                try {
                    out.close();
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            }
        }
    }
}
