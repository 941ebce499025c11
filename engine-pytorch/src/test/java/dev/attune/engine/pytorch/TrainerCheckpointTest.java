package dev.attune.engine.pytorch;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.attune.Attune;
import dev.attune.model.FineTunedModel;
import dev.attune.engine.EngineOptions.DeviceSpec;
import dev.attune.error.AttuneException;
import dev.attune.error.ConfigurationException;
import dev.attune.error.InvalidCheckpointException;
import dev.attune.error.TrainingStoppedException;
import dev.attune.formats.hf.SafetensorsStore;
import dev.attune.model.PretrainedModel;
import dev.attune.task.Dataset;
import dev.attune.task.Task;
import dev.attune.testing.TensorBoardEvents;
import dev.attune.train.TrainingConfig.EvalStrategy;
import dev.attune.train.TrainingConfig.SchedulerType;
import dev.attune.core.train.DefaultTrainer;
import dev.attune.train.TrainingConfig;
import dev.attune.train.TrainingControl;
import dev.attune.train.Trainer.TrainingResult;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Checkpoints, resume, NaN handling, early stopping, rotation and best-model tracking, freezing and
 * layer-wise rates, and the TensorBoard log, on the tiny fixture BERT with dropout on.
 */
class TrainerCheckpointTest {
    static Attune attune;
    static PretrainedModel base;

    @TempDir
    Path tmp;
    Task task;
    Dataset train;
    Dataset eval;

    @BeforeAll
    static void start() {
        attune = Attune.builder().device(DeviceSpec.CPU).build();
        base = attune.load(FineTuneTest.FIXTURE);
    }

    @AfterAll
    static void stop() {
        base.close();
        attune.close();
    }

    @BeforeEach
    void data() throws IOException {
        Task t = attune.task("text-classification", Map.of("positive_label", "spam"));
        train = t.read(FineTuneTest.spamData(tmp, "train.tsv", 40, 1));
        eval = t.read(FineTuneTest.spamData(tmp, "eval.tsv", 16, 2));
        task = t.withLabels(t.inferLabels(train));
    }

    TrainingConfig.Builder common(Path out) {
        return TrainingConfig.builder().outputDir(out).learningRate(2e-3).numTrainEpochs(3).perDeviceTrainBatchSize(8)
                .warmupRatio(0.2).weightDecay(0.01).loggingSteps(1).maxLength(16).disableTqdm(true)
                .groupByLength(true).evalStrategy(EvalStrategy.EPOCH).saveSteps(out == null ? 0 : 4);
    }

    record Run(TrainingResult result, Map<String, float[]> weights) {}

    Run fit(TrainingConfig config, long initSeed) {
        return fit(config, initSeed, new TrainingControl());
    }

    Run fit(TrainingConfig config, long initSeed, TrainingControl control) {
        try (FineTunedModel m = attune.prepare(base, task, 16, initSeed)) {
            TrainingResult r = new DefaultTrainer(config, control).train(m, train, eval);
            Map<String, float[]> w = new java.util.LinkedHashMap<>();
            m.stateDict().forEach((k, v) -> w.put(k, v.toFloatArray()));
            return new Run(r, w);
        }
    }

    static void assertBitIdentical(Map<String, float[]> actual, Map<String, float[]> expected) {
        assertThat(actual.keySet()).containsExactlyElementsOf(expected.keySet());
        for (String k : expected.keySet()) {
            float[] a = actual.get(k);
            float[] e = expected.get(k);
            int[] ab = new int[a.length];
            int[] eb = new int[e.length];
            for (int i = 0; i < a.length; i++) {
                ab[i] = Float.floatToRawIntBits(a[i]);
                eb[i] = Float.floatToRawIntBits(e[i]);
            }
            assertThat(ab).as(k).isEqualTo(eb);
        }
    }

    @Test
    void resumingFromACheckpointEndsBitForBitWhereTheUninterruptedRunEnds() throws IOException {
        Path outA = tmp.resolve("a");
        Run a = fit(common(outA).build(), 42);
        assertThat(a.result().globalSteps()).isEqualTo(15);
        assertThat(Files.list(outA).map(p -> p.getFileName().toString()).filter(n -> n.startsWith("checkpoint-")))
                .containsExactlyInAnyOrder("checkpoint-4", "checkpoint-8", "checkpoint-12");

        Path ckpt = outA.resolve("checkpoint-8");
        JsonNode state = new ObjectMapper().readTree(ckpt.resolve("trainer_state.json").toFile());
        assertThat(state.get("global_step").asLong()).isEqualTo(8);
        assertThat(state.get("optimizer_steps").asLong()).isEqualTo(8);
        assertThat(state.get("epoch").asInt()).isEqualTo(1);
        assertThat(state.get("batch_in_epoch").asInt()).isEqualTo(3);
        assertThat(state.get("eval_history")).hasSize(1);
        assertThat(state.get("max_steps").asLong()).isEqualTo(15);
        // HuggingFace's log_history: every record so far, the 8 steps and the first epoch's evaluation
        List<JsonNode> history = new ArrayList<>();
        state.get("log_history").forEach(history::add);
        assertThat(history).filteredOn(n -> n.has("loss")).extracting(n -> n.get("step").asInt())
                .containsExactly(1, 2, 3, 4, 5, 6, 7, 8);
        assertThat(history).filteredOn(n -> n.has("eval_accuracy")).hasSize(1);
        try (SafetensorsStore opt = SafetensorsStore.openFile(ckpt.resolve("optimizer.safetensors"))) {
            assertThat(opt.names()).contains("exp_avg/classifier.weight", "exp_avg_sq/bert.embeddings.word_embeddings.weight");
            assertThat(opt.names()).hasSize(2 * a.weights().size());
        }
        // a checkpoint is a complete model folder too
        try (FineTunedModel reopened = attune.open(ckpt)) {
            assertThat(reopened.loadReport().missing()).isEmpty();
        }

        // a model initialised differently, resumed: every weight comes from the checkpoint
        Path outB = tmp.resolve("b");
        Run b = fit(common(outB).resumeFromCheckpoint(ckpt).build(), 7);
        assertThat(b.result().globalSteps()).isEqualTo(15);
        assertBitIdentical(b.weights(), a.weights());
        assertThat(b.result().evalHistory()).hasSize(3);
        assertThat(b.result().evalMetrics()).isEqualTo(a.result().evalMetrics());
        assertThat(b.result().trainLoss()).isEqualTo(a.result().trainLoss());
        // the resumed log holds steps 9..15 only, one line each
        List<JsonNode> steps = new ArrayList<>();
        for (String line : Files.readAllLines(outB.resolve(DefaultTrainer.LOG_FILE))) {
            JsonNode n = new ObjectMapper().readTree(line);
            if (n.has("loss")) {
                steps.add(n);
            }
        }
        assertThat(steps).extracting(n -> n.get("step").asInt()).containsExactly(9, 10, 11, 12, 13, 14, 15);

        // a checkpoint in the first layout of trainer_state.json (before TrainerState: no log_history,
        // max_steps, batches_per_epoch) resumes alike
        Path old = tmp.resolve("old-layout").resolve("checkpoint-8");
        copyTree(ckpt, old);
        com.fasterxml.jackson.databind.node.ObjectNode firstLayout =
                (com.fasterxml.jackson.databind.node.ObjectNode) new ObjectMapper().readTree(old.resolve("trainer_state.json").toFile());
        firstLayout.retain("format", "global_step", "epoch", "batch_in_epoch", "micro_batches", "samples", "loss_sum",
                "loss_count", "window_loss", "window_count", "train_seconds", "eval_history", "last_eval", "last_metric",
                "last_eval_step", "best_metric", "best_model_checkpoint", "early_stopping_best",
                "evals_without_improvement", "run", "shuffler", "optimizer_steps");
        assertThat(firstLayout.size()).isEqualTo(22);
        Files.writeString(old.resolve("trainer_state.json"), firstLayout.toPrettyString());
        Run c = fit(common(tmp.resolve("old-out")).resumeFromCheckpoint(old).build(), 7);
        assertThat(c.result().globalSteps()).isEqualTo(15);
        assertBitIdentical(c.weights(), a.weights());
        assertThat(c.result().evalMetrics()).isEqualTo(a.result().evalMetrics());
        assertThat(c.result().evalHistory()).isEqualTo(a.result().evalHistory());

        // resuming with other settings is refused, naming the setting
        assertThatThrownBy(() -> fit(common(tmp.resolve("c")).seed(1).resumeFromCheckpoint(ckpt).build(), 42))
                .isInstanceOf(InvalidCheckpointException.class).hasMessageContaining("seed")
                .hasMessageContaining("trainer_state.json");
    }

    static void copyTree(Path from, Path to) throws IOException {
        Files.createDirectories(to.getParent());
        try (Stream<Path> s = Files.walk(from)) {
            for (Path p : s.toList()) {
                Files.copy(p, to.resolve(from.relativize(p).toString()));
            }
        }
    }

    /** A control whose listener requests a stop when the run logs the given step. */
    static TrainingControl stopAt(long step, List<Map<String, Object>> heard) {
        TrainingControl control = new TrainingControl();
        control.addListener(record -> {
            heard.add(record);
            if (record.containsKey("loss") && ((Number) record.get("step")).longValue() == step) {
                control.requestStop("stopped by the test");
            }
        });
        return control;
    }

    @Test
    void aRequestedStopCheckpointsWhereItStopsAndTheResumedRunEndsBitForBitAsTheUninterruptedOne() throws IOException {
        Run a = fit(common(tmp.resolve("a")).build(), 42);
        Path out = tmp.resolve("stopped");
        List<Map<String, Object>> heard = new java.util.concurrent.CopyOnWriteArrayList<>();
        // step 6 is the first of the second epoch; save steps (4) would not have written it
        assertThatThrownBy(() -> fit(common(out).build(), 42, stopAt(6, heard)))
                .isInstanceOfSatisfying(TrainingStoppedException.class, e -> {
                    assertThat(e.step()).isEqualTo(6);
                    assertThat(e.checkpoint()).contains(out.resolve("checkpoint-6"));
                })
                .hasMessageContaining("stopped by the test").hasMessageContaining("after step 6 of 15")
                .hasMessageContaining("checkpoint-6");
        // the listener heard the step records, the first epoch's evaluation and the stop
        assertThat(heard).filteredOn(r -> r.containsKey("loss")).extracting(r -> ((Number) r.get("step")).intValue())
                .containsExactly(1, 2, 3, 4, 5, 6);
        assertThat(heard).filteredOn(r -> r.containsKey("eval_accuracy")).hasSize(1);
        assertThat(heard.get(heard.size() - 1)).containsEntry("stopped", "stopped by the test");
        String last = Files.readAllLines(out.resolve(DefaultTrainer.LOG_FILE)).stream().reduce((x, y) -> y).orElseThrow();
        assertThat(new ObjectMapper().readTree(last).get("checkpoint").asText()).endsWith("checkpoint-6");

        JsonNode state = new ObjectMapper().readTree(out.resolve("checkpoint-6/trainer_state.json").toFile());
        assertThat(state.get("global_step").asInt()).isEqualTo(6);
        assertThat(state.get("batch_in_epoch").asInt()).isEqualTo(1);
        double secondsBefore = state.get("train_seconds").asDouble();
        assertThat(secondsBefore).isPositive();

        Run b = fit(common(tmp.resolve("b")).resumeFromCheckpoint(out.resolve("checkpoint-6")).build(), 7);
        assertThat(b.result().globalSteps()).isEqualTo(15);
        assertBitIdentical(b.weights(), a.weights());
        assertThat(b.result().evalMetrics()).isEqualTo(a.result().evalMetrics());
        // training time adds up over the interrupted and the resumed part
        assertThat(b.result().trainSeconds()).isGreaterThan(secondsBefore);
    }

    @Test
    void aStopBeforeTheFirstStepOrWithoutCheckpointsWritesNothingNew() {
        Path out = tmp.resolve("early-stop");
        TrainingControl before = new TrainingControl();
        before.requestStop();
        assertThat(before.isStopRequested()).isTrue();
        assertThatThrownBy(() -> fit(common(out).build(), 42, before))
                .isInstanceOfSatisfying(TrainingStoppedException.class, e -> assertThat(e.checkpoint()).isEmpty())
                .hasMessageContaining("stop requested").hasMessageContaining("before its first step");
        assertThat(DefaultTrainer.latestCheckpoint(out)).isEmpty();

        Path quiet = tmp.resolve("no-stop-checkpoint");
        List<Map<String, Object>> heard = new java.util.concurrent.CopyOnWriteArrayList<>();
        assertThatThrownBy(() -> fit(common(quiet).build(), 42, stopAt(6, heard).checkpointOnStop(false)))
                .isInstanceOfSatisfying(TrainingStoppedException.class, e -> assertThat(e.checkpoint()).isEmpty())
                .hasMessageContaining("no checkpoint was written");
        // the save-steps checkpoint is there, none at the stop
        assertThat(DefaultTrainer.latestCheckpoint(quiet)).contains(quiet.resolve("checkpoint-4"));
    }

    @Test
    void nonFiniteLossStopsWithAClearErrorAndKeepsTheLastGoodCheckpoint() throws IOException {
        Path out = tmp.resolve("nan");
        // a huge constant rate overflows the weights on the first update; the second forward pass is NaN
        TrainingConfig config = common(out).learningRate(1e37).lrSchedulerType(SchedulerType.CONSTANT).maxGradNorm(0)
                .weightDecay(0).saveSteps(1).evalStrategy(EvalStrategy.NO).build();
        assertThatThrownBy(() -> fit(config, 42)).isInstanceOf(AttuneException.class)
                .hasMessageContaining("training loss became").hasMessageContaining("at step 2")
                .hasMessageContaining("checkpoint-1");
        assertThat(DefaultTrainer.latestCheckpoint(out)).contains(out.resolve("checkpoint-1"));
        JsonNode state = new ObjectMapper().readTree(out.resolve("checkpoint-1/trainer_state.json").toFile());
        assertThat(state.get("global_step").asInt()).isEqualTo(1);
        try (Stream<Path> s = Files.list(out)) {
            assertThat(s.map(p -> p.getFileName().toString())).noneMatch(n -> n.startsWith("."));
        }
        String last = Files.readAllLines(out.resolve(DefaultTrainer.LOG_FILE)).stream().reduce((x, y) -> y).orElseThrow();
        assertThat(last).contains("\"error\"").contains("training loss became");
    }

    @Test
    void earlyStoppingWaitsForPatienceEvaluationsWithoutImprovement() throws IOException {
        Path out = tmp.resolve("early");
        // nothing improves the loss by 100: the second evaluation uses up a patience of 1
        TrainingConfig config = common(out).numTrainEpochs(10).evalStrategy(EvalStrategy.STEPS).evalSteps(2)
                .earlyStoppingPatience(1).earlyStoppingThreshold(100).saveSteps(0).build();
        Run r = fit(config, 42);
        assertThat(r.result().globalSteps()).isEqualTo(4);
        assertThat(r.result().evalHistory()).hasSize(2);
        JsonNode state = new ObjectMapper().readTree(out.resolve("trainer_state.json").toFile());
        assertThat(state.get("stopped_early").asBoolean()).isTrue();
        assertThat(state.get("evals_without_improvement").asInt()).isEqualTo(1);
    }

    @Test
    void evalOnStartScoresTheStartingModelWithoutCountingItForEarlyStopping() throws IOException {
        Path out = tmp.resolve("start");
        // as above, but a step-0 evaluation first: were it counted, the run would stop after step 2
        TrainingConfig config = common(out).numTrainEpochs(10).evalStrategy(EvalStrategy.STEPS).evalSteps(2)
                .earlyStoppingPatience(1).earlyStoppingThreshold(100).saveSteps(0).evalOnStart(true).build();
        Run r = fit(config, 42);
        assertThat(r.result().globalSteps()).isEqualTo(4);
        List<Map<String, Double>> history = r.result().evalHistory();
        assertThat(history).extracting(h -> h.get("step")).containsExactly(0.0, 2.0, 4.0);
        // step 0 scores the model as prepared, before any update: the same numbers as evaluating it directly
        Map<String, Double> untrained;
        try (FineTunedModel m = attune.prepare(base, task, 16, 42)) {
            untrained = m.evaluate(eval, m.encode(eval, 16), 32);
        }
        assertThat(history.get(0).get("eval_loss")).isCloseTo(untrained.get("loss"), within(1e-6));
        assertThat(history.get(0).get("eval_accuracy")).isEqualTo(untrained.get("accuracy"));
        assertThat(history.get(2).get("eval_loss")).isNotCloseTo(untrained.get("loss"), within(1e-6));
        List<String> lines = Files.readAllLines(out.resolve("trainer_log.jsonl"));
        assertThat(lines.get(0)).startsWith("{\"step\":0,").contains("\"eval_loss\"");
        // every evaluation record carries a whole step number, as the training records do
        assertThat(lines).filteredOn(l -> l.contains("\"eval_loss\"")).hasSize(3)
                .allSatisfy(l -> assertThat(l).matches("\\{\"step\":\\d+,.*"));
        // without evaluation data there is nothing to score: refused before the model is touched
        TrainingConfig noEval = common(tmp.resolve("none")).evalOnStart(true).build();
        try (FineTunedModel m = attune.prepare(base, task, 16, 42)) {
            assertThatThrownBy(() -> new DefaultTrainer(noEval).train(m, train, null))
                    .isInstanceOf(ConfigurationException.class).hasMessageContaining("evalOnStart needs evaluation data");
        }
    }

    @Test
    void rotationKeepsTheNewestAndTheBestAndLoadsTheBestAtTheEnd() throws IOException {
        Path out = tmp.resolve("rot");
        TrainingConfig config = common(out).numTrainEpochs(4).learningRate(5e-3).evalStrategy(EvalStrategy.STEPS)
                .evalSteps(2).saveSteps(2).saveTotalLimit(2).metricForBestModel("eval_loss").loadBestModelAtEnd(true)
                .build();
        Run r = fit(config, 42);
        assertThat(r.result().globalSteps()).isEqualTo(20);
        // the best evaluation by loss among the saved steps
        Map<String, Double> best = r.result().evalHistory().stream()
                .min((x, y) -> Double.compare(x.get("eval_loss"), y.get("eval_loss"))).orElseThrow();
        String bestName = "checkpoint-" + best.get("step").intValue();
        List<String> expected = new ArrayList<>(List.of("checkpoint-18", "checkpoint-20"));
        if (!expected.contains(bestName)) {
            expected.add(bestName);
        }
        List<String> present;
        try (Stream<Path> s = Files.list(out)) {
            present = s.map(p -> p.getFileName().toString()).filter(n -> n.contains("checkpoint-")).toList();
        }
        assertThat(present).containsExactlyInAnyOrderElementsOf(expected);
        JsonNode state = new ObjectMapper().readTree(out.resolve("trainer_state.json").toFile());
        assertThat(state.get("best_model_checkpoint").asText()).isEqualTo(bestName);
        assertThat(state.get("best_metric").asDouble()).isEqualTo(best.get("eval_loss"));
        // load_best_model_at_end: the returned weights are the best checkpoint's
        try (SafetensorsStore s = SafetensorsStore.openFile(out.resolve(bestName).resolve("model.safetensors"))) {
            Map<String, float[]> saved = new java.util.LinkedHashMap<>();
            for (String k : r.weights().keySet()) {
                saved.put(k, s.read(k).toFloatArray());
            }
            assertBitIdentical(r.weights(), saved);
        }
    }

    Map<String, float[]> initial() {
        try (FineTunedModel m = attune.prepare(base, task, 16, 42)) {
            Map<String, float[]> w = new java.util.LinkedHashMap<>();
            m.stateDict().forEach((k, v) -> w.put(k, v.toFloatArray()));
            return w;
        }
    }

    static double maxAbsDiff(float[] a, float[] b) {
        double m = 0;
        for (int i = 0; i < a.length; i++) {
            m = Math.max(m, Math.abs(a[i] - b[i]));
        }
        return m;
    }

    @Test
    void headOnlyFreezingAndGradualUnfreezingHoldTheRightLayersFixed() {
        Map<String, float[]> before = initial();
        Run head = fit(common(null).numTrainEpochs(1).trainHeadOnly(true).build(), 42);
        head.weights().forEach((k, v) -> {
            if (k.startsWith("classifier.")) {
                assertThat(maxAbsDiff(v, before.get(k))).as(k).isPositive();
            } else {
                assertThat(v).as(k).isEqualTo(before.get(k));
            }
        });
        Run layers = fit(common(null).numTrainEpochs(1).freezeLayers(1).build(), 42);
        layers.weights().forEach((k, v) -> {
            boolean fixed = k.contains("embeddings") || k.contains("layer.0.");
            if (fixed) {
                assertThat(v).as(k).isEqualTo(before.get(k));
            } else if (k.endsWith("weight")) {
                assertThat(maxAbsDiff(v, before.get(k))).as(k).isPositive();
            }
        });
        // 4 groups (embeddings, layer 0, layer 1, pooler + head); epoch 1 trains the top group, epoch 2 adds
        // layer 1: after two epochs layer 0 and the embeddings are untouched
        Run gradual = fit(common(null).numTrainEpochs(2).gradualUnfreezing(true).build(), 42);
        gradual.weights().forEach((k, v) -> {
            boolean fixed = k.contains("embeddings") || k.contains("layer.0.");
            if (fixed) {
                assertThat(v).as(k).isEqualTo(before.get(k));
            } else if (k.endsWith("weight")) {
                assertThat(maxAbsDiff(v, before.get(k))).as(k).isPositive();
            }
        });
    }

    @Test
    void layerWiseDecayScalesTheFirstAdamStepPerGroup() {
        Map<String, float[]> before = initial();
        double lr = 1e-3;
        // one AdamW step moves each weight by ~lr * scale (m/sqrt(v) is the gradient's sign on step 1)
        Run r = fit(common(null).maxSteps(1).learningRate(lr).warmupRatio(0).weightDecay(0).maxGradNorm(0)
                .lrSchedulerType(SchedulerType.CONSTANT).layerwiseLrDecay(0.5).evalStrategy(EvalStrategy.NO).build(), 42);
        assertThat(maxAbsDiff(r.weights().get("classifier.weight"), before.get("classifier.weight")))
                .isCloseTo(lr, within(lr * 0.01));
        String l1 = "bert.encoder.layer.1.attention.self.query.weight";
        String l0 = "bert.encoder.layer.0.attention.self.query.weight";
        String emb = "bert.embeddings.position_embeddings.weight";
        assertThat(maxAbsDiff(r.weights().get(l1), before.get(l1))).isCloseTo(lr * 0.5, within(lr * 0.01));
        assertThat(maxAbsDiff(r.weights().get(l0), before.get(l0))).isCloseTo(lr * 0.25, within(lr * 0.01));
        assertThat(maxAbsDiff(r.weights().get(emb), before.get(emb))).isCloseTo(lr * 0.125, within(lr * 0.01));
    }

    @Test
    void tensorBoardEventFileHoldsTheLoggedScalars() throws IOException {
        Path out = tmp.resolve("tb");
        fit(common(out).numTrainEpochs(1).saveSteps(0).build(), 42);
        Path file;
        try (Stream<Path> s = Files.list(out.resolve(DefaultTrainer.TENSORBOARD_DIR))) {
            file = s.filter(p -> p.getFileName().toString().startsWith("events.out.tfevents.")).findFirst().orElseThrow();
        }
        List<TensorBoardEvents.Event> events = TensorBoardEvents.read(file);
        assertThat(events.get(0).fileVersion()).isEqualTo("brain.Event:2");
        List<JsonNode> logged = new ArrayList<>();
        for (String line : Files.readAllLines(out.resolve(DefaultTrainer.LOG_FILE))) {
            logged.add(new ObjectMapper().readTree(line));
        }
        List<TensorBoardEvents.Event> losses = events.stream().filter(e -> "train/loss".equals(e.tag())).toList();
        List<JsonNode> lossLines = logged.stream().filter(n -> n.has("loss")).toList();
        assertThat(losses).hasSameSizeAs(lossLines).hasSize(5);
        for (int i = 0; i < losses.size(); i++) {
            assertThat(losses.get(i).step()).isEqualTo(lossLines.get(i).get("step").asLong());
            assertThat(losses.get(i).value()).isEqualTo((float) lossLines.get(i).get("loss").asDouble());
        }
        assertThat(events).anyMatch(e -> "train/learning_rate".equals(e.tag()));
        assertThat(events).anyMatch(e -> "train/grad_norm".equals(e.tag()) && e.value() > 0);
        JsonNode evalLine = logged.stream().filter(n -> n.has("eval_accuracy")).findFirst().orElseThrow();
        assertThat(events).anyMatch(e -> "eval/accuracy".equals(e.tag())
                && e.value() == (float) evalLine.get("eval_accuracy").asDouble() && e.step() == 5);
    }
}
