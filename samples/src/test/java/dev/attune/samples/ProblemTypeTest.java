package dev.attune.samples;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.offset;
import static org.assertj.core.api.Assertions.within;
import static org.junit.jupiter.api.Named.named;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.attune.Attune;
import dev.attune.engine.EngineOptions.DeviceSpec;
import dev.attune.formats.hf.HfSources;
import dev.attune.model.FineTunedModel;
import dev.attune.model.PretrainedModel;
import dev.attune.task.Dataset;
import dev.attune.task.Features;
import dev.attune.task.Prediction;
import dev.attune.task.Task;
import dev.attune.tasks.classification.MultiLabelPrediction;
import dev.attune.tasks.classification.RegressionPrediction;
import dev.attune.testing.SharedFiles;
import dev.attune.train.TrainingConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Named;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The built-in {@code text-classification} task with {@code problem_type=regression} and {@code
 * multi_label_classification} on each training engine: float labels reach the engine, the engine's
 * loss is the MSE or binary cross-entropy of the outputs (recomputed here), a few steps lower it,
 * and a saved folder states {@code problem_type}, {@code id2label} and {@code label2id} as
 * transformers writes them, reopens as the same kind of task and predicts the same.
 */
class ProblemTypeTest {
    private static final Map<String, String> NO_DROPOUT =
            Map.of("hidden_dropout_prob", "0", "attention_probs_dropout_prob", "0");
    /** Outputs of the untrained model on the first engine, per problem type, to compare the second with. */
    private static final Map<String, List<float[]>> FIRST_ENGINE_LOGITS = new LinkedHashMap<>();

    @TempDir
    Path tmp;

    static Stream<Named<String[]>> cases() {
        List<Named<String[]>> out = new ArrayList<>();
        for (String engine : List.of("pytorch", "tensorflow")) {
            for (String problem : List.of("regression", "multi_label_classification")) {
                out.add(named(problem + " on " + engine, new String[] {engine, problem}));
            }
        }
        return out.stream();
    }

    /** SST-2 rows as a regression (1 or 5 stars) or multi-label (sentiment plus a length tag) file. */
    Path data(String problem) throws Exception {
        List<String> sst2 = Files.readAllLines(SharedFiles.path("data/sst2/train.tsv")).subList(1, 49);
        List<String> out = new ArrayList<>(List.of("text\tlabel"));
        for (String line : sst2) {
            String[] cells = line.split("\t");
            String text = cells[0].strip();
            boolean positive = cells[1].strip().equals("1");
            String label = problem.equals("regression") ? (positive ? "5" : "1")
                    : (positive ? "positive" : "negative") + (text.split(" ").length > 8 ? "|long" : "");
            out.add(text + "\t" + label);
        }
        return Files.write(tmp.resolve(problem + ".tsv"), out);
    }

    /** @return the loss of these outputs as HuggingFace computes it for the problem type */
    static double expectedLoss(String problem, List<Features> features, List<float[]> logits) {
        double sum = 0;
        int count = 0;
        for (int i = 0; i < features.size(); i++) {
            float[] gold = features.get(i).floatFields().get("labels");
            for (int j = 0; j < gold.length; j++) {
                double x = logits.get(i)[j];
                sum += problem.equals("regression") ? (x - gold[j]) * (x - gold[j])
                        : Math.max(x, 0) - x * gold[j] + Math.log1p(Math.exp(-Math.abs(x)));
                count++;
            }
        }
        return sum / count;
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void floatLabelsTrainOnTheEngineAndTheSavedFolderStatesTheProblemType(String[] c) throws Exception {
        String engine = c[0];
        String problem = c[1];
        Path out = tmp.resolve("model");
        try (Attune attune = Attune.builder().engine(engine).device(DeviceSpec.CPU).seed(7).build();
                PretrainedModel base = attune.load(HfSources.of(SharedFiles.path("fixtures/hf/bert-mlm").toString()),
                        NO_DROPOUT)) {
            Task task = attune.task("text-classification", Map.of("problem_type", problem));
            Dataset train = task.read(data(problem));
            Task labelled = task.withLabels(task.inferLabels(train));
            List<String> labels = labelled.labels();
            assertThat(labels).isEqualTo(problem.equals("regression") ? List.of("LABEL_0")
                    : List.of("long", "negative", "positive"));

            Prediction before;
            try (FineTunedModel model = attune.prepare(base, labelled, 32)) {
                List<Features> features = model.encode(train, 32);
                List<float[]> logits = new ArrayList<>();
                double loss = model.run(features, 16, 0, (f, o) -> logits.add(o.get("logits")));
                assertThat(loss).isCloseTo(expectedLoss(problem, features, logits), within(1e-5));
                List<float[]> first = FIRST_ENGINE_LOGITS.putIfAbsent(problem, logits);
                if (first != null) {
                    for (int i = 0; i < logits.size(); i++) {
                        assertThat(logits.get(i)).as("logits of example %d against the other engine", i)
                                .containsExactly(first.get(i), offset(1e-4f));
                    }
                }

                TrainingConfig config = TrainingConfig.builder().maxSteps(6).perDeviceTrainBatchSize(16)
                        .learningRate(1e-2).maxLength(32).seed(7).disableTqdm(true).build();
                attune.trainer(config).train(model, train, null);
                double trained = model.run(features, 16, 0, null);
                assertThat(trained).as("loss after 6 steps (before: %s)", loss).isLessThan(loss);

                before = model.predictor().predict("a charming and often affecting journey");
                model.save(out);
            }

            JsonNode config = new ObjectMapper().readTree(out.resolve("config.json").toFile());
            assertThat(config.get("problem_type").asText()).isEqualTo(problem);
            assertThat(config.get("id2label").size()).as("num_labels, as transformers derives it").isEqualTo(labels.size());
            for (int i = 0; i < labels.size(); i++) {
                assertThat(config.get("id2label").get(Integer.toString(i)).asText()).isEqualTo(labels.get(i));
                assertThat(config.get("label2id").get(labels.get(i)).asInt()).isEqualTo(i);
            }
            assertThat(config.get("attune").get("task_options").get("problem_type").asText()).isEqualTo(problem);

            try (FineTunedModel reopened = attune.open(out)) {
                Prediction after = reopened.predictor().predict("a charming and often affecting journey");
                if (problem.equals("regression")) {
                    assertThat(after).isInstanceOf(RegressionPrediction.class);
                    assertThat(((RegressionPrediction) after).score())
                            .isCloseTo(((RegressionPrediction) before).score(), within(1e-5));
                } else {
                    assertThat(after).isInstanceOf(MultiLabelPrediction.class);
                    MultiLabelPrediction a = (MultiLabelPrediction) after;
                    assertThat(a.labels()).isEqualTo(((MultiLabelPrediction) before).labels());
                    assertThat(a.probabilities().keySet()).containsExactlyElementsOf(labels);
                    a.probabilities().forEach((k, p) -> assertThat(p)
                            .isCloseTo(((MultiLabelPrediction) before).probabilities().get(k), within(1e-5)));
                }
            }
        }
    }
}
