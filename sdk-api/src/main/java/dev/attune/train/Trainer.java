package dev.attune.train;

import java.util.List;
import java.util.Map;

import static org.apiguardian.api.API.Status.STABLE;

import dev.attune.model.FineTunedModel;
import dev.attune.task.Dataset;
import org.apiguardian.api.API;

/**
 * Trains a model in place with HuggingFace Trainer semantics. Get one from the runtime ({@code
 * attune.trainer(config)}); it is configured by a {@link TrainingConfig}, whose {@link
 * TrainerCallback}s watch and steer the run from inside, and, from other threads, a {@link
 * TrainingControl}.
 */
@API(status = STABLE, since = "0.1")
public interface Trainer {
    /**
     * Trains the model in place.
     *
     * @param model the model (its task's labels fixed)
     * @param train training data
     * @param eval evaluation data, or null
     * @return what training did
     * @throws dev.attune.error.InvalidDataException when the training set or a given evaluation set is
     *     empty (checked before anything else is done)
     * @throws dev.attune.error.AttuneException when the loss becomes NaN or infinite
     * @throws dev.attune.error.TrainingStoppedException when a stop was requested through the run's
     *     {@link TrainingControl}: after the step in progress, with a checkpoint there when the run has
     *     an output folder
     */
    TrainingResult train(FineTunedModel model, Dataset train, Dataset eval);

    /**
     * What a training run did.
     *
     * @param globalSteps optimizer steps taken
     * @param epochs epochs completed (fractional when stopped by maxSteps)
     * @param trainLoss mean training loss over the run
     * @param trainSeconds wall time of the training loop
     * @param trainSamplesPerSecond training throughput
     * @param evalMetrics metrics of the last evaluation (empty if none)
     * @param evalHistory every evaluation, in order, each with its {@code step}
     */
    @API(status = STABLE, since = "0.1")
    public record TrainingResult(
            long globalSteps,
            double epochs,
            double trainLoss,
            double trainSeconds,
            double trainSamplesPerSecond,
            Map<String, Double> evalMetrics,
            List<Map<String, Double>> evalHistory) {}
}
