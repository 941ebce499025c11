package dev.attune.core.train;

import dev.attune.error.InvalidCheckpointException;
import dev.attune.train.TrainerState;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

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
    /** The shuffling generator's state at the start of the epoch in progress (Base64), as checkpoints keep it. */
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

    /** java.util.Random is Serializable: its 48-bit state (and cached Gaussian) is the shuffling state. */
    static String encodeRandom(Random r) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (ObjectOutputStream out = new ObjectOutputStream(bytes)) {
            out.writeObject(r);
        } catch (IOException e) {
            throw new IllegalStateException("cannot serialise the shuffling generator", e);
        }
        return Base64.getEncoder().encodeToString(bytes.toByteArray());
    }

    static Random decodeRandom(String text, Path checkpoint) {
        if (text == null) {
            throw new InvalidCheckpointException(checkpoint.resolve(Checkpoints.STATE_FILE) + " has no 'shuffler'"
                    + " state, so the data order cannot be continued; resume from a checkpoint-N folder written by"
                    + " the trainer");
        }
        try (ObjectInputStream in = new ObjectInputStream(new ByteArrayInputStream(Base64.getDecoder().decode(text))) {
            @Override
            protected Class<?> resolveClass(java.io.ObjectStreamClass desc) throws IOException, ClassNotFoundException {
                // only the generator itself: never instantiate other classes from a file
                if (!desc.getName().equals(Random.class.getName())) {
                    throw new java.io.InvalidClassException(desc.getName(), "not allowed in a checkpoint");
                }
                return super.resolveClass(desc);
            }
        }) {
            return (Random) in.readObject();
        } catch (IOException | ClassNotFoundException | IllegalArgumentException | ClassCastException e) {
            throw new InvalidCheckpointException(checkpoint.resolve(Checkpoints.STATE_FILE) + ": the 'shuffler' state is "
                    + "corrupt (" + e.getMessage() + "); resume from an earlier checkpoint", e);
        }
    }
}
