package dev.attune.core.train;

import dev.attune.train.TrainerState;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The trainer's mutable progress. The loop changes it; callbacks and checkpoints see immutable
 * {@link TrainerState} snapshots of it.
 */
final class RunState {
    long step;
    long maxSteps;
    int epoch;
    int batchInEpoch;
    int batchesPerEpoch;
    long microBatches;
    long samples;
    double lossSum;
    long lossCount;
    double windowLoss;
    long windowCount;
    double trainSeconds;
    final List<Map<String, Object>> logHistory = new ArrayList<>();
    final List<Map<String, Double>> history = new ArrayList<>();
    Map<String, Double> lastEval = Map.of();
    Double lastMetric;
    long lastEvalStep = -1;
    Double bestMetric;
    String bestCheckpoint;
    Double patienceBest;
    int evalsWithoutImprovement;
    /** The shuffling generator's state at the start of the epoch in progress ({@link Shuffler#encode}), as checkpoints keep it. */
    String shuffler;
    Map<String, Object> identity = Map.of();
    Path lastCheckpoint;
    long savedStep = -1;
    // read-only copies of the histories, remade only when they grow (a snapshot is taken at every event)
    private List<Map<String, Object>> logHistoryView = List.of();
    private List<Map<String, Double>> historyView = List.of();

    boolean savedAt(long s) {
        return savedStep == s;
    }

    /**
     * @param optimizerSteps the optimizer's step count (in a checkpoint), or null
     * @param stoppedEarly in the final state: whether a callback stopped the run early; else null
     * @param trainLoss in the final state: the mean training loss; else null
     * @return the state as it is now
     */
    TrainerState snapshot(Long optimizerSteps, Boolean stoppedEarly, Double trainLoss) {
        if (logHistoryView.size() != logHistory.size()) {
            logHistoryView = List.copyOf(logHistory);
        }
        if (historyView.size() != history.size()) {
            historyView = List.copyOf(history);
        }
        return new TrainerState(TrainerState.FORMAT, step, maxSteps, epoch, batchInEpoch, batchesPerEpoch,
                microBatches, samples, lossSum, lossCount, windowLoss, windowCount, trainSeconds, logHistoryView,
                historyView, lastEval, lastMetric, lastEvalStep, bestMetric, bestCheckpoint, patienceBest,
                evalsWithoutImprovement, identity, shuffler, optimizerSteps, stoppedEarly, trainLoss);
    }

    /** @param s a checkpoint's state, to continue from */
    void load(TrainerState s) {
        step = s.globalStep();
        epoch = s.epoch();
        batchInEpoch = s.batchInEpoch();
        microBatches = s.microBatches();
        samples = s.samples();
        lossSum = s.lossSum();
        lossCount = s.lossCount();
        windowLoss = s.windowLoss();
        windowCount = s.windowCount();
        trainSeconds = s.trainSeconds();
        logHistory.clear();
        logHistory.addAll(s.logHistory());
        history.clear();
        history.addAll(s.evalHistory());
        lastEval = s.lastEval();
        lastMetric = s.lastMetric();
        lastEvalStep = s.lastEvalStep();
        bestMetric = s.bestMetric();
        bestCheckpoint = s.bestModelCheckpoint();
        patienceBest = s.earlyStoppingBest();
        evalsWithoutImprovement = s.evalsWithoutImprovement();
        shuffler = s.shuffler();
    }

    /** @param record a logged record, kept in the log history (null values and all) */
    void addLog(Map<String, Object> record) {
        logHistory.add(Collections.unmodifiableMap(new LinkedHashMap<>(record)));
    }
}
