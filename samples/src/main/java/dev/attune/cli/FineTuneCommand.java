package dev.attune.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.attune.Attune;
import dev.attune.core.internal.OutputFolder;
import dev.attune.core.train.Checkpoints;
import dev.attune.model.FineTunedModel;
import dev.attune.error.AttuneException;
import dev.attune.error.ConfigurationException;
import dev.attune.model.ModelSource;
import dev.attune.model.PretrainedModel;
import dev.attune.task.Dataset;
import dev.attune.task.Task;
import dev.attune.train.TrainingConfig;
import dev.attune.train.TrainingConfig.EvalStrategy;
import dev.attune.train.TrainingConfig.SchedulerType;
import dev.attune.train.TrainingControl;
import dev.attune.train.Trainer.TrainingResult;
import dev.attune.formats.hf.HfExporter;
import dev.attune.ops.DType;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code attune fine-tune}: load a checkpoint, train a task head, evaluate, save. */
@Command(name = "fine-tune", mixinStandardHelpOptions = true,
        description = "Fine-tune a HuggingFace checkpoint on a task and save the result as a HuggingFace folder.")
final class FineTuneCommand implements Callable<Integer> {
    @Option(names = "--model", required = true, description = "model to start from: a HuggingFace folder, a TF Hub"
            + " SavedModel folder, an .onnx file or ONNX export folder, or a Hub model id (org/name[@revision],"
            + " hf://org/name; uses HF_TOKEN, HF_ENDPOINT, HF_HUB_OFFLINE)")
    String model;

    @Option(names = "--task", defaultValue = "text-classification",
            description = "task plugin (default: ${DEFAULT-VALUE}); see the README for the list")
    String task;

    @Option(names = "--train", required = true, description = "training data (.tsv, .csv, .jsonl)")
    Path train;

    @Option(names = "--eval", description = "evaluation data, scored at every epoch end")
    Path eval;

    @Mixin
    TaskOptionsMixin data;

    @Option(names = "--output", required = true, description = "folder for the fine-tuned model, logs and metrics")
    Path output;

    @Option(names = "--overwrite-output-dir", description = "write into an --output folder that holds files attune"
            + " did not write (they are left as they are); without it such a folder is refused before training")
    boolean overwriteOutputDir;

    @Option(names = "--save-dtype", defaultValue = "fp32", paramLabel = "fp32|bf16|fp16",
            description = "floating-point type of the saved weights: fp32 (default), or bf16/fp16 for a folder half the"
                    + " size; config.json's dtype names it (checkpoints stay fp32 so a resume is exact)")
    String saveDtype;

    @Option(names = "--metrics", description = "metrics JSON file (default: <output>/metrics.json)")
    Path metrics;

    @Option(names = "--learning-rate", defaultValue = "5e-5") double learningRate;
    @Option(names = "--epochs", defaultValue = "3") double epochs;
    @Option(names = "--max-steps", defaultValue = "-1") long maxSteps;
    @Option(names = "--batch-size", defaultValue = "8") int batchSize;
    @Option(names = "--eval-batch-size", defaultValue = "32") int evalBatchSize;
    @Option(names = "--gradient-accumulation-steps", defaultValue = "1") int accumulation;
    @Option(names = "--warmup-steps", defaultValue = "0") long warmupSteps;
    @Option(names = "--warmup-ratio", defaultValue = "0") double warmupRatio;
    @Option(names = "--weight-decay", defaultValue = "0") double weightDecay;
    @Option(names = "--max-grad-norm", defaultValue = "1.0") double maxGradNorm;
    @Option(names = "--lr-scheduler-type", defaultValue = "linear",
            description = "linear, cosine, cosine_with_restarts, polynomial, constant, constant_with_warmup, "
                    + "slanted_triangular") String scheduler;
    @Option(names = "--logging-steps", defaultValue = "50") int loggingSteps;
    @Option(names = "--eval-strategy", defaultValue = "epoch", description = "no, steps, epoch") String evalStrategy;
    @Option(names = "--eval-steps", defaultValue = "0") int evalSteps;
    @Option(names = "--save-steps", defaultValue = "0", description = "save <output>/checkpoint-N every N steps")
    int saveSteps;
    @Option(names = "--seed", defaultValue = "42") long seed;
    @Option(names = "--max-length", defaultValue = "128") int maxLength;
    @Option(names = "--pad-to-max-length", description = "pad every batch to --max-length") boolean padToMax;
    @Option(names = "--no-shuffle", description = "keep the training data in file order") boolean noShuffle;
    @Option(names = "--no-progress", description = "no console progress bar (there is none anyway when standard"
            + " error is not a terminal)") boolean noProgress;

    @Option(names = "--set", description = "config.json override key=value, e.g. hidden_dropout_prob=0 (repeatable)")
    Map<String, String> overrides = new LinkedHashMap<>();

    @Mixin
    EngineOptionsMixin engineOptions;

    @Mixin
    TrainingOptionsMixin training;

    @Mixin
    PeftOptionsMixin peft;

    @Override
    public Integer call() throws IOException {
        // from here on, Ctrl-C lets the command reach a step boundary and save a checkpoint (GracefulStop)
        TrainingControl control = GracefulStop.newControl();
        // a folder of the user's (src/, .git/, notes) is refused before anything loads or trains
        OutputFolder.check(output, overwriteOutputDir, "TrainingConfig.overwriteOutputDir");
        TrainingConfig.Builder builder = training.apply(TrainingConfig.builder()
                .outputDir(output)
                .overwriteOutputDir(overwriteOutputDir)
                .learningRate(learningRate)
                .numTrainEpochs(epochs)
                .maxSteps(maxSteps)
                .perDeviceTrainBatchSize(batchSize)
                .perDeviceEvalBatchSize(evalBatchSize)
                .gradientAccumulationSteps(accumulation)
                .warmupSteps(warmupSteps)
                .warmupRatio(warmupRatio)
                .weightDecay(weightDecay)
                .maxGradNorm(maxGradNorm)
                .lrSchedulerType(SchedulerType.parse(scheduler))
                .loggingSteps(loggingSteps)
                .evalStrategy(parseStrategy(evalStrategy))
                .evalSteps(evalSteps)
                .saveSteps(saveSteps)
                .seed(seed)
                .shuffle(!noShuffle)
                .maxLength(maxLength)
                .padToMaxLength(padToMax), output);
        if (noProgress) {
            builder.disableTqdm(true);
        }
        TrainingConfig checked = builder.peft(peft.config()).build();
        DType savedAs = HfExporter.parseDtype(saveDtype); // a wrong value is refused before training
        Map<String, String> options = data.options();
        data.checkEval(eval != null);
        try (Attune attune = engineOptions.builder().seed(seed).build();
                PretrainedModel base = attune.load(model, overrides)) {
            GracefulStop.checkStopped(control, "loading the model");
            Task t = attune.task(task, options);
            Dataset trainData = t.read(train);
            Dataset evalData = eval == null ? null : data.evalReader(attune, task, t).read(eval);
            GracefulStop.checkStopped(control, "reading the data");
            // the model card names the model as given and the engine with its version
            TrainingConfig config = training.withModelCard(checked, model, attune.engine().describe());
            long start = System.nanoTime();
            Attune.Result result = attune.fineTune(base, t, trainData, evalData, config, control);
            try (FineTunedModel tuned = result.model()) {
                // keeps the run's files there: log, TensorBoard events, checkpoints, plots and model card
                if (peft.mergeAdapter) {
                    try (FineTunedModel merged = tuned.mergeAdapter()) {
                        merged.save(output, overwriteOutputDir, savedAs);
                    }
                } else {
                    tuned.save(output, overwriteOutputDir, savedAs); // with an adapter: the PEFT adapter folder
                }
                TrainingResult r = result.training();
                Map<String, Object> report = new LinkedHashMap<>();
                report.put("model", model);
                report.put("task", task);
                report.put("engine", attune.engine().describe());
                if (tuned.adapter().isPresent()) {
                    report.put("peft", Map.of("r", tuned.adapter().get().r(), "lora_alpha",
                            tuned.adapter().get().loraAlpha(), "merged", peft.mergeAdapter));
                }
                report.put("device", tuned.lowered().device());
                report.put("train_file", train.toString());
                report.put("train_examples", trainData.size());
                report.put("eval_file", eval == null ? null : eval.toString());
                report.put("eval_examples", evalData == null ? 0 : evalData.size());
                report.put("labels", tuned.task().labels());
                report.put("global_steps", r.globalSteps());
                report.put("epochs", r.epochs());
                report.put("train_loss", r.trainLoss());
                report.put("train_seconds", r.trainSeconds());
                report.put("train_samples_per_second", r.trainSamplesPerSecond());
                report.put("wall_seconds", (System.nanoTime() - start) / 1e9);
                Map<String, Double> evalMetrics = new LinkedHashMap<>();
                r.evalMetrics().forEach((k, v) -> evalMetrics.put("eval_" + k, v));
                report.putAll(evalMetrics);
                report.put("eval_history", wholeSteps(r.evalHistory()));
                ObjectMapper json = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
                Path metricsFile = metrics != null ? metrics : output.resolve("metrics.json");
                if (metricsFile.toAbsolutePath().getParent() != null) {
                    Files.createDirectories(metricsFile.toAbsolutePath().getParent());
                }
                // replaced by a rename: a link planted at the name is replaced, never followed
                Checkpoints.writeText(metricsFile, json.writeValueAsString(report) + "\n");
                System.out.println(json.writeValueAsString(evalMetrics.isEmpty() ? Map.of("train_loss", r.trainLoss()) : evalMetrics));
                System.err.printf(Locale.ROOT, "saved %s; metrics in %s; %.1f s%n", output, metricsFile,
                        (System.nanoTime() - start) / 1e9);
            }
        }
        return 0;
    }

    /** The evaluations with their step as a whole number ({@code "step": 250}, as HF's log_history has it). */
    static List<Map<String, Object>> wholeSteps(List<Map<String, Double>> history) {
        List<Map<String, Object>> out = new ArrayList<>();
        for (Map<String, Double> e : history) {
            Map<String, Object> m = new LinkedHashMap<>(e);
            Double step = e.get("step");
            if (step != null) {
                m.put("step", Math.round(step));
            }
            out.add(m);
        }
        return out;
    }

    static EvalStrategy parseStrategy(String s) {
        try {
            return EvalStrategy.valueOf(s.trim().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new AttuneException("--eval-strategy must be no, steps or epoch, not '" + s + "'");
        }
    }
}
