package dev.attune.cli;

import dev.attune.model.FineTunedModel;
import dev.attune.error.AttuneException;
import dev.attune.core.train.DefaultTrainer;
import dev.attune.train.TrainingConfig;
import java.io.IOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * fine-tune's options for checkpoints, resume, early stopping, schedules, transfer learning and
 * batching; kept apart from FineTuneCommand so that file stays small.
 */
final class TrainingOptionsMixin {
    @Spec(Spec.Target.MIXEE)
    CommandSpec spec;

    @Option(names = "--no-model-card", description = "no README.md model card and PNG plots in --output")
    boolean noModelCard;

    @Option(names = "--resume", description = "continue from the newest checkpoint-N in --output (starts afresh when "
            + "there is none)")
    boolean resume;

    @Option(names = "--resume-from", description = "continue from this checkpoint folder")
    Path resumeFrom;

    @Option(names = "--save-on-epoch-end", description = "also write a checkpoint at every epoch end")
    boolean saveOnEpochEnd;

    @Option(names = "--save-total-limit", defaultValue = "0",
            description = "checkpoints to keep (the best is kept too); 0 keeps all")
    int saveTotalLimit;

    @Option(names = "--metric-for-best-model", defaultValue = "loss",
            description = "eval metric ranking checkpoints and driving early stopping (default: ${DEFAULT-VALUE})")
    String metricForBestModel;

    @Option(names = "--load-best-model-at-end", description = "save the best checkpoint's weights as the result")
    boolean loadBestModelAtEnd;

    @Option(names = "--early-stopping-patience", defaultValue = "0",
            description = "stop after this many evaluations without improvement; 0 never")
    int earlyStoppingPatience;

    @Option(names = "--early-stopping-threshold", defaultValue = "0",
            description = "least improvement that counts")
    double earlyStoppingThreshold;

    @Option(names = "--lr-num-cycles", defaultValue = "1", description = "cosine_with_restarts: number of waves")
    double lrNumCycles;

    @Option(names = "--lr-power", defaultValue = "1", description = "polynomial: power")
    double lrPower;

    @Option(names = "--lr-end", defaultValue = "1e-7", description = "polynomial: final learning rate")
    double lrEnd;

    @Option(names = "--freeze-embeddings", description = "hold the embeddings fixed")
    boolean freezeEmbeddings;

    @Option(names = "--freeze-layers", defaultValue = "0",
            description = "hold the embeddings and the first N transformer layers fixed")
    int freezeLayers;

    @Option(names = "--train-head-only", description = "feature extraction: train only the task head")
    boolean trainHeadOnly;

    @Option(names = "--layerwise-lr-decay", defaultValue = "1",
            description = "learning-rate factor per layer going down from the head (e.g. 0.9); 1 = off")
    double layerwiseLrDecay;

    @Option(names = "--gradual-unfreezing", description = "ULMFiT: unfreeze one more layer group per epoch from the top")
    boolean gradualUnfreezing;

    @Option(names = "--group-by-length", description = "batch examples of similar length together (less padding)")
    boolean groupByLength;

    @Option(names = "--eval-on-start", description = "evaluate once before the first step, to show where "
            + "fine-tuning starts from (logged as step 0)")
    boolean evalOnStart;

    @Option(names = "--no-tensorboard", description = "no TensorBoard event files in <output>/runs")
    boolean noTensorboard;

    /**
     * @param b the builder the command filled
     * @param output the output folder
     * @return the builder with these options applied
     */
    TrainingConfig.Builder apply(TrainingConfig.Builder b, Path output) {
        Path from = resumeFrom;
        if (from == null && resume) {
            Optional<Path> latest = DefaultTrainer.latestCheckpoint(output);
            if (latest.isPresent()) {
                from = latest.get();
                System.err.println("attune: resuming from " + from);
            } else {
                System.err.println("attune: no checkpoint in " + output + "; starting from the beginning");
            }
        }
        return b.resumeFromCheckpoint(from)
                .saveOnEpochEnd(saveOnEpochEnd)
                .saveTotalLimit(saveTotalLimit)
                .metricForBestModel(metricForBestModel)
                .loadBestModelAtEnd(loadBestModelAtEnd)
                .earlyStoppingPatience(earlyStoppingPatience)
                .earlyStoppingThreshold(earlyStoppingThreshold)
                .lrNumCycles(lrNumCycles)
                .lrPower(lrPower)
                .lrEnd(lrEnd)
                .freezeEmbeddings(freezeEmbeddings)
                .freezeLayers(freezeLayers)
                .trainHeadOnly(trainHeadOnly)
                .layerwiseLrDecay(layerwiseLrDecay)
                .gradualUnfreezing(gradualUnfreezing)
                .groupByLength(groupByLength)
                .tensorboard(!noTensorboard)
                .evalOnStart(evalOnStart);
    }

    /**
     * Writes the PNG plots and the model card.
     *
     * @param output the output folder
     * @param report metrics.json's content
     * @param config the run's settings
     */
    void writeArtifacts(Path output, java.util.Map<String, Object> report, TrainingConfig config) {
        if (noModelCard) {
            return;
        }
        try {
            List<Path> plots = RunArtifacts.writePlots(output);
            java.util.Map<String, Object> settings = RunArtifacts.components(config);
            settings.remove("resumeFromCheckpoint");
            settings.remove("disableTqdm");
            List<String> args = new java.util.ArrayList<>();
            args.add(spec.name());
            List<String> original = spec.commandLine().getParseResult().originalArgs();
            for (int i = 0; i < original.size(); i++) {
                String a = original.get(i);
                // picocli may hand over the whole command line, subcommand name included
                if (!a.equals("--resume") && !(i == 0 && a.equals(spec.name()))) {
                    args.add(a);
                }
            }
            RunArtifacts.writeModelCard(output, report, settings, args, plots);
        } catch (IOException e) {
            throw new AttuneException("could not write the model card or plots in " + output + ": " + e.getMessage(), e);
        }
    }
}
