package dev.attune.train;

import static org.apiguardian.api.API.Status.STABLE;

import java.util.List;
import java.util.Map;
import org.apiguardian.api.API;

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
