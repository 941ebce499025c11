package dev.attune.core.train;

import com.fasterxml.jackson.databind.JsonNode;
import dev.attune.error.InvalidCheckpointException;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/** The trainer's mutable progress, as trainer_state.json holds it in a checkpoint. */
final class RunState {
    long step;
    int epoch;
    int batchInEpoch;
    long microBatches;
    long samples;
    double lossSum;
    long lossCount;
    double windowLoss;
    long windowCount;
    double trainSeconds;
    List<Map<String, Double>> history = new ArrayList<>();
    Map<String, Double> lastEval = Map.of();
    Double lastMetric;
    long lastEvalStep = -1;
    Double bestMetric;
    String bestCheckpoint;
    Double patienceBest;
    int evalsWithoutImprovement;
    boolean stop;
    Path lastCheckpoint;
    long savedStep = -1;

    boolean savedAt(long s) {
        return savedStep == s;
    }

    Map<String, Object> toJson(Map<String, Object> identity) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("format", "attune-trainer-state/1");
        m.put("global_step", step);
        m.put("epoch", epoch);
        m.put("batch_in_epoch", batchInEpoch);
        m.put("micro_batches", microBatches);
        m.put("samples", samples);
        m.put("loss_sum", lossSum);
        m.put("loss_count", lossCount);
        m.put("window_loss", windowLoss);
        m.put("window_count", windowCount);
        m.put("train_seconds", trainSeconds);
        m.put("eval_history", history);
        m.put("last_eval", lastEval);
        m.put("last_metric", lastMetric);
        m.put("last_eval_step", lastEvalStep);
        m.put("best_metric", bestMetric);
        m.put("best_model_checkpoint", bestCheckpoint);
        m.put("early_stopping_best", patienceBest);
        m.put("evals_without_improvement", evalsWithoutImprovement);
        m.put("run", identity);
        return m;
    }

    void load(JsonNode n) {
        step = n.path("global_step").asLong();
        epoch = n.path("epoch").asInt();
        batchInEpoch = n.path("batch_in_epoch").asInt();
        microBatches = n.path("micro_batches").asLong();
        samples = n.path("samples").asLong();
        lossSum = n.path("loss_sum").asDouble();
        lossCount = n.path("loss_count").asLong();
        windowLoss = n.path("window_loss").asDouble();
        windowCount = n.path("window_count").asLong();
        trainSeconds = n.path("train_seconds").asDouble();
        history = new ArrayList<>();
        for (JsonNode e : n.path("eval_history")) {
            history.add(doubles(e));
        }
        lastEval = doubles(n.path("last_eval"));
        lastMetric = nullableDouble(n.get("last_metric"));
        lastEvalStep = n.path("last_eval_step").asLong(-1);
        bestMetric = nullableDouble(n.get("best_metric"));
        JsonNode best = n.get("best_model_checkpoint");
        bestCheckpoint = best == null || best.isNull() ? null : best.asText();
        patienceBest = nullableDouble(n.get("early_stopping_best"));
        evalsWithoutImprovement = n.path("evals_without_improvement").asInt();
    }

    private static Double nullableDouble(JsonNode n) {
        return n == null || n.isNull() ? null : n.asDouble();
    }

    private static Map<String, Double> doubles(JsonNode n) {
        Map<String, Double> m = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = n.fields(); it.hasNext();) {
            Map.Entry<String, JsonNode> e = it.next();
            m.put(e.getKey(), e.getValue().asDouble());
        }
        return m;
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
            throw new InvalidCheckpointException(checkpoint.resolve("trainer_state.json") + ": the 'shuffler' state is "
                    + "corrupt (" + e.getMessage() + "); resume from an earlier checkpoint", e);
        }
    }
}
