package dev.attune.engine.pytorch;

import dev.attune.formats.hf.HfSources;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.attune.Attune;
import dev.attune.model.FineTunedModel;
import dev.attune.engine.EngineOptions.DeviceSpec;
import dev.attune.error.InvalidCheckpointException;
import dev.attune.error.UnsupportedArchitectureException;
import dev.attune.model.PretrainedModel;
import dev.attune.ops.TensorData;
import dev.attune.task.Dataset;
import dev.attune.task.Features;
import dev.attune.task.Task;
import dev.attune.train.TrainingConfig.EvalStrategy;
import dev.attune.core.train.DefaultTrainer;
import dev.attune.train.TrainingConfig;
import dev.attune.train.Trainer.TrainingResult;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * End-to-end fine-tuning on the PyTorch engine with the tiny fixture BERT: the loss falls and the
 * model learns a separable task, gradient accumulation equals a bigger batch, and a saved model
 * reloads to the same logits.
 */
class FineTuneTest {
    static final Path FIXTURE = dev.attune.testing.SharedFiles.path("fixtures/hf/bert-seqcls");
    static Attune attune;

    @TempDir
    Path tmp;

    @BeforeAll
    static void start() {
        attune = Attune.builder().device(DeviceSpec.CPU).build();
    }

    @AfterAll
    static void stop() {
        attune.close();
    }

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

    @Test
    void learnsASeparableTaskAndLogsEverySteps() throws IOException {
        try (PretrainedModel base = attune.load(FIXTURE)) {
            Task task = attune.task("text-classification", Map.of("positive_label", "spam"));
            Dataset train = task.read(spamData(tmp, "train.tsv", 96, 1));
            Dataset eval = task.read(spamData(tmp, "eval.tsv", 32, 2));
            TrainingConfig config = TrainingConfig.builder()
                    .learningRate(3e-3).numTrainEpochs(4).perDeviceTrainBatchSize(16).warmupRatio(0.1)
                    .weightDecay(0.01).loggingSteps(4).maxLength(16).outputDir(tmp.resolve("run"))
                    .evalStrategy(EvalStrategy.EPOCH).disableTqdm(true).build();
            Attune.Result result = attune.fineTune(base, task, train, eval, config);
            try (FineTunedModel model = result.model()) {
                TrainingResult r = result.training();
                assertThat(r.globalSteps()).isEqualTo(24);
                assertThat(r.evalHistory()).hasSize(4);
                double firstLoss = r.evalHistory().get(0).get("eval_loss");
                assertThat(r.evalMetrics().get("loss")).isLessThan(firstLoss);
                assertThat(r.evalMetrics().get("accuracy")).isGreaterThanOrEqualTo(0.95);
                assertThat(r.evalMetrics().get("f1")).isGreaterThanOrEqualTo(0.95);

                List<String> lines = Files.readAllLines(tmp.resolve("run").resolve(DefaultTrainer.LOG_FILE));
                ObjectMapper json = new ObjectMapper();
                List<JsonNode> steps = new ArrayList<>();
                for (String line : lines) {
                    JsonNode n = json.readTree(line);
                    if (n.has("loss")) {
                        steps.add(n);
                    }
                }
                assertThat(steps).hasSize(6);
                assertThat(steps.get(0).get("step").asInt()).isEqualTo(4);
                // linear warmup over ceil(0.1 * 24) = 3 steps, then linear decay to 0
                assertThat(steps.get(0).get("learning_rate").asDouble()).isCloseTo(3e-3 * (24 - 3) / 21.0, within(1e-12));
                assertThat(steps.get(5).get("learning_rate").asDouble()).isCloseTo(3e-3 * (24 - 23) / 21.0, within(1e-12));
                assertThat(steps.get(0).get("grad_norm").asDouble()).isPositive();
            }
        }
    }

    @Test
    void gradientAccumulationEqualsTheBiggerBatch() throws IOException {
        Map<String, String> noDropout = Map.of("hidden_dropout_prob", "0", "attention_probs_dropout_prob", "0");
        Task task = attune.task("text-classification", Map.of());
        Dataset train = task.read(spamData(tmp, "train.tsv", 16, 3));
        TrainingConfig.Builder common = TrainingConfig.builder().learningRate(1e-3).maxSteps(2).shuffle(false)
                .maxLength(16).disableTqdm(true).evalStrategy(EvalStrategy.NO);
        float[] big = trainedClassifier(noDropout, task, train, common.perDeviceTrainBatchSize(8).build());
        float[] accumulated = trainedClassifier(noDropout, task, train,
                common.perDeviceTrainBatchSize(4).gradientAccumulationSteps(2).build());
        assertThat(accumulated).hasSameSizeAs(big);
        for (int i = 0; i < big.length; i++) {
            assertThat(accumulated[i]).isCloseTo(big[i], within(1e-6f));
        }
    }

    private float[] trainedClassifier(Map<String, String> overrides, Task task, Dataset train, TrainingConfig config) {
        try (PretrainedModel base = attune.load(HfSources.folder(FIXTURE), overrides)) {
            try (FineTunedModel m = attune.fineTune(base, task, train, null, config).model()) {
                return m.stateDict().get("classifier.weight").toFloatArray();
            }
        }
    }

    @Test
    void savedModelReloadsToTheSameLogitsWithHuggingFaceNamesShapesAndTypes() throws IOException {
        Path out = tmp.resolve("saved");
        Task task = attune.task("text-classification", Map.of());
        Dataset train = task.read(spamData(tmp, "train.tsv", 32, 4));
        TrainingConfig config = TrainingConfig.builder().learningRate(1e-3).maxSteps(3).perDeviceTrainBatchSize(8)
                .maxLength(16).disableTqdm(true).evalStrategy(EvalStrategy.NO).build();
        List<float[]> before = new ArrayList<>();
        try (PretrainedModel base = attune.load(FIXTURE);
                FineTunedModel m = attune.fineTune(base, task, train, null, config).model()) {
            m.run(m.encode(train, 16), 8, 0, (f, o) -> before.add(o.get("logits")));
            m.save(out);
        }
        JsonNode saved = new ObjectMapper().readTree(out.resolve("config.json").toFile());
        assertThat(saved.get("architectures").get(0).asText()).isEqualTo("BertForSequenceClassification");
        assertThat(saved.get("id2label").get("0").asText()).isEqualTo("ham");
        assertThat(saved.get("label2id").get("spam").asInt()).isEqualTo(1);
        assertThat(out.resolve("tokenizer.json")).exists();

        List<float[]> after = new ArrayList<>();
        try (FineTunedModel reloaded = attune.open(out)) {
            assertThat(reloaded.loadReport().missing()).isEmpty();
            assertThat(reloaded.loadReport().unused()).isEmpty();
            List<Features> features = reloaded.encode(train, 16);
            reloaded.run(features, 8, 0, (f, o) -> after.add(o.get("logits")));
            // names, shapes and dtypes are those of HuggingFace's own BertForSequenceClassification file
            try (PretrainedModel hf = attune.load(FIXTURE)) {
                for (String name : hf.weights().names()) {
                    TensorData mine = reloaded.stateDict().get(name);
                    assertThat(mine).as(name).isNotNull();
                    assertThat(mine.shape()).as(name).isEqualTo(hf.weights().info(name).shape());
                    assertThat(mine.dtype()).isEqualTo(hf.weights().info(name).dtype());
                }
                assertThat(reloaded.stateDict().keySet()).containsExactlyInAnyOrderElementsOf(hf.weights().names());
            }
        }
        assertThat(after).hasSameSizeAs(before);
        for (int i = 0; i < before.size(); i++) {
            for (int j = 0; j < before.get(i).length; j++) {
                assertThat(after.get(i)[j]).isCloseTo(before.get(i)[j], within(1e-6f));
            }
        }
    }

    @Test
    void unknownModelTypeAndIncompleteConfigAreTypedErrorsNamingTheFileAndKey() throws IOException {
        Path bad = tmp.resolve("bad");
        Files.createDirectories(bad);
        for (String f : List.of("model.safetensors", "tokenizer.json", "tokenizer_config.json")) {
            Files.copy(FIXTURE.resolve(f), bad.resolve(f));
        }
        String config = Files.readString(FIXTURE.resolve("config.json"));
        Task task = attune.task("text-classification", Map.of()).withLabels(List.of("a", "b"));

        Files.writeString(bad.resolve("config.json"), config.replace("\"model_type\": \"bert\"", "\"model_type\": \"nosuchnet\""));
        try (PretrainedModel base = attune.load(bad)) {
            assertThatThrownBy(() -> attune.prepare(base, task, 16))
                    .isInstanceOf(UnsupportedArchitectureException.class)
                    .hasMessageContaining("nosuchnet").hasMessageContaining("bert");
        }
        Files.writeString(bad.resolve("config.json"), config.replace("\"hidden_size\": 32,", ""));
        try (PretrainedModel base = attune.load(bad)) {
            assertThatThrownBy(() -> attune.prepare(base, task, 16))
                    .isInstanceOf(InvalidCheckpointException.class)
                    .hasMessageContaining("hidden_size").hasMessageContaining("config.json");
        }
    }
}
