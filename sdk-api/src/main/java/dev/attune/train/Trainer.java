package dev.attune.train;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.attune.FineTunedModel;
import dev.attune.engine.Batch;
import dev.attune.engine.OptimizerSettings;
import dev.attune.engine.TrainingSession;
import dev.attune.error.AttuneException;
import dev.attune.error.InvalidDataException;
import dev.attune.task.Collator;
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
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The training loop with HuggingFace Trainer semantics, on any engine: seeded shuffling each epoch,
 * gradient accumulation, AdamW (the engine's update, our arithmetic) with global-norm clipping, a
 * warmup-then-decay schedule, evaluation per epoch or every N steps, a JSONL log and a console
 * progress bar with throughput and ETA.
 */
public final class Trainer {
    private static final Logger LOG = LoggerFactory.getLogger(Trainer.class);
    private static final ObjectMapper JSON = new ObjectMapper();
    /** File in the output folder that receives one JSON record per logging step and evaluation. */
    public static final String LOG_FILE = "trainer_log.jsonl";

    private final TrainingConfig config;

    /** @param config training settings */
    public Trainer(TrainingConfig config) {
        this.config = config;
    }

    /**
     * Trains the model in place.
     *
     * @param model the model (its task's labels fixed)
     * @param train training data
     * @param eval evaluation data, or null
     * @return what training did
     * @throws InvalidDataException when the training set or a given evaluation set is empty (checked
     *     before anything else is done)
     * @throws AttuneException when the loss becomes NaN or infinite
     */
    public TrainingResult train(FineTunedModel model, Dataset train, Dataset eval) {
        if (train.size() == 0) {
            throw new InvalidDataException(train.source() + ": the training set is empty; nothing to train on");
        }
        if (eval != null && eval.size() == 0) {
            throw new InvalidDataException(eval.source() + ": the evaluation set is empty, so no metric could be "
                    + "computed; pass a file with rows, or no evaluation set");
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
        LOG.info("training {} on {} examples ({} features), {} steps ({} per epoch), warmup {}, batch {} x {}",
                model.lowered().definition().architecture(), train.size(), trainFeatures.size(), totalSteps,
                updatesPerEpoch, warmup, batchSize, accumulation);

        OptimizerSettings settings = new OptimizerSettings(config.adamBeta1(), config.adamBeta2(),
                config.adamEpsilon(), config.weightDecay(), config.maxGradNorm(), Set.of());
        Random shuffler = new Random(config.seed());
        List<Integer> order = new ArrayList<>(trainFeatures.size());
        for (int i = 0; i < trainFeatures.size(); i++) {
            order.add(i);
        }
        List<Map<String, Double>> history = new ArrayList<>();
        Map<String, Double> lastEval = Map.of();
        double lossSum = 0;
        long lossCount = 0;
        double windowLoss = 0;
        long windowCount = 0;
        float lastGradNorm = 0;
        long step = 0;
        long samples = 0;
        long start = System.nanoTime();
        int evalEvery = config.evalSteps() > 0 ? config.evalSteps() : config.loggingSteps();

        try (JsonlLog log = JsonlLog.open(config.outputDir());
                TrainingSession session = model.lowered().startTraining(settings);
                ProgressBar bar = progress(totalSteps)) {
            int epoch = 0;
            while (step < totalSteps) {
                if (config.shuffle()) {
                    Collections.shuffle(order, shuffler);
                }
                int inAccumulation = 0;
                for (long b = 0; b < batchesPerEpoch && step < totalSteps; b++) {
                    int from = (int) (b * batchSize);
                    int to = Math.min(trainFeatures.size(), from + batchSize);
                    List<Features> chunk = new ArrayList<>(to - from);
                    for (int i = from; i < to; i++) {
                        chunk.add(trainFeatures.get(order.get(i)));
                    }
                    Batch batch = Collator.collate(chunk, padding, fixedLength);
                    float loss = session.forwardBackward(batch, 1f / accumulation);
                    if (!Float.isFinite(loss)) {
                        throw new AttuneException("training loss became " + loss + " at step " + (step + 1)
                                + " (epoch " + (epoch + 1) + "); lower the learning rate or check the data");
                    }
                    lossSum += loss;
                    lossCount++;
                    windowLoss += loss;
                    windowCount++;
                    samples += chunk.size();
                    inAccumulation++;
                    boolean lastOfEpoch = b == batchesPerEpoch - 1;
                    if (inAccumulation < accumulation && !lastOfEpoch) {
                        continue;
                    }
                    inAccumulation = 0;
                    double lr = config.learningRate()
                            * config.lrSchedulerType().factor(step, warmup, totalSteps);
                    lastGradNorm = session.step(lr);
                    step++;
                    double epochProgress = epoch + (double) (b + 1) / batchesPerEpoch;
                    double elapsed = (System.nanoTime() - start) / 1e9;
                    bar.stepTo(step);
                    bar.setExtraMessage(String.format(java.util.Locale.ROOT, "loss %.4f  %.1f samples/s",
                            windowLoss / windowCount, samples / elapsed));
                    if (step % config.loggingSteps() == 0 || step == totalSteps) {
                        Map<String, Object> record = new LinkedHashMap<>();
                        record.put("step", step);
                        record.put("epoch", round(epochProgress));
                        record.put("loss", windowLoss / windowCount);
                        record.put("learning_rate", lr);
                        record.put("grad_norm", lastGradNorm);
                        record.put("samples_per_second", samples / elapsed);
                        log.write(record);
                        windowLoss = 0;
                        windowCount = 0;
                    }
                    boolean evalNow = eval != null && config.evalStrategy() == EvalStrategy.STEPS
                            && (step % evalEvery == 0 || step == totalSteps);
                    if (evalNow) {
                        lastEval = evaluate(model, eval, evalFeatures, step, epochProgress, history, log);
                    }
                    if (config.saveSteps() > 0 && step % config.saveSteps() == 0 && config.outputDir() != null) {
                        model.save(config.outputDir().resolve("checkpoint-" + step));
                    }
                }
                epoch++;
                if (eval != null && config.evalStrategy() == EvalStrategy.EPOCH) {
                    lastEval = evaluate(model, eval, evalFeatures, step, epoch, history, log);
                }
            }
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        double epochs = (double) step / updatesPerEpoch;
        return new TrainingResult(step, epochs, lossCount == 0 ? Double.NaN : lossSum / lossCount, seconds,
                samples / seconds, lastEval, history);
    }

    private Map<String, Double> evaluate(FineTunedModel model, Dataset eval, List<Features> features, long step,
            double epoch, List<Map<String, Double>> history, JsonlLog log) {
        Map<String, Double> metrics = model.evaluate(eval, features, config.perDeviceEvalBatchSize());
        Map<String, Double> entry = new LinkedHashMap<>();
        entry.put("step", (double) step);
        entry.put("epoch", round(epoch));
        metrics.forEach((k, v) -> entry.put("eval_" + k, v));
        history.add(entry);
        log.write(new LinkedHashMap<>(entry));
        LOG.info("eval at step {}: {}", step, metrics);
        return metrics;
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

    /** Appends JSON lines to the output folder's log, or nowhere. */
    private static final class JsonlLog implements AutoCloseable {
        private final BufferedWriter out;

        private JsonlLog(BufferedWriter out) {
            this.out = out;
        }

        static JsonlLog open(Path dir) {
            if (dir == null) {
                return new JsonlLog(null);
            }
            try {
                Files.createDirectories(dir);
                return new JsonlLog(Files.newBufferedWriter(dir.resolve(LOG_FILE), StandardCharsets.UTF_8,
                        StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.WRITE));
            } catch (IOException e) {
                throw new AttuneException("cannot write the training log in " + dir + ": " + e.getMessage(), e);
            }
        }

        void write(Map<String, Object> record) {
            if (out == null) {
                return;
            }
            try {
                out.write(JSON.writeValueAsString(record));
                out.newLine();
                out.flush();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
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
