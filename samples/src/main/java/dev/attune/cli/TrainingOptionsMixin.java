package dev.attune.cli;

import dev.attune.core.train.DefaultTrainer;
import dev.attune.core.train.callbacks.ModelCardCallback;
import dev.attune.core.train.callbacks.PlotsCallback;
import dev.attune.error.ConfigurationException;
import dev.attune.ops.DType;
import dev.attune.train.TrainingConfig;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
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

    @Option(names = "--metric-for-best-model",
            description = "eval metric ranking checkpoints and driving early stopping (default: the task's primary"
                    + " metric, e.g. f1, accuracy or perplexity)")
    String metricForBestModel;

    @Option(names = "--greater-is-better", arity = "1", paramLabel = "true|false",
            description = "whether a larger --metric-for-best-model is better (default: the task's direction for its"
                    + " own metric, else false for a loss and true otherwise)")
    Boolean greaterIsBetter;

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

    @Option(names = "--gradient-checkpointing", description = "recompute each layer in the backward pass instead of "
            + "keeping its activations: much less memory, one more forward computation; same gradients")
    boolean gradientCheckpointing;

    @Option(names = "--auto-find-batch-size", description = "on running out of memory, run the step's examples "
            + "again in passes of half the size (down to one), instead of failing")
    boolean autoFindBatchSize;

    @Option(names = "--eval-on-start", description = "evaluate once before the first step, to show where "
            + "fine-tuning starts from (logged as step 0)")
    boolean evalOnStart;

    @Option(names = "--no-tensorboard", description = "no TensorBoard event files in <output>/runs")
    boolean noTensorboard;

    @Option(names = "--bf16", description = "mixed precision (HuggingFace's bf16): matrix products and attention in"
            + " bfloat16, weights and optimizer state in float32")
    boolean bf16;

    @Option(names = "--fp16", description = "mixed precision (HuggingFace's fp16): matrix products and attention in"
            + " float16 with dynamic loss scaling (GradScaler's defaults)")
    boolean fp16;

    /**
     * @return the compute type of --bf16 / --fp16
     * @throws ConfigurationException when both are given
     */
    static DType precision(boolean bf16, boolean fp16) {
        if (bf16 && fp16) {
            throw new ConfigurationException("--bf16 and --fp16 exclude each other: give one (bf16 needs no loss scaling)");
        }
        return bf16 ? DType.BFLOAT16 : fp16 ? DType.FLOAT16 : DType.FLOAT32;
    }

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
        if (greaterIsBetter != null) {
            b.greaterIsBetter(greaterIsBetter);
        }
        if (noModelCard) {
            b.withoutDefault(PlotsCallback.class).withoutDefault(ModelCardCallback.class);
        }
        b.mixedPrecision(precision(bf16, fp16));
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
                .gradientCheckpointing(gradientCheckpointing)
                .autoFindBatchSize(autoFindBatchSize)
                .tensorboard(!noTensorboard)
                .evalOnStart(evalOnStart);
    }

    /**
     * @param config the run's settings
     * @param model the base model as the command line named it
     * @param engine the engine, as the card names it
     * @return the settings with a model card that names the model and engine and shows this command
     *     line (less {@code --resume}) to reproduce the run; unchanged under {@code --no-model-card}
     */
    TrainingConfig withModelCard(TrainingConfig config, String model, String engine) {
        if (noModelCard) {
            return config;
        }
        List<String> args = new ArrayList<>();
        args.add(spec.name());
        List<String> original = spec.commandLine().getParseResult().originalArgs();
        for (int i = 0; i < original.size(); i++) {
            String a = original.get(i);
            // picocli may hand over the whole command line, subcommand name included
            if (!a.equals("--resume") && !(i == 0 && a.equals(spec.name()))) {
                args.add(a);
            }
        }
        return config.toBuilder().callbacks(new ModelCardCallback(model, engine, args)).build();
    }
}
