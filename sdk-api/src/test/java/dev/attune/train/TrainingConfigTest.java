package dev.attune.train;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.attune.error.ConfigurationException;
import dev.attune.task.Task;
import dev.attune.train.TrainingConfig.EvalStrategy;
import dev.attune.train.TrainingConfig.SchedulerType;
import java.lang.reflect.Proxy;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class TrainingConfigTest {
    @Test
    void defaultsAreHuggingFaceTrainingArguments() {
        TrainingConfig c = TrainingConfig.builder().build();
        assertThat(c.learningRate()).isEqualTo(5e-5);
        assertThat(c.numTrainEpochs()).isEqualTo(3.0);
        assertThat(c.maxSteps()).isEqualTo(-1);
        assertThat(c.perDeviceTrainBatchSize()).isEqualTo(8);
        assertThat(c.gradientAccumulationSteps()).isEqualTo(1);
        assertThat(c.adamBeta1()).isEqualTo(0.9);
        assertThat(c.adamBeta2()).isEqualTo(0.999);
        assertThat(c.adamEpsilon()).isEqualTo(1e-8);
        assertThat(c.maxGradNorm()).isEqualTo(1.0);
        assertThat(c.weightDecay()).isZero();
        assertThat(c.warmupSteps()).isZero();
        assertThat(c.warmupRatio()).isZero();
        assertThat(c.seed()).isEqualTo(42);
        assertThat(c.lrSchedulerType()).isEqualTo(SchedulerType.LINEAR);
        assertThat(c.loggingSteps()).isEqualTo(500);
        assertThat(c.evalSteps()).isZero(); // HuggingFace's None: logging steps
        assertThat(c.saveTotalLimit()).isZero(); // None: keep all
        assertThat(c.loadBestModelAtEnd()).isFalse();
        assertThat(c.evalOnStart()).isFalse();
        assertThat(c.groupByLength()).isFalse();
        assertThat(c.disableTqdm()).isNull(); // None: decided at run time
        assertThat(c.metricForBestModel()).isNull();
        assertThat(c.lrPower()).isEqualTo(1.0);
        assertThat(c.lrEnd()).isEqualTo(1e-7);
        assertThat(c.lrNumCycles()).isEqualTo(1.0);
        // the documented differences
        assertThat(c.perDeviceEvalBatchSize()).isEqualTo(32);
        assertThat(c.evalStrategy()).isEqualTo(EvalStrategy.EPOCH);
        assertThat(c.saveSteps()).isZero();
        assertThat(c.outputDir()).isNull();
        assertThat(c.callbacks()).isEmpty();
        assertThat(c.withoutDefaults()).isEmpty();
    }

    @Test
    void theReadmesBuilderChainFillsTheGroups() {
        TrainingConfig c = TrainingConfig.builder().numTrainEpochs(2).perDeviceTrainBatchSize(32).learningRate(1e-4)
                .warmupRatio(0.1).weightDecay(0.01).maxLength(64).build();
        assertThat(c.optimization()).isEqualTo(new TrainingConfig.Optimization(1e-4, 0.01, 0.9, 0.999, 1e-8, 1.0));
        assertThat(c.schedule().numTrainEpochs()).isEqualTo(2.0);
        assertThat(c.schedule().warmupRatio()).isEqualTo(0.1);
        assertThat(c.batching().perDeviceTrainBatchSize()).isEqualTo(32);
        assertThat(c.batching().maxLength()).isEqualTo(64);
        // flat accessors read the same values
        assertThat(c.learningRate()).isEqualTo(c.optimization().learningRate());
        assertThat(c.maxLength()).isEqualTo(64);
        assertThat(c.toBuilder().build()).isEqualTo(c);
    }

    @Test
    void warmupRatioRoundsUpAsHuggingFaceDoes() {
        TrainingConfig c = TrainingConfig.builder().warmupRatio(0.1).build();
        assertThat(c.warmupStepsFor(280)).isEqualTo(28);
        assertThat(c.warmupStepsFor(2105)).isEqualTo(211);
        assertThat(c.toBuilder().warmupRatio(0).warmupSteps(7).build().warmupStepsFor(280)).isEqualTo(7);
    }

    @Test
    void invalidValuesNameTheSetting() {
        assertThatThrownBy(() -> TrainingConfig.builder().learningRate(0).build())
                .isInstanceOf(ConfigurationException.class).hasMessageContaining("learningRate");
        assertThatThrownBy(() -> TrainingConfig.builder().warmupRatio(1.5).build())
                .isInstanceOf(ConfigurationException.class).hasMessageContaining("warmupRatio");
        assertThatThrownBy(() -> TrainingConfig.builder().perDeviceTrainBatchSize(0).build())
                .isInstanceOf(ConfigurationException.class).hasMessageContaining("perDeviceTrainBatchSize");
        assertThatThrownBy(() -> TrainingConfig.builder().gradientAccumulationSteps(-1).build())
                .isInstanceOf(ConfigurationException.class).hasMessageContaining("gradientAccumulationSteps");
        assertThatThrownBy(() -> TrainingConfig.builder().adamBeta2(1).build())
                .isInstanceOf(ConfigurationException.class).hasMessageContaining("adamBeta2");
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiterString = "-->", textBlock = """
            saveSteps without outputDir                 --> saveSteps
            saveOnEpochEnd without outputDir            --> saveOnEpochEnd
            saveTotalLimit without outputDir            --> saveTotalLimit
            loadBestModelAtEnd without outputDir        --> loadBestModelAtEnd needs an outputDir
            loadBestModelAtEnd without evaluation       --> loadBestModelAtEnd needs evaluations
            loadBestModelAtEnd without checkpoints      --> loadBestModelAtEnd needs checkpoints
            earlyStoppingPatience without evaluation    --> earlyStoppingPatience needs evaluations
            earlyStoppingThreshold without patience     --> earlyStoppingThreshold
            evalSteps without the steps strategy        --> evalSteps
            warmupSteps and warmupRatio both            --> warmupSteps (10) and warmupRatio (0.1) are both set
            """)
    void contradictorySettingsAreRefusedNamingTheSetting(String what, String message) {
        Path out = Path.of("out");
        TrainingConfig.Builder b = switch (what) {
            case "saveSteps without outputDir" -> TrainingConfig.builder().saveSteps(100);
            case "saveOnEpochEnd without outputDir" -> TrainingConfig.builder().saveOnEpochEnd(true);
            case "saveTotalLimit without outputDir" -> TrainingConfig.builder().saveTotalLimit(2);
            case "loadBestModelAtEnd without outputDir" -> TrainingConfig.builder().loadBestModelAtEnd(true);
            case "loadBestModelAtEnd without evaluation" -> TrainingConfig.builder().outputDir(out).saveSteps(10)
                    .evalStrategy(EvalStrategy.NO).loadBestModelAtEnd(true);
            case "loadBestModelAtEnd without checkpoints" -> TrainingConfig.builder().outputDir(out)
                    .loadBestModelAtEnd(true);
            case "earlyStoppingPatience without evaluation" -> TrainingConfig.builder().evalStrategy(EvalStrategy.NO)
                    .earlyStoppingPatience(2);
            case "earlyStoppingThreshold without patience" -> TrainingConfig.builder().earlyStoppingThreshold(0.01);
            case "evalSteps without the steps strategy" -> TrainingConfig.builder().evalSteps(50);
            case "warmupSteps and warmupRatio both" -> TrainingConfig.builder().warmupSteps(10).warmupRatio(0.1);
            default -> throw new IllegalArgumentException(what);
        };
        assertThatThrownBy(b::build).as(what).isInstanceOf(ConfigurationException.class).hasMessageContaining(message);
    }

    @Test
    void consistentCheckpointSettingsAreAccepted() {
        TrainingConfig c = TrainingConfig.builder().outputDir(Path.of("out")).evalStrategy(EvalStrategy.STEPS)
                .evalSteps(50).saveSteps(50).saveTotalLimit(2).loadBestModelAtEnd(true).earlyStoppingPatience(3)
                .earlyStoppingThreshold(0.001).metricForBestModel("eval_f1").build();
        assertThat(c.metricForBestModel()).isEqualTo("f1");
        assertThat(c.saving().saveTotalLimit()).isEqualTo(2);
    }

    /** A task with the given primary metric and direction; nothing else is called. */
    static Task task(String primaryMetric, boolean greaterIsBetter) {
        return (Task) Proxy.newProxyInstance(Task.class.getClassLoader(), new Class<?>[] {Task.class},
                (proxy, method, args) -> switch (method.getName()) {
                    case "primaryMetric" -> primaryMetric;
                    case "greaterIsBetter" -> greaterIsBetter;
                    default -> throw new UnsupportedOperationException(method.getName());
                });
    }

    @Test
    void theBestModelIsRankedByTheTasksMetricAndDirectionUnlessNamed() {
        Task lm = task("perplexity", false);
        Task classifier = task("f1", true);
        TrainingConfig unset = TrainingConfig.builder().build();
        assertThat(unset.metricForBestModel(lm)).isEqualTo("perplexity");
        assertThat(unset.greaterIsBetter(lm)).isFalse();
        assertThat(unset.metricForBestModel(classifier)).isEqualTo("f1");
        assertThat(unset.greaterIsBetter(classifier)).isTrue();
        // naming the task's own metric keeps the task's direction
        assertThat(TrainingConfig.builder().metricForBestModel("eval_perplexity").build().greaterIsBetter(lm)).isFalse();
        // another metric: lower is better for a loss, higher otherwise
        for (Map.Entry<String, Boolean> e : Map.of("loss", false, "mlm_loss", false, "accuracy", true,
                "loss_ratio", true).entrySet()) {
            TrainingConfig c = TrainingConfig.builder().metricForBestModel(e.getKey()).build();
            assertThat(c.metricForBestModel(lm)).isEqualTo(e.getKey());
            assertThat(c.greaterIsBetter(lm)).as(e.getKey()).isEqualTo(e.getValue());
        }
        // an explicit direction wins
        assertThat(TrainingConfig.builder().metricForBestModel("loss").greaterIsBetter(true).build()
                .greaterIsBetter(lm)).isTrue();
        assertThat(TrainingConfig.builder().greaterIsBetter(true).build().greaterIsBetter(lm)).isTrue();
    }

    @Test
    void callbacksAreAddedInOrderAndDefaultsRemovedByClass() {
        TrainerCallback first = new TrainerCallback() {};
        TrainerCallback second = new TrainerCallback() {};
        TrainingConfig c = TrainingConfig.builder().callbacks(first).callbacks(second)
                .withoutDefault(TrainerCallback.class).build();
        assertThat(c.callbacks()).containsExactly(first, second);
        assertThat(c.withoutDefaults()).containsExactly(TrainerCallback.class);
        assertThat(c.toBuilder().build().callbacks()).containsExactly(first, second);
        assertThat(List.copyOf(c.callbacks())).isEqualTo(c.callbacks());
    }

    @Test
    void evalStrategiesParseAsTheCommandLineSpellsThem() {
        assertThat(EvalStrategy.parse("Steps")).isEqualTo(EvalStrategy.STEPS);
        assertThatThrownBy(() -> EvalStrategy.parse("sometimes")).isInstanceOf(ConfigurationException.class)
                .hasMessageContaining("no, steps or epoch");
    }
}
