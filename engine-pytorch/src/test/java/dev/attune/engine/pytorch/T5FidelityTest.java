package dev.attune.engine.pytorch;

import dev.attune.formats.hf.HfSources;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Named.named;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.attune.engine.Batch;
import dev.attune.engine.EngineOptions;
import dev.attune.engine.LoweredModel;
import dev.attune.generate.GenerationConfig;
import dev.attune.core.generate.Seq2SeqGenerator;
import dev.attune.core.internal.TrainableDefinition;
import dev.attune.core.internal.WeightBinder;
import dev.attune.model.HeadSpec.HeadKind;
import dev.attune.model.HeadSpec;
import dev.attune.model.ModelDefinition;
import dev.attune.model.PretrainedModel;
import dev.attune.models.T5;
import dev.attune.ops.TensorData;
import dev.attune.core.Collator;
import dev.attune.task.Features;
import dev.attune.task.TaskOptions;
import dev.attune.tasks.seq2seq.Seq2SeqExample;
import dev.attune.tasks.seq2seq.Seq2SeqTask;
import dev.attune.testing.SharedFiles;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Named;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * T5 ({@code fixtures/hf/t5-seq2seq}, T5ForConditionalGeneration with a Unigram tokenizer) on the
 * PyTorch engine beyond what the family-fidelity suite checks on every engine (token ids, teacher-forced
 * logits, loss, padded batch, binding, save and reload: {@link PyTorchFamilyFidelityTest}): greedy
 * generation ids equal to HuggingFace's with and without the key/value cache, and the seq2seq task's
 * encoder, collator and loss on a padded batch, within {@value #TOLERANCE}.
 */
class T5FidelityTest {
    static final double TOLERANCE = 1e-5;
    static final Path FIXTURE = SharedFiles.path("fixtures/hf/t5-seq2seq");

    static PretrainedModel base;
    static LoweredModel model;

    @BeforeAll
    static void load() {
        base = HfSources.folder(FIXTURE).open(Map.of());
        ModelDefinition def = new T5().define(base.config(), new HeadSpec(HeadKind.SEQ2SEQ_LM, 0));
        WeightBinder binder = new WeightBinder(def, base.weights(), 42);
        model = new PyTorchEngineProvider().create().lower(def, binder, EngineOptions.defaults());
    }

    @AfterAll
    static void close() {
        model.close();
        base.close();
    }

    static List<JsonNode> referenceCases() {
        try {
            List<JsonNode> out = new ArrayList<>();
            new ObjectMapper().readTree(FIXTURE.resolve("reference.json").toFile()).get("cases").forEach(out::add);
            return out;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static Stream<Named<JsonNode>> cases() {
        return referenceCases().stream().map(c -> named(c.get("text").asText(), c));
    }

    static long[] longs(JsonNode array) {
        long[] out = new long[array.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = array.get(i).asLong();
        }
        return out;
    }

    /** @return labels shifted right behind the decoder start token */
    static long[] shiftRight(long[] labels, long start) {
        long[] out = new long[labels.length];
        out[0] = start;
        System.arraycopy(labels, 0, out, 1, labels.length - 1);
        return out;
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void greedyGenerationMatchesHuggingFaceWithAndWithoutCache(JsonNode c) {
        long[] expected = longs(c.get("greedy_ids"));
        long[] source = longs(c.get("input_ids"));
        Seq2SeqGenerator generator = new Seq2SeqGenerator(model);
        assertThat(generator.supportsCache()).isTrue();
        GenerationConfig settings = GenerationConfig.fromFolder(FIXTURE).maxNewTokens(expected.length - 1).build();
        assertThat(generator.generate(source, settings)).containsExactly(expected);
        assertThat(generator.generate(source, settings.toBuilder().useCache(false).build())).containsExactly(expected);
    }

    /**
     * Both cases in one padded batch, through the seq2seq task's encoder, collator and loss: every
     * row's logits match HuggingFace's unpadded ones over the real positions, and the task's loss on
     * each case alone equals HuggingFace's.
     */
    @Test
    void paddedBatchAndTaskLossMatchHuggingFace() {
        List<JsonNode> refs = referenceCases();
        Seq2SeqTask task = new Seq2SeqTask(TaskOptions.empty());
        ModelDefinition def = new TrainableDefinition(
                new T5().define(base.config(), new HeadSpec(HeadKind.SEQ2SEQ_LM, 0)), task);
        try (LoweredModel trainable = new PyTorchEngineProvider().create().lower(def,
                new WeightBinder(def, base.weights(), 42), EngineOptions.defaults())) {
            List<Features> features = new ArrayList<>();
            for (int i = 0; i < refs.size(); i++) {
                JsonNode c = refs.get(i);
                features.addAll(task.encode(new Seq2SeqExample(c.get("text").asText(), c.get("target").asText(), "ref"),
                        i, base.tokenizer(), 512));
                Batch single = Collator.collate(List.of(features.get(i)), task.padding(base.tokenizer()), 0);
                float loss = trainable.predict(single).get("loss").toFloatArray()[0];
                assertThat((double) loss).as("task loss of case %d", i)
                        .isCloseTo(c.get("loss").asDouble(), org.assertj.core.api.Assertions.within(TOLERANCE));
            }
            Batch batch = Collator.collate(features, task.padding(base.tokenizer()), 0);
            TensorData logits = trainable.predict(batch.without("labels")).get("logits");
            long[] shape = logits.shape();
            float[] all = logits.toFloatArray();
            int width = (int) shape[1];
            int vocab = (int) shape[2];
            double worst = 0;
            for (int i = 0; i < refs.size(); i++) {
                JsonNode expected = refs.get(i).get("logits");
                for (int t = 0; t < expected.size(); t++) {
                    for (int v = 0; v < vocab; v++) {
                        double d = Math.abs(all[(i * width + t) * vocab + v] - expected.get(t).get(v).asDouble());
                        worst = Math.max(worst, d);
                    }
                }
            }
            System.out.printf("t5-seq2seq padded batch: max |logit - HF| %.3g%n", worst);
            assertThat(worst).isLessThanOrEqualTo(TOLERANCE);
        }
    }
}
