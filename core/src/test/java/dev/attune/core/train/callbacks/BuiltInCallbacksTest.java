package dev.attune.core.train.callbacks;

import static org.assertj.core.api.Assertions.assertThat;

import dev.attune.model.FineTunedModel;
import dev.attune.task.Dataset;
import dev.attune.task.Example;
import dev.attune.task.Task;
import dev.attune.train.TrainerCallback;
import dev.attune.train.TrainerState;
import dev.attune.train.TrainingConfig;
import dev.attune.train.TrainingConfig.EvalStrategy;
import java.awt.image.BufferedImage;
import java.lang.reflect.Proxy;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The built-in callbacks' decisions, each on a hand-made context (no engine, no model). */
class BuiltInCallbacksTest {
    static final Example ROW = () -> "data.tsv:2";

    /** A run at a step: its config, its state as a callback sees it, and the flags. */
    record Ctx(TrainingConfig config, TrainerState state, FineTunedModel model, Dataset train, Optional<Dataset> eval,
            TrainerCallback.Control control) implements TrainerCallback.Context {}

    static TrainerState state(long step, long maxSteps, int evalsWithoutImprovement) {
        return new TrainerState(null, step, maxSteps, 0, (int) step, (int) maxSteps, step, step * 8, 0, step, 0, 0, 1.0,
                List.of(), List.of(), Map.of(), null, -1, null, null, 0.5, evalsWithoutImprovement, Map.of(), null,
                null, null, null);
    }

    /** A model whose task has the given primary metric; nothing else is called. */
    static FineTunedModel model(String primaryMetric) {
        Task task = (Task) Proxy.newProxyInstance(Task.class.getClassLoader(), new Class<?>[] {Task.class},
                (p, m, a) -> switch (m.getName()) {
                    case "primaryMetric" -> primaryMetric;
                    case "greaterIsBetter" -> true;
                    default -> throw new UnsupportedOperationException(m.getName());
                });
        return (FineTunedModel) Proxy.newProxyInstance(FineTunedModel.class.getClassLoader(),
                new Class<?>[] {FineTunedModel.class}, (p, m, a) -> {
                    if (m.getName().equals("task")) {
                        return task;
                    }
                    throw new UnsupportedOperationException(m.getName());
                });
    }

    static Ctx at(TrainingConfig config, TrainerState state, boolean withEval) {
        Dataset data = new Dataset("data.tsv", List.of(ROW), 0);
        return new Ctx(config, state, model("f1"), data, withEval ? Optional.of(data) : Optional.empty(),
                new TrainerCallback.Control());
    }

    @Test
    void theDefaultFlowLogsAndEvaluatesOnTheConfiguredStepsAndAtTheEnd() {
        TrainingConfig config = TrainingConfig.builder().loggingSteps(4).evalStrategy(EvalStrategy.STEPS).evalSteps(6)
                .build();
        DefaultFlowCallback flow = new DefaultFlowCallback();
        List<Long> logged = new ArrayList<>();
        List<Long> evaluated = new ArrayList<>();
        for (long step = 1; step <= 14; step++) {
            Ctx c = at(config, state(step, 14, 0), true);
            flow.onStepEnd(c);
            if (c.control().shouldLog()) {
                logged.add(step);
            }
            if (c.control().shouldEvaluate()) {
                evaluated.add(step);
            }
        }
        assertThat(logged).containsExactly(4L, 8L, 12L, 14L);
        assertThat(evaluated).containsExactly(6L, 12L, 14L);
        // without evaluation data nothing is evaluated; with the epoch strategy only at epoch ends, unless stopped
        Ctx noEval = at(config, state(6, 14, 0), false);
        flow.onStepEnd(noEval);
        assertThat(noEval.control().shouldEvaluate()).isFalse();
        TrainingConfig epochs = TrainingConfig.builder().build();
        Ctx end = at(epochs, state(6, 14, 0), true);
        flow.onStepEnd(end);
        assertThat(end.control().shouldEvaluate()).isFalse();
        flow.onEpochEnd(end);
        assertThat(end.control().shouldEvaluate()).isTrue();
        Ctx stopped = at(epochs, state(6, 14, 0), true);
        stopped.control().shouldTrainingStop(true);
        flow.onEpochEnd(stopped);
        assertThat(stopped.control().shouldEvaluate()).isFalse();
    }

    @Test
    void checkpointsAreAskedForEverySaveStepsAndAtEpochEndsOnlyWithAnOutputFolder() {
        TrainingConfig config = TrainingConfig.builder().outputDir(Path.of("out")).saveSteps(5).saveOnEpochEnd(true)
                .build();
        CheckpointCallback checkpoints = new CheckpointCallback();
        List<Long> saved = new ArrayList<>();
        for (long step = 1; step <= 12; step++) {
            Ctx c = at(config, state(step, 12, 0), false);
            checkpoints.onStepEnd(c);
            if (c.control().shouldSave()) {
                saved.add(step);
            }
        }
        assertThat(saved).containsExactly(5L, 10L);
        Ctx end = at(config, state(12, 12, 0), false);
        checkpoints.onEpochEnd(end);
        assertThat(end.control().shouldSave()).isTrue();
        Ctx none = at(TrainingConfig.builder().build(), state(5, 12, 0), false);
        checkpoints.onStepEnd(none);
        checkpoints.onEpochEnd(none);
        assertThat(none.control().shouldSave()).isFalse();
    }

    @Test
    void earlyStoppingStopsOnceThePatienceIsUsedUp() {
        TrainingConfig config = TrainingConfig.builder().earlyStoppingPatience(2).build();
        EarlyStoppingCallback early = new EarlyStoppingCallback();
        Ctx patient = at(config, state(10, 100, 1), true);
        early.onEvaluate(patient, Map.of("f1", 0.5));
        assertThat(patient.control().shouldTrainingStop()).isFalse();
        Ctx out = at(config, state(20, 100, 2), true);
        early.onEvaluate(out, Map.of("f1", 0.5));
        assertThat(out.control().shouldTrainingStop()).isTrue();
        Ctx off = at(TrainingConfig.builder().build(), state(20, 100, 7), true);
        early.onEvaluate(off, Map.of("f1", 0.5));
        assertThat(off.control().shouldTrainingStop()).isFalse();
    }

    @Test
    void theProgressBarIsOffWithoutATerminalUnlessAskedFor() {
        // the test runner's standard streams are no terminal
        assertThat(ProgressBarCallback.stderrIsTerminal()).isFalse();
        ProgressBarCallback unset = new ProgressBarCallback();
        unset.onTrainBegin(at(TrainingConfig.builder().build(), state(0, 10, 0), false));
        assertThat(unset.showing()).isFalse();
        unset.onStepEnd(at(TrainingConfig.builder().build(), state(1, 10, 0), false));
        unset.close();

        ProgressBarCallback asked = new ProgressBarCallback();
        asked.onTrainBegin(at(TrainingConfig.builder().disableTqdm(false).build(), state(3, 10, 0), false));
        try {
            assertThat(asked.showing()).isTrue();
            asked.onStepEnd(at(TrainingConfig.builder().disableTqdm(false).build(), state(4, 10, 0), false));
        } finally {
            asked.close();
        }
        assertThat(asked.showing()).isFalse();

        ProgressBarCallback off = new ProgressBarCallback();
        off.onTrainBegin(at(TrainingConfig.builder().disableTqdm(true).build(), state(0, 10, 0), false));
        assertThat(off.showing()).isFalse();
    }

    @Test
    void plotsDrawTheLossAndEveryEvalMetricFromTheLogHistory(@TempDir Path tmp) throws Exception {
        List<Map<String, Object>> records = new ArrayList<>();
        records.add(Map.of("step", 0, "epoch", 0.0, "eval_loss", 0.7, "eval_accuracy", 0.5));
        for (int step = 1; step <= 6; step++) {
            records.add(Map.of("step", step, "loss", 1.0 / step, "learning_rate", 1e-3));
            if (step % 3 == 0) {
                Map<String, Object> eval = new LinkedHashMap<>();
                eval.put("step", step);
                eval.put("eval_loss", 0.7 / step);
                eval.put("eval_accuracy", Double.NaN); // not drawn, not fatal
                records.add(eval);
            }
        }
        Map<String, Object> stopped = new LinkedHashMap<>();
        stopped.put("step", 6);
        stopped.put("stopped", "by the test");
        stopped.put("checkpoint", null);
        records.add(stopped);
        List<Path> written = PlotsCallback.write(tmp, records);
        assertThat(written).containsExactly(tmp.resolve(PlotsCallback.TRAIN_LOSS), tmp.resolve(PlotsCallback.EVAL_METRICS));
        for (Path png : written) {
            BufferedImage img = ImageIO.read(png.toFile());
            assertThat(img.getWidth()).isEqualTo(900);
            assertThat(img.getHeight()).isEqualTo(540);
            // something was drawn: not a blank image
            assertThat(distinctColours(img)).isGreaterThan(10);
        }
        try (var s = Files.list(tmp)) {
            assertThat(s.map(p -> p.getFileName().toString())).noneMatch(n -> n.startsWith("."));
        }
        Path empty = Files.createDirectories(tmp.resolve("empty"));
        assertThat(PlotsCallback.write(empty, List.of(Map.of("step", 1, "error", "boom")))).isEmpty();
        assertThat(PlotsCallback.chart(empty.resolve("x.png"), "t", "x", Map.of("nan", List.of(new double[] {1, Double.NaN}))))
                .isFalse();
        assertThat(empty.resolve("x.png")).doesNotExist();
    }

    @Test
    void aChartThatCannotBeWrittenIsAWarningNotAFailedRun(@TempDir Path tmp) throws Exception {
        // a folder where the chart should go: the rename into place fails
        Files.createDirectories(tmp.resolve(PlotsCallback.TRAIN_LOSS).resolve("in-the-way"));
        TrainerState withLog = new TrainerState(null, 2, 2, 1, 0, 2, 2, 16, 1.0, 2, 0, 0, 1.0,
                List.of(Map.of("step", 1, "loss", 0.7), Map.of("step", 2, "loss", 0.6)), List.of(), Map.of(), null,
                -1, null, null, null, 0, Map.of(), null, null, null, null);
        new PlotsCallback().onTrainEnd(at(TrainingConfig.builder().outputDir(tmp).build(), withLog, false));
        assertThat(tmp.resolve(PlotsCallback.TRAIN_LOSS)).isDirectory();
        try (var files = Files.list(tmp)) {
            assertThat(files.map(p -> p.getFileName().toString())).containsExactly(PlotsCallback.TRAIN_LOSS);
        }
    }

    static int distinctColours(BufferedImage img) {
        java.util.Set<Integer> colours = new java.util.HashSet<>();
        for (int y = 0; y < img.getHeight(); y += 3) {
            for (int x = 0; x < img.getWidth(); x += 3) {
                colours.add(img.getRGB(x, y));
            }
        }
        return colours.size();
    }
}
