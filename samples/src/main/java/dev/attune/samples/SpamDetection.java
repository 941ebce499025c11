package dev.attune.samples;

import dev.attune.Attune;
import dev.attune.model.FineTunedModel;
import dev.attune.model.PretrainedModel;
import dev.attune.task.Dataset;
import dev.attune.task.Prediction;
import dev.attune.task.Task;
import dev.attune.train.TrainingConfig;
import java.nio.file.Path;
import java.util.Map;

/**
 * The SDK used as a library: fine-tune a BERT checkpoint for spam detection, evaluate it, save it as
 * a HuggingFace folder, reload it and predict. Run from the project root with
 * {@code java -cp "samples/target/classes:samples/target/lib/*" dev.attune.samples.SpamDetection}.
 */
public final class SpamDetection {
    private SpamDetection() {}

    /**
     * @param args optional: checkpoint folder, data folder, output folder
     */
    public static void main(String[] args) {
        Path checkpoint = Path.of(args.length > 0 ? args[0] : "../shared/models/bert-mini-uncased-mlm");
        Path data = Path.of(args.length > 1 ? args[1] : "../shared/data/sms_spam");
        Path output = Path.of(args.length > 2 ? args[2] : "runs/spam-sample");

        try (Attune attune = Attune.create(); PretrainedModel base = attune.load(checkpoint)) {
            Task task = attune.task("text-classification",
                    Map.of("text_column", "text", "label_column", "label", "positive_label", "spam"));
            Dataset train = task.read(data.resolve("train.tsv"));
            Dataset test = task.read(data.resolve("test.tsv"));

            TrainingConfig config = TrainingConfig.builder()
                    .numTrainEpochs(2)
                    .perDeviceTrainBatchSize(32)
                    .learningRate(1e-4)
                    .warmupRatio(0.1)
                    .weightDecay(0.01)
                    .maxLength(64)
                    .outputDir(output)
                    .build();
            try (FineTunedModel model = attune.fineTune(base, task, train, test, config).model()) {
                System.out.println("test metrics: " + model.evaluate(test, 64));
                model.save(output);
            }
            try (FineTunedModel reloaded = attune.open(output)) {
                Prediction p = reloaded.predictor().predict("WINNER!! Claim your free prize now, call 09061701461");
                System.out.println("prediction: " + p.toMap());
            }
        }
    }
}
