package dev.attune.samples.callbacks;

import dev.attune.Attune;
import dev.attune.core.train.callbacks.ProgressBarCallback;
import dev.attune.model.FineTunedModel;
import dev.attune.model.PretrainedModel;
import dev.attune.task.Dataset;
import dev.attune.task.Task;
import dev.attune.train.TrainerCallback;
import dev.attune.train.TrainingConfig;
import dev.attune.train.Trainer.TrainingResult;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * A training callback as a library user writes one: it keeps a journal of the events it sees, and
 * once a logged training loss reaches a target it asks for a checkpoint at that step and ends the
 * run. The run then completes normally (the model card and plots are still written); the built-in
 * callbacks keep working beside it. Add it to a config:
 *
 * <pre>{@code
 * TrainingConfig config = TrainingConfig.builder().outputDir(out).loggingSteps(10)
 *         .callbacks(new StopAtLoss(0.05))
 *         .build();
 * }</pre>
 *
 * <p>Run from the project root with {@code java -cp "samples/target/classes:samples/target/lib/*"
 * dev.attune.samples.callbacks.StopAtLoss}.
 */
public final class StopAtLoss implements TrainerCallback {
    private final double target;
    private final List<String> journal = new ArrayList<>();

    /** @param target the training loss at or below which the run ends */
    public StopAtLoss(double target) {
        this.target = target;
    }

    /** @return the events seen so far, one line each, in order */
    public List<String> journal() {
        return List.copyOf(journal);
    }

    @Override
    public void onTrainBegin(Context context) {
        journal.add("train_begin step " + context.state().globalStep() + " of " + context.state().maxSteps());
    }

    @Override
    public void onEpochBegin(Context context) {
        journal.add("epoch_begin " + context.state().epoch());
    }

    @Override
    public void onStepBegin(Context context) {
        journal.add("step_begin " + (context.state().globalStep() + 1));
    }

    @Override
    public void onStepEnd(Context context) {
        journal.add("step_end " + context.state().globalStep());
    }

    @Override
    public void onLog(Context context, Map<String, Object> record) {
        if (record.get("loss") instanceof Number loss) {
            journal.add("log " + record.get("step"));
            if (loss.doubleValue() <= target) {
                journal.add("target reached");
                if (context.config().outputDir() != null) {
                    context.control().shouldSave(true); // keep the model as it is at this step
                }
                context.control().shouldTrainingStop(true);
            }
        } else if (record.keySet().stream().anyMatch(k -> k.startsWith("eval_"))) {
            journal.add("log eval " + record.get("step"));
        }
    }

    @Override
    public void onEvaluate(Context context, Map<String, Double> metrics) {
        journal.add("evaluate " + context.state().globalStep());
    }

    @Override
    public void onSave(Context context, Path checkpoint) {
        journal.add("save " + checkpoint.getFileName());
    }

    @Override
    public void onEpochEnd(Context context) {
        journal.add("epoch_end " + context.state().epoch());
    }

    @Override
    public void onTrainEnd(Context context) {
        journal.add("train_end step " + context.state().globalStep());
    }

    /**
     * Fine-tunes for spam detection until the training loss reaches 0.05 (or five epochs pass), with
     * no progress bar, and prints the journal.
     *
     * @param args optional: checkpoint folder, data folder, output folder
     */
    public static void main(String[] args) {
        Path checkpoint = Path.of(args.length > 0 ? args[0] : "../shared/models/bert-mini-uncased-mlm");
        Path data = Path.of(args.length > 1 ? args[1] : "../shared/data/sms_spam");
        Path output = Path.of(args.length > 2 ? args[2] : "runs/stop-at-loss-sample");
        StopAtLoss stop = new StopAtLoss(0.05);
        try (Attune attune = Attune.create(); PretrainedModel base = attune.load(checkpoint)) {
            Task task = attune.task("text-classification",
                    Map.of("text_column", "text", "label_column", "label", "positive_label", "spam"));
            Dataset train = task.read(data.resolve("train.tsv"));
            Dataset test = task.read(data.resolve("test.tsv"));
            TrainingConfig config = TrainingConfig.builder()
                    .numTrainEpochs(5).perDeviceTrainBatchSize(32).learningRate(1e-4).maxLength(64)
                    .loggingSteps(10).outputDir(output)
                    .callbacks(stop)
                    .withoutDefault(ProgressBarCallback.class)
                    .build();
            Attune.Result result = attune.fineTune(base, task, train, test, config);
            try (FineTunedModel model = result.model()) {
                TrainingResult r = result.training();
                stop.journal().forEach(System.out::println);
                System.out.printf("%d steps, train loss %.4f, test %s%n", r.globalSteps(), r.trainLoss(),
                        model.evaluate(test, 64));
                model.save(output);
            }
        }
    }
}
