package dev.attune.cli;

import dev.attune.core.tune.HyperparameterSearch;
import dev.attune.core.tune.HyperparameterSearch.Spec;
import dev.attune.train.TrainingControl;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code attune tune}: hyperparameter search over learning rate, batch size, epochs, warmup ratio and
 * weight decay by grid, random sampling or successive halving, trials run in parallel within a thread
 * budget, every trial recorded in trials.jsonl, and a sensitivity report (table and one plot per
 * hyperparameter of the objective against its values).
 */
@Command(name = "tune", mixinStandardHelpOptions = true,
        description = "Search fine-tuning hyperparameters (grid, random, successive halving) on an eval metric.")
final class TuneCommand implements Callable<Integer> {
    @Option(names = "--model", required = true, description = "model folder to start from (HuggingFace, TF Hub SavedModel or"
            + " ONNX export); with --spark also a Hadoop URI (hdfs:, s3a:, file:)") String model;
    @Option(names = "--task", defaultValue = "text-classification") String task;
    @Option(names = "--train", required = true, description = "training data; with --spark also a Hadoop URI") String train;
    @Option(names = "--eval", required = true, description = "data the objective is measured on; with --spark also a"
            + " Hadoop URI") String eval;
    @Mixin TaskOptionsMixin data;
    @Option(names = "--output", required = true, description = "folder for trials.jsonl, the report and plots") Path output;
    @Option(names = "--search", defaultValue = "random", description = "grid, random or halving (default: ${DEFAULT-VALUE})")
    String search;
    @Option(names = "--trials", defaultValue = "12", description = "random: trials; halving: trials in the first rung")
    int trials;
    @Option(names = "--halving-factor", defaultValue = "3", description = "halving: keep 1/eta each rung") int eta;
    @Option(names = "--objective", defaultValue = "eval_accuracy", description = "eval metric to optimise: the task's"
            + " own metric in the task's direction (perplexity is minimised), a loss minimised, others maximised")
    String objective;
    @Option(names = "--learning-rate", defaultValue = "1e-5:1e-3",
            description = "values a,b,c or a log-uniform range lo:hi") String learningRate;
    @Option(names = "--batch-size", defaultValue = "16,32") String batchSize;
    @Option(names = "--epochs", defaultValue = "1,2,3") String epochs;
    @Option(names = "--warmup-ratio", defaultValue = "0,0.1") String warmupRatio;
    @Option(names = "--weight-decay", defaultValue = "0,0.01") String weightDecay;
    @Option(names = "--max-length", defaultValue = "128") int maxLength;
    @Option(names = "--max-steps", defaultValue = "-1", description = "cap each trial's steps (quick searches)") long maxSteps;
    @Option(names = "--parallel", defaultValue = "2", description = "trials at once") int parallel;
    @Option(names = "--seed", defaultValue = "42") long seed;
    @Option(names = "--resume", description = "reuse the trials already recorded in <output>/trials.jsonl by a run"
            + " with the same settings and run only the rest (an interrupted search loses only its running trials)")
    boolean resume;
    @Option(names = "--gradient-checkpointing", description = "each trial recomputes its layers in the backward pass "
            + "(less memory, same gradients)") boolean gradientCheckpointing;
    @Option(names = "--auto-find-batch-size", description = "a trial that runs out of memory runs its steps in "
            + "passes of half the size instead of failing") boolean autoFindBatchSize;
    @Option(names = "--set", description = "config.json override key=value (repeatable)")
    Map<String, String> overrides = new LinkedHashMap<>();
    @Mixin EngineOptionsMixin engineOptions;
    @Option(names = "--bf16", description = "train every trial in bf16 mixed precision") boolean bf16;
    @Option(names = "--fp16", description = "train every trial in fp16 mixed precision with loss scaling") boolean fp16;

    @Option(names = "--spark", paramLabel = "MASTER", description = "run the trials as Spark tasks, one task per"
            + " trial with --threads CPUs (spark.task.cpus): local[N] starts Spark in this JVM, spark://host:7077 uses a"
            + " standalone cluster (executors read --model, --train and --eval at the same paths or Hadoop URIs, or get"
            + " the model with --spark-ship-model); --parallel is then the cluster's")
    String spark;
    @Option(names = "--spark-gpus-per-trial", defaultValue = "0", description = "with --spark: GPUs each trial's task"
            + " asks for (a Spark resource profile; the cluster's executors must offer GPUs:"
            + " spark.executor.resource.gpu.amount and a discovery script, or dynamic allocation); the trial trains on"
            + " the GPU Spark assigns it") int gpusPerTrial;
    @Option(names = "--spark-max-failures", defaultValue = "2", description = "with --spark: attempts per trial"
            + " (spark.task.maxFailures): a trial whose executor dies runs again on another (default: ${DEFAULT-VALUE})")
    int maxFailures;
    @Option(names = "--spark-ship-model", description = "with --spark: ship the local --model folder with the job"
            + " (SparkContext.addArchive, found with SparkFiles.get) for executors that cannot see the driver's paths")
    boolean shipModel;

    @Override
    public Integer call() throws Exception {
        // Ctrl-C stops the running trials after their current step; the finished ones stay recorded
        TrainingControl control = GracefulStop.newControl().checkpointOnStop(false);
        if (spark == null && (gpusPerTrial != 0 || shipModel)) {
            throw new dev.attune.error.ConfigurationException("--spark-gpus-per-trial and --spark-ship-model go with"
                    + " --spark; a local search trains on --device");
        }
        if (spark == null && java.util.stream.Stream.of(model, train, eval).anyMatch(
                l -> l.matches("^[A-Za-z][A-Za-z0-9+.-]+:.*"))) {
            throw new dev.attune.error.ConfigurationException("--model, --train and --eval are local paths without"
                    + " --spark; Hadoop URIs (hdfs:, s3a:, file:) are read by the Spark search (add --spark local[N])");
        }
        // paths as the search has always recorded them (so earlier folders still --resume); URIs as given
        Spec spec = Spec.builder(location(model), location(train), location(eval), output).task(task).taskOptions(data.options())
                .evalTaskOptions(data.evalTaskOptions).dataDescription(data.describe()).search(search).trials(trials)
                .halvingFactor(eta).objective(objective).learningRate(learningRate).batchSize(batchSize).epochs(epochs)
                .warmupRatio(warmupRatio).weightDecay(weightDecay).maxLength(maxLength).maxSteps(maxSteps).seed(seed)
                .resume(resume).overrides(overrides).engine(engineOptions.engine).device(engineOptions.device)
                .threads(engineOptions.threads).mixedPrecision(TrainingOptionsMixin.precision(bf16, fp16))
                .gradientCheckpointing(gradientCheckpointing).autoFindBatchSize(autoFindBatchSize).build();
        if (spark != null) {
            dev.attune.spark.AttuneSpark.tune(spark, spec, dev.attune.spark.AttuneSpark.TuneOptions.defaults()
                    .withGpusPerTrial(gpusPerTrial).withMaxFailures(maxFailures).withShipModel(shipModel), control);
        } else {
            HyperparameterSearch.run(spec, HyperparameterSearch.local(parallel), control);
        }
        return 0;
    }

    private static String location(String given) {
        return given.matches("^[A-Za-z][A-Za-z0-9+.-]+:.*") ? given : Path.of(given).toString();
    }
}
