package dev.attune.train;

import static org.apiguardian.api.API.Status.EXPERIMENTAL;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.attune.error.InvalidCheckpointException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apiguardian.api.API;

/**
 * A training run's progress, as a checkpoint's {@code trainer_state.json} holds it and as callbacks
 * see it ({@link TrainerCallback.Context#state()}), after HuggingFace's {@code TrainerState}. One
 * step is one optimizer update (a step with gradient accumulation takes several batches). Saved and
 * read as JSON with {@link #toJson()} and {@link #read(Path)}; unknown keys are ignored and missing
 * ones take their defaults, so older and newer checkpoints stay readable. The JSON names are those
 * below in snake case ({@code global_step}, {@code best_model_checkpoint}, ...).
 *
 * @param format the layout's name, {@value #FORMAT}
 * @param globalStep optimizer steps completed
 * @param maxSteps optimizer steps the run takes in all (0 in checkpoints of version 0.1.0 before this field)
 * @param epoch the epoch in progress, from 0 (at an epoch's end: the epochs completed)
 * @param batchInEpoch batches of the epoch in progress already trained on: where a resumed run continues
 * @param batchesPerEpoch batches in an epoch (0 in older checkpoints)
 * @param microBatches forward passes so far: dropout is reseeded from it, so a resumed run draws the same masks
 * @param samples training examples (features) seen so far
 * @param lossSum sum of the loss of every forward pass so far
 * @param lossCount forward passes in {@code lossSum}
 * @param windowLoss sum of the loss of the forward passes since the last logged record
 * @param windowCount forward passes in {@code windowLoss}
 * @param trainSeconds training time so far, over every resume of the run
 * @param logHistory every record the run logged so far, in order (HuggingFace's {@code log_history};
 *     empty in older checkpoints)
 * @param evalHistory every evaluation so far: {@code step}, {@code epoch} and the {@code eval_*} metrics
 * @param lastEval the metrics of the last evaluation that counts for the best model (empty if none)
 * @param lastMetric {@code metricForBestModel} in that evaluation, or null
 * @param lastEvalStep the step of that evaluation, or -1
 * @param bestMetric the best value of {@code metricForBestModel} among the checkpoints, or null
 * @param bestModelCheckpoint the folder name of the checkpoint with that value ({@code checkpoint-N}), or null
 * @param earlyStoppingBest the best value seen by early stopping (it needs an improvement beyond the
 *     threshold), or null
 * @param evalsWithoutImprovement evaluations in a row without such an improvement: early stopping's counter
 * @param run what makes a checkpoint belong to this run (data size, batch size, seed, ...): a resumed
 *     run must match it
 * @param shuffler the state of the generator that shuffles the data, at the start of the epoch in progress
 *     (Base64 of {@code java.util.Random}'s serial form), or null outside checkpoints
 * @param optimizerSteps the optimizer's step count in a checkpoint, or null
 * @param stoppedEarly in the run's final state: whether a callback stopped it before its last step; else null
 * @param trainLoss in the run's final state: the mean training loss; else null
 */
@API(status = EXPERIMENTAL, since = "0.1")
@JsonIgnoreProperties(ignoreUnknown = true)
public record TrainerState(
        @JsonProperty("format") String format,
        @JsonProperty("global_step") long globalStep,
        @JsonProperty("max_steps") long maxSteps,
        @JsonProperty("epoch") int epoch,
        @JsonProperty("batch_in_epoch") int batchInEpoch,
        @JsonProperty("batches_per_epoch") int batchesPerEpoch,
        @JsonProperty("micro_batches") long microBatches,
        @JsonProperty("samples") long samples,
        @JsonProperty("loss_sum") double lossSum,
        @JsonProperty("loss_count") long lossCount,
        @JsonProperty("window_loss") double windowLoss,
        @JsonProperty("window_count") long windowCount,
        @JsonProperty("train_seconds") double trainSeconds,
        @JsonProperty("log_history") List<Map<String, Object>> logHistory,
        @JsonProperty("eval_history") List<Map<String, Double>> evalHistory,
        @JsonProperty("last_eval") Map<String, Double> lastEval,
        @JsonProperty("last_metric") Double lastMetric,
        @JsonProperty("last_eval_step") long lastEvalStep,
        @JsonProperty("best_metric") Double bestMetric,
        @JsonProperty("best_model_checkpoint") String bestModelCheckpoint,
        @JsonProperty("early_stopping_best") Double earlyStoppingBest,
        @JsonProperty("evals_without_improvement") int evalsWithoutImprovement,
        @JsonProperty("run") Map<String, Object> run,
        @JsonProperty("shuffler") @JsonInclude(JsonInclude.Include.NON_NULL) String shuffler,
        @JsonProperty("optimizer_steps") @JsonInclude(JsonInclude.Include.NON_NULL) Long optimizerSteps,
        @JsonProperty("stopped_early") @JsonInclude(JsonInclude.Include.NON_NULL) Boolean stoppedEarly,
        @JsonProperty("train_loss") @JsonInclude(JsonInclude.Include.NON_NULL) Double trainLoss) {

    /** The layout written today; a superset of the first layout, which had the same name. */
    public static final String FORMAT = "attune-trainer-state/1";

    private static final ObjectMapper JSON = new ObjectMapper()
            .enable(SerializationFeature.INDENT_OUTPUT)
            .disable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES);

    /** Makes the collections read-only and fills those an older file lacks. */
    public TrainerState {
        format = format == null ? FORMAT : format;
        logHistory = readOnly(logHistory);
        evalHistory = readOnly(evalHistory);
        lastEval = lastEval == null ? Map.of() : Collections.unmodifiableMap(new LinkedHashMap<>(lastEval));
        run = run == null ? Map.of() : Collections.unmodifiableMap(new LinkedHashMap<>(run));
    }

    private static <T> List<Map<String, T>> readOnly(List<Map<String, T>> list) {
        if (list == null) {
            return List.of();
        }
        List<Map<String, T>> copy = List.copyOf(list);
        if (copy == list) {
            // already an immutable list (the trainer's snapshots share one until the history grows)
            return copy;
        }
        List<Map<String, T>> out = new ArrayList<>(copy.size());
        for (Map<String, T> m : copy) {
            out.add(Collections.unmodifiableMap(new LinkedHashMap<>(m)));
        }
        return List.copyOf(out);
    }

    /**
     * @return the epochs done as a fraction ({@code epoch + batchInEpoch / batchesPerEpoch}), as
     *     HuggingFace's {@code state.epoch}
     */
    public double fractionalEpoch() {
        return batchesPerEpoch <= 0 ? epoch : epoch + (double) batchInEpoch / batchesPerEpoch;
    }

    /** @return the mean loss of every forward pass so far, or NaN before the first */
    public double meanLoss() {
        return lossCount == 0 ? Double.NaN : lossSum / lossCount;
    }

    /** @return the state as indented JSON, the content of {@code trainer_state.json} */
    public String toJson() {
        try {
            return JSON.writeValueAsString(this);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot serialise the trainer state: " + e.getMessage(), e);
        }
    }

    /**
     * @param json the content of a {@code trainer_state.json}
     * @param origin where it came from, for the error message
     * @return the state
     * @throws InvalidCheckpointException when it is not a JSON object of this layout
     */
    public static TrainerState fromJson(String json, String origin) {
        try {
            TrainerState state = JSON.readValue(json, TrainerState.class);
            if (state == null) {
                throw new InvalidCheckpointException(origin + " holds no trainer state (null)");
            }
            return state;
        } catch (JsonProcessingException e) {
            throw new InvalidCheckpointException(origin + " is not a valid trainer state (" + e.getOriginalMessage()
                    + "); resume from an earlier checkpoint", e);
        }
    }

    /**
     * @param file a {@code trainer_state.json}
     * @return the state
     * @throws InvalidCheckpointException when the file is missing or not a trainer state
     */
    public static TrainerState read(Path file) {
        if (!Files.isRegularFile(file)) {
            throw new InvalidCheckpointException(file + " is missing: " + file.getParent()
                    + " is not a training checkpoint (resume from a checkpoint-N folder written by the trainer)");
        }
        try {
            return fromJson(Files.readString(file), file.toString());
        } catch (IOException e) {
            throw new InvalidCheckpointException("cannot read " + file + ": " + e.getMessage(), e);
        }
    }
}
