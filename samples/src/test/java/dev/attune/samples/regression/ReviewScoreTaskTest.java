package dev.attune.samples.regression;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.attune.Attune;
import dev.attune.PluginRegistry;
import dev.attune.engine.EngineOptions.DeviceSpec;
import dev.attune.error.InvalidDataException;
import dev.attune.model.FineTunedModel;
import dev.attune.model.PretrainedModel;
import dev.attune.task.Dataset;
import dev.attune.task.Task;
import dev.attune.task.TaskOptions;
import dev.attune.testing.SharedFiles;
import dev.attune.train.TrainingConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The regression task plugin of one file, used as a library user would: found by name, fine-tuned a
 * few steps on SST-2 sentences scored 1 (negative) or 5 (positive) stars, saved, reopened with
 * {@code Attune.open} and asked for a number. The base is the tiny BERT fixture without a
 * classifier head ({@code bert-mlm}): {@code bert-seqcls} has a two-label head, which a one-output
 * head cannot load (transformers refuses it too, without {@code ignore_mismatched_sizes}).
 */
class ReviewScoreTaskTest {
    @TempDir
    Path tmp;

    /** SST-2 rows {@code from..to} of the shared training file as {@code text, score} with 1 or 5 stars. */
    static Path reviews(Path file, int from, int to) throws Exception {
        List<String> sst2 = Files.readAllLines(SharedFiles.path("data/sst2/train.tsv"));
        List<String> out = new ArrayList<>(List.of("text\tscore"));
        for (String line : sst2.subList(1 + from, 1 + to)) {
            String[] cells = line.split("\t");
            out.add(cells[0].strip() + "\t" + (cells[1].strip().equals("1") ? 5 : 1));
        }
        return Files.write(file, out);
    }

    static Attune attune() {
        return Attune.builder().device(DeviceSpec.CPU).seed(42).build();
    }

    @Test
    void isFoundByNameThroughItsNestedProvider() {
        assertThat(PluginRegistry.discover().tasks()).containsKey(ReviewScoreTask.NAME);
        assertThat(PluginRegistry.discover().task(ReviewScoreTask.NAME).create(TaskOptions.empty()))
                .isInstanceOf(ReviewScoreTask.class);
    }

    @Test
    void fineTunesSavesReopensAndPredictsANumber() throws Exception {
        Path train = reviews(tmp.resolve("train.tsv"), 0, 96);
        Path eval = reviews(tmp.resolve("eval.tsv"), 96, 128);
        Path out = tmp.resolve("review-score");
        TrainingConfig config = TrainingConfig.builder().numTrainEpochs(3).perDeviceTrainBatchSize(16)
                .learningRate(1e-2).maxLength(32).seed(42).disableTqdm(true).build();
        String text = "a charming and affecting journey";

        double before;
        double after;
        double predicted;
        try (Attune attune = attune(); PretrainedModel base = attune.load(SharedFiles.path("fixtures/hf/bert-mlm"))) {
            Task task = attune.task(ReviewScoreTask.NAME, Map.of());
            Dataset trainData = task.read(train);
            Dataset evalData = task.read(eval);
            try (FineTunedModel untrained = attune.prepare(base, task, 32)) {
                Map<String, Double> m = untrained.evaluate(evalData, 16);
                before = m.get("mse");
                // the engine's loss is the task's MSE; the evaluator's mse is computed in Java from the outputs
                assertThat(m.get("loss")).isCloseTo(before, within(1e-4 * before));
            }
            try (FineTunedModel model = attune.fineTune(base, task, trainData, evalData, config).model()) {
                Map<String, Double> m = model.evaluate(evalData, 16);
                after = m.get("mse");
                assertThat(m).containsKeys("rmse", "mae", "pearson", "spearman");
                assertThat(m.get("rmse")).isCloseTo(Math.sqrt(after), within(1e-9));
                predicted = (double) model.predictor().predict(text).toMap().get("score");
                model.save(out);
            }
        }
        // stars are 1 or 5 (mean near 3); the untrained head outputs near 0, so the error must fall
        assertThat(after).isLessThan(before / 2);

        JsonNode config1 = new ObjectMapper().readTree(out.resolve("config.json").toFile());
        assertThat(config1.get("problem_type").asText()).isEqualTo("regression");
        assertThat(config1.get("id2label").size()).as("num_labels, as transformers derives it").isEqualTo(1);
        assertThat(config1.get("id2label").get("0").asText()).isEqualTo("score");
        assertThat(config1.get("label2id").get("score").asInt()).isZero();
        assertThat(config1.get("architectures").get(0).asText()).isEqualTo("BertForSequenceClassification");

        try (Attune attune = attune(); FineTunedModel reopened = attune.open(out)) {
            assertThat(reopened.task()).isInstanceOf(ReviewScoreTask.class);
            Object score = reopened.predictor().predict(text).toMap().get("score");
            assertThat(score).isInstanceOf(Double.class);
            assertThat((double) score).isFinite().isCloseTo(predicted, within(1e-5));
        }
    }

    @Test
    void aScoreThatIsNotANumberIsReportedWithItsFileAndLine() throws Exception {
        Path bad = Files.writeString(tmp.resolve("bad.tsv"), "text\tscore\ngood film\t4\ndull\tthree\n");
        Task task = new ReviewScoreTask(TaskOptions.empty());

        assertThatThrownBy(() -> task.read(bad))
                .isInstanceOf(InvalidDataException.class)
                .hasMessageStartingWith(bad + ":3: the value 'three' of column 'score' (option score_column) is not a number")
                .hasMessageContaining("on_bad_row=skip");
        assertThat(new ReviewScoreTask(new TaskOptions(Map.of("on_bad_row", "skip"))).read(bad).size())
                .isEqualTo(1);
    }
}
