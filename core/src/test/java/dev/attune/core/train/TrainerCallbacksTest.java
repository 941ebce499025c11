package dev.attune.core.train;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.attune.core.train.callbacks.CheckpointCallback;
import dev.attune.core.train.callbacks.DefaultFlowCallback;
import dev.attune.core.train.callbacks.EarlyStoppingCallback;
import dev.attune.core.train.callbacks.JsonlLogCallback;
import dev.attune.core.train.callbacks.ModelCardCallback;
import dev.attune.core.train.callbacks.PlotsCallback;
import dev.attune.core.train.callbacks.ProgressBarCallback;
import dev.attune.core.train.callbacks.TensorBoardCallback;
import dev.attune.error.ConfigurationException;
import dev.attune.train.TrainerCallback;
import dev.attune.train.TrainingConfig;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Which callbacks a run calls, from its config. */
class TrainerCallbacksTest {
    static List<Class<?>> classes(List<TrainerCallback> callbacks) {
        return callbacks.stream().<Class<?>>map(Object::getClass).toList();
    }

    @Test
    void everyRunGetsTheBuiltInCallbacksInOrderAndFreshOnes() {
        TrainingConfig config = TrainingConfig.builder().build();
        List<TrainerCallback> first = DefaultTrainer.callbacks(config);
        assertThat(classes(first)).containsExactly(DefaultFlowCallback.class, JsonlLogCallback.class,
                TensorBoardCallback.class, ProgressBarCallback.class, EarlyStoppingCallback.class,
                CheckpointCallback.class, PlotsCallback.class, ModelCardCallback.class);
        // a run's callbacks hold its resources: each run gets its own
        assertThat(DefaultTrainer.callbacks(config).get(1)).isNotSameAs(first.get(1));
    }

    @Test
    void theConfigRemovesBuiltInsAddsItsOwnAndReplacesOneOfTheSameClass() {
        TrainerCallback own = new TrainerCallback() {};
        ModelCardCallback card = new ModelCardCallback("org/model", "engine", List.of("fine-tune"));
        TrainingConfig config = TrainingConfig.builder().callbacks(own, card)
                .withoutDefault(ProgressBarCallback.class).withoutDefault(TensorBoardCallback.class).build();
        List<TrainerCallback> callbacks = DefaultTrainer.callbacks(config);
        assertThat(classes(callbacks)).containsExactly(DefaultFlowCallback.class, JsonlLogCallback.class,
                EarlyStoppingCallback.class, CheckpointCallback.class, PlotsCallback.class, ModelCardCallback.class,
                own.getClass());
        assertThat(callbacks.get(5)).isSameAs(card);
        assertThat(callbacks.get(6)).isSameAs(own);
    }

    @Test
    void leavingOutAClassThatIsNoBuiltInIsRefusedNamingTheBuiltIns() {
        TrainingConfig config = TrainingConfig.builder().withoutDefault(TrainerCallback.class).build();
        assertThatThrownBy(() -> DefaultTrainer.callbacks(config)).isInstanceOf(ConfigurationException.class)
                .hasMessageContaining("withoutDefault(dev.attune.train.TrainerCallback)")
                .hasMessageContaining("ProgressBarCallback");
    }
}
