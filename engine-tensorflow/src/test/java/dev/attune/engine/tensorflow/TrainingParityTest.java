package dev.attune.engine.tensorflow;

import dev.attune.formats.hf.HfSources;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.attune.Attune;
import dev.attune.model.FineTunedModel;
import dev.attune.engine.EngineOptions.DeviceSpec;
import dev.attune.model.ModelSource;
import dev.attune.model.PretrainedModel;
import dev.attune.task.Dataset;
import dev.attune.task.Task;
import dev.attune.testing.SharedFiles;
import dev.attune.train.TrainingConfig.EvalStrategy;
import dev.attune.core.train.DefaultTrainer;
import dev.attune.train.TrainingConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The same 12-step fine-tune (fixture BERT, same data in the same order, dropout off, warmup and
 * linear decay, weight decay, clipping, gradient accumulation) through the Trainer on TensorFlow and
 * on PyTorch: the losses agree within {@value #TOLERANCE} at every step.
 */
class TrainingParityTest {
    static final double TOLERANCE = 1e-3;
    static final Path FIXTURE = SharedFiles.path("fixtures/hf/bert-seqcls");

    @TempDir
    Path tmp;

    /** Texts that say "prize" or "winner" are spam; the words come from the fixture vocabulary. */
    static Path spamData(Path dir, String name, int rows, long seed) throws IOException {
        String[] spam = {"free prize now", "winner claim your prize", "claim free prize", "winner winner prize"};
        String[] ham = {"see you at lunch", "the movie was good", "are we still meeting", "the cat sat on the mat"};
        Random r = new Random(seed);
        StringBuilder sb = new StringBuilder("text\tlabel\n");
        for (int i = 0; i < rows; i++) {
            boolean isSpam = r.nextBoolean();
            String[] pool = isSpam ? spam : ham;
            sb.append(pool[r.nextInt(pool.length)]).append(i % 3 == 0 ? " today" : "").append('\t')
                    .append(isSpam ? "spam" : "ham").append('\n');
        }
        Path file = dir.resolve(name);
        Files.writeString(file, sb.toString());
        return file;
    }

    /** Fine-tunes on one engine and returns the per-step losses and gradient norms from the trainer log. */
    private List<double[]> run(String engine, Path data, Path out) throws IOException {
        Map<String, String> noDropout = Map.of("hidden_dropout_prob", "0", "attention_probs_dropout_prob", "0");
        try (Attune attune = Attune.builder().engine(engine).device(DeviceSpec.CPU).numThreads(2).build()) {
            Task task = attune.task("text-classification", Map.of("positive_label", "spam"));
            Dataset train = task.read(data);
            TrainingConfig config = TrainingConfig.builder().learningRate(2e-3).maxSteps(12).perDeviceTrainBatchSize(4)
                    .gradientAccumulationSteps(2).warmupRatio(0.25).weightDecay(0.01).maxGradNorm(1.0).shuffle(false)
                    .loggingSteps(1).maxLength(16).outputDir(out).evalStrategy(EvalStrategy.NO).disableTqdm(true)
                    .build();
            try (PretrainedModel base = attune.load(HfSources.folder(FIXTURE), noDropout);
                    FineTunedModel m = attune.fineTune(base, task, train, null, config).model()) {
                assertThat(m.engineName()).isEqualTo(engine);
            }
        }
        List<double[]> steps = new ArrayList<>();
        ObjectMapper json = new ObjectMapper();
        for (String line : Files.readAllLines(out.resolve(DefaultTrainer.LOG_FILE))) {
            JsonNode n = json.readTree(line);
            if (n.has("loss")) {
                steps.add(new double[] {n.get("loss").asDouble(), n.get("grad_norm").asDouble()});
            }
        }
        return steps;
    }

    @Test
    void tensorFlowAndPyTorchLossesAgreeAtEveryStep() throws IOException {
        Path data = spamData(tmp, "train.tsv", 96, 11);
        List<double[]> tf = run("tensorflow", data, tmp.resolve("tf"));
        List<double[]> pt = run("pytorch", data, tmp.resolve("pt"));
        assertThat(tf).hasSize(12);
        assertThat(pt).hasSize(12);
        double worst = 0;
        for (int i = 0; i < 12; i++) {
            double d = Math.abs(tf.get(i)[0] - pt.get(i)[0]);
            worst = Math.max(worst, d);
            System.out.printf("step %2d  loss tf %.6f  pt %.6f  |diff| %.2e  grad_norm tf %.5f pt %.5f%n", i + 1,
                    tf.get(i)[0], pt.get(i)[0], d, tf.get(i)[1], pt.get(i)[1]);
            assertThat(tf.get(i)[0]).as("loss at step %d", i + 1).isCloseTo(pt.get(i)[0], within(TOLERANCE));
            assertThat(tf.get(i)[1]).as("grad norm at step %d", i + 1).isCloseTo(pt.get(i)[1], within(1e-2 * (1 + pt.get(i)[1])));
        }
        System.out.printf("max per-step |loss tf - loss pt| = %.3g%n", worst);
        // the run learned something: the loss fell
        assertThat(tf.get(11)[0]).isLessThan(tf.get(0)[0]);
    }
}
