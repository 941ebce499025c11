package dev.attune.samples;

import dev.attune.formats.hf.HfSources;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.attune.Attune;
import dev.attune.model.FineTunedModel;
import dev.attune.engine.EngineOptions.DeviceSpec;
import dev.attune.engine.LoweredModel;
import dev.attune.generate.GenerationConfig;
import dev.attune.core.generate.Generator;
import dev.attune.model.HeadSpec.HeadKind;
import dev.attune.model.HeadSpec;
import dev.attune.model.ModelSource;
import dev.attune.model.PretrainedModel;
import dev.attune.task.Dataset;
import dev.attune.task.Task;
import dev.attune.testing.SharedFiles;
import dev.attune.train.TrainingConfig;
import dev.attune.train.Trainer.TrainingResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Short real trainings of the language-modelling tasks on the tiny fixture checkpoints: the loss
 * falls, the metrics improve, and the saved folders load back (for generation, for evaluation).
 */
class LanguageModelTasksTest {
    @TempDir
    Path tmp;

    static Attune attune() {
        return Attune.builder().device(DeviceSpec.CPU).seed(42).build();
    }

    static TrainingConfig.Builder config(Path out) {
        return TrainingConfig.builder().outputDir(out).learningRate(5e-3).perDeviceTrainBatchSize(8)
                .perDeviceEvalBatchSize(8).loggingSteps(1).seed(42).disableTqdm(true).maxLength(64);
    }

    static double firstLoss(Path log) throws Exception {
        for (String line : Files.readAllLines(log)) {
            JsonNode n = new ObjectMapper().readTree(line);
            if (n.has("loss")) {
                return n.get("loss").asDouble();
            }
        }
        throw new AssertionError("no loss in " + log);
    }

    @Test
    void dialogueFineTuneLearnsTheRepliesAndTheSavedModelGenerates() throws Exception {
        Path gpt2 = SharedFiles.path("fixtures/hf/gpt2-lm");
        StringBuilder jsonl = new StringBuilder();
        String[] cities = {"Oakland", "Denver", "Boston", "Austin"};
        for (int i = 0; i < 32; i++) {
            String city = cities[i % cities.length];
            jsonl.append("{\"turns\": [{\"speaker\": \"USER\", \"text\": \"I need a table in ").append(city)
                    .append(".\"}, {\"speaker\": \"SYSTEM\", \"text\": \"What time would you like?\"},")
                    .append(" {\"speaker\": \"USER\", \"text\": \"At 7 pm.\"},")
                    .append(" {\"speaker\": \"SYSTEM\", \"text\": \"Done, see you at 7 pm.\"}]}\n");
        }
        Path data = Files.writeString(tmp.resolve("dialogues.jsonl"), jsonl.toString());
        Path out = tmp.resolve("chat");
        Map<String, String> noDropout = Map.of("embd_pdrop", "0", "resid_pdrop", "0", "attn_pdrop", "0");
        try (Attune attune = attune(); PretrainedModel base = attune.load(HfSources.folder(gpt2), noDropout)) {
            Task task = attune.task("causal-lm", Map.of());
            Dataset train = task.read(data);
            Map<String, Double> before;
            try (FineTunedModel untrained = attune.prepare(base, task, 64)) {
                assertThat(untrained.loadReport().missing()).isEmpty();
                before = untrained.evaluate(train, 8);
            }
            Attune.Result result = attune.fineTune(base, task, train, train, config(out).numTrainEpochs(12).build());
            try (FineTunedModel tuned = result.model()) {
                TrainingResult r = result.training();
                assertThat(r.globalSteps()).isEqualTo(48);
                double first = firstLoss(out.resolve("trainer_log.jsonl"));
                assertThat(r.evalMetrics().get("loss")).isLessThan(first * 0.5);
                // the replies are learned; the user's turns (never in the loss) much less so
                assertThat(r.evalMetrics().get("response_perplexity"))
                        .isLessThan(before.get("response_perplexity") / 10);
                assertThat(r.evalMetrics().get("perplexity")).isGreaterThan(r.evalMetrics().get("response_perplexity"));
                tuned.save(out);
            }
            // the saved folder is a plain GPT2LMHeadModel that generation loads
            JsonNode saved = new ObjectMapper().readTree(out.resolve("config.json").toFile());
            assertThat(saved.get("architectures").get(0).asText()).isEqualTo("GPT2LMHeadModel");
            try (PretrainedModel reloaded = attune.load(out);
                    LoweredModel lm = attune.lower(reloaded, new HeadSpec(HeadKind.CAUSAL_LM, 0))) {
                long[] prompt = reloaded.tokenizer().encode("USER: I need a table in Denver.\nSYSTEM:", null, 64).ids();
                long[] ids = new Generator(lm).generate(prompt,
                        GenerationConfig.builder().greedy().maxNewTokens(8).eosTokenIds(List.of()).build());
                assertThat(ids).hasSize(prompt.length + 8).startsWith(prompt);
            }
            try (FineTunedModel reopened = attune.open(out)) {
                assertThat(reopened.task().name()).isEqualTo("causal-lm");
                assertThat(reopened.evaluate(train, 8).get("response_perplexity"))
                        .isLessThan(before.get("response_perplexity") / 10);
            }
        }
    }

    @Test
    void maskedLmTrainingRaisesMaskedTokenAccuracyAndSavesBertForMaskedLm() throws Exception {
        Path bert = SharedFiles.path("fixtures/hf/bert-mlm");
        String[] sentences = {"the function returns a string value", "this method will call the default handler",
            "open the file and check the first line", "the logger will record an error message"};
        StringBuilder corpus = new StringBuilder();
        Random r = new Random(5);
        for (int i = 0; i < 96; i++) {
            corpus.append(sentences[r.nextInt(sentences.length)]).append('\n');
        }
        Path data = Files.writeString(tmp.resolve("corpus.txt"), corpus.toString());
        Path out = tmp.resolve("mlm");
        try (Attune attune = attune();
                PretrainedModel base = attune.load(HfSources.folder(bert),
                        Map.of("hidden_dropout_prob", "0", "attention_probs_dropout_prob", "0"))) {
            Task task = attune.task("masked-lm", Map.of());
            Dataset train = task.read(data);
            Map<String, Double> before;
            try (FineTunedModel untrained = attune.prepare(base, task, 32)) {
                assertThat(untrained.loadReport().missing()).isEmpty();
                before = untrained.evaluate(train, 16);
            }
            Attune.Result result = attune.fineTune(base, task, train, train,
                    config(out).numTrainEpochs(8).perDeviceTrainBatchSize(16).maxLength(32).build());
            try (FineTunedModel tuned = result.model()) {
                Map<String, Double> after = result.training().evalMetrics();
                assertThat(after.get("loss")).isLessThan(firstLoss(out.resolve("trainer_log.jsonl")) * 0.5);
                assertThat(after.get("masked_tokens")).isEqualTo(before.get("masked_tokens")).isPositive();
                assertThat(after.get("accuracy")).isGreaterThan(before.get("accuracy") + 0.2);
                assertThat(after.get("perplexity")).isLessThan(before.get("perplexity") / 5);
                tuned.save(out);
            }
            JsonNode saved = new ObjectMapper().readTree(out.resolve("config.json").toFile());
            assertThat(saved.get("architectures").get(0).asText()).isEqualTo("BertForMaskedLM");
            try (FineTunedModel reopened = attune.open(out)) {
                Map<String, Object> p = reopened.predictor().predict(Map.of("text", "open the [MASK] and check"))
                        .toMap();
                @SuppressWarnings("unchecked")
                List<Map<String, Object>> masks = (List<Map<String, Object>>) p.get("masks");
                assertThat(masks).hasSize(1);
                assertThat(masks.get(0).get("position")).as("token index: [CLS] open the [MASK]").isEqualTo(3);
                assertThat((List<?>) masks.get(0).get("candidates")).hasSize(5);
            }
        }
    }
}
