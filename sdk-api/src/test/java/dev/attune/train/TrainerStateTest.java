package dev.attune.train;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.attune.error.InvalidCheckpointException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TrainerStateTest {
    /** A checkpoint's trainer_state.json as the trainer wrote it before TrainerState existed. */
    static final String FIRST_LAYOUT = """
            {
              "format" : "attune-trainer-state/1",
              "global_step" : 8,
              "epoch" : 1,
              "batch_in_epoch" : 3,
              "micro_batches" : 8,
              "samples" : 64,
              "loss_sum" : 5.123456789012345,
              "loss_count" : 8,
              "window_loss" : 0.6931471805599453,
              "window_count" : 1,
              "train_seconds" : 1.25,
              "eval_history" : [ {
                "step" : 5.0,
                "epoch" : 1.0,
                "eval_loss" : 0.69,
                "eval_accuracy" : 0.5
              } ],
              "last_eval" : {
                "loss" : 0.69,
                "accuracy" : 0.5
              },
              "last_metric" : 0.69,
              "last_eval_step" : 5,
              "best_metric" : null,
              "best_model_checkpoint" : null,
              "early_stopping_best" : 0.69,
              "evals_without_improvement" : 0,
              "run" : {
                "train_features" : 40,
                "batch_size" : 8,
                "gradient_accumulation_steps" : 1,
                "total_steps" : 15,
                "seed" : 42,
                "shuffle" : true,
                "group_by_length" : true
              },
              "shuffler" : "rO0ABXNyABBqYXZhLnV0aWwuUmFuZG9t",
              "optimizer_steps" : 8
            }
            """;

    @Test
    void theFirstLayoutReadsWithTheFieldsItLacksAtTheirDefaults() {
        TrainerState s = TrainerState.fromJson(FIRST_LAYOUT, "checkpoint-8/trainer_state.json");
        assertThat(s.format()).isEqualTo(TrainerState.FORMAT);
        assertThat(s.globalStep()).isEqualTo(8);
        assertThat(s.epoch()).isEqualTo(1);
        assertThat(s.batchInEpoch()).isEqualTo(3);
        assertThat(s.microBatches()).isEqualTo(8);
        assertThat(s.samples()).isEqualTo(64);
        assertThat(s.lossSum()).isEqualTo(5.123456789012345);
        assertThat(s.windowLoss()).isEqualTo(0.6931471805599453);
        assertThat(s.trainSeconds()).isEqualTo(1.25);
        assertThat(s.evalHistory()).hasSize(1);
        assertThat(s.evalHistory().get(0)).containsEntry("eval_accuracy", 0.5).containsEntry("step", 5.0);
        assertThat(s.lastEval()).containsEntry("loss", 0.69);
        assertThat(s.lastMetric()).isEqualTo(0.69);
        assertThat(s.lastEvalStep()).isEqualTo(5);
        assertThat(s.bestMetric()).isNull();
        assertThat(s.bestModelCheckpoint()).isNull();
        assertThat(s.earlyStoppingBest()).isEqualTo(0.69);
        assertThat(s.run()).containsEntry("seed", 42).containsEntry("shuffle", true);
        assertThat(s.shuffler()).isEqualTo("rO0ABXNyABBqYXZhLnV0aWwuUmFuZG9t");
        assertThat(s.optimizerSteps()).isEqualTo(8L);
        // added since: defaults
        assertThat(s.logHistory()).isEmpty();
        assertThat(s.maxSteps()).isZero();
        assertThat(s.batchesPerEpoch()).isZero();
        assertThat(s.fractionalEpoch()).isEqualTo(1.0);
        assertThat(s.stoppedEarly()).isNull();
        assertThat(s.meanLoss()).isEqualTo(5.123456789012345 / 8);
    }

    @Test
    void theNewLayoutIsASupersetOfTheFirstAndRoundTripsExactly(@TempDir Path tmp) throws Exception {
        Map<String, Object> record = new LinkedHashMap<>();
        record.put("step", 2);
        record.put("loss", 0.1 + 0.2);
        record.put("checkpoint", null);
        TrainerState s = new TrainerState(null, 12, 15, 2, 2, 5, 12, 96, 7.000000000000001, 12, 0.3, 2, 3.5,
                List.of(record), List.of(Map.of("step", 10.0, "eval_loss", 0.5)), Map.of("loss", 0.5), 0.5, 10,
                0.5, "checkpoint-10", 0.5, 0, Map.of("seed", 42), "AAAA", 12L, null, null);
        String json = s.toJson();
        com.fasterxml.jackson.databind.JsonNode written = new com.fasterxml.jackson.databind.ObjectMapper().readTree(json);
        com.fasterxml.jackson.databind.JsonNode first = new com.fasterxml.jackson.databind.ObjectMapper()
                .readTree(FIRST_LAYOUT);
        first.fieldNames().forEachRemaining(k -> assertThat(written.has(k)).as(k).isTrue());
        assertThat(written.has("stopped_early")).isFalse();
        assertThat(written.get("log_history").get(0).has("checkpoint")).isTrue();

        Path file = Files.writeString(tmp.resolve("trainer_state.json"), json);
        TrainerState back = TrainerState.read(file);
        assertThat(back).isEqualTo(s);
        assertThat(back.fractionalEpoch()).isEqualTo(2.4);
        assertThat(back.logHistory().get(0).get("loss")).isEqualTo(0.1 + 0.2);
        assertThatThrownBy(() -> back.logHistory().add(Map.of())).isInstanceOf(UnsupportedOperationException.class);
    }

    @Test
    void aBrokenOrMissingFileNamesItself(@TempDir Path tmp) throws Exception {
        Path broken = Files.writeString(tmp.resolve("trainer_state.json"), "{\"global_step\": ");
        assertThatThrownBy(() -> TrainerState.read(broken)).isInstanceOf(InvalidCheckpointException.class)
                .hasMessageContaining(broken.toString()).hasMessageContaining("earlier checkpoint");
        assertThatThrownBy(() -> TrainerState.read(tmp.resolve("none/trainer_state.json")))
                .isInstanceOf(InvalidCheckpointException.class).hasMessageContaining("is missing");
        assertThatThrownBy(() -> TrainerState.fromJson("[1, 2]", "x.json")).isInstanceOf(InvalidCheckpointException.class)
                .hasMessageContaining("x.json");
    }
}
