package dev.attune.engine.pytorch;

import dev.attune.formats.hf.HfSources;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.attune.engine.EngineOptions;
import dev.attune.engine.LoweredModel;
import dev.attune.generate.GenerationConfig;
import dev.attune.core.generate.Generator;
import dev.attune.core.generate.StopStrings;
import dev.attune.core.internal.WeightBinder;
import dev.attune.model.HeadSpec.HeadKind;
import dev.attune.model.HeadSpec;
import dev.attune.model.ModelDefinition;
import dev.attune.model.ModelSource;
import dev.attune.model.PretrainedModel;
import dev.attune.models.Gpt2;
import dev.attune.testing.SharedFiles;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Text generation with the tiny GPT-2 of {@code fixtures/hf/gpt2-lm} on the PyTorch engine: greedy
 * decoding reproduces HuggingFace's {@code generate} with and without the key/value cache, and the
 * cache changes no logit by more than {@value #TOLERANCE}.
 */
class GenerationTest {
    private static final double TOLERANCE = 1e-5;
    private static final Path FIXTURE = SharedFiles.path("fixtures/hf/gpt2-lm");

    private static PretrainedModel base;
    private static LoweredModel model;
    private static JsonNode reference;

    @BeforeAll
    static void load() throws Exception {
        reference = new ObjectMapper().readTree(FIXTURE.resolve("reference.json").toFile()).get("generate");
        base = HfSources.folder(FIXTURE).open(Map.of());
        ModelDefinition def = new Gpt2().define(base.config(), new HeadSpec(HeadKind.CAUSAL_LM, 0));
        model = new PyTorchEngineProvider().create().lower(def, new WeightBinder(def, base.weights(), 42),
                EngineOptions.defaults());
    }

    @AfterAll
    static void close() {
        model.close();
        base.close();
    }

    private static long[] longs(JsonNode array) {
        long[] out = new long[array.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = array.get(i).asLong();
        }
        return out;
    }

    private static long[] prompt() {
        long[] ids = base.tokenizer().encode(reference.get("prompt").asText(), null, 128).ids();
        assertThat(ids).containsExactly(longs(reference.get("prompt_ids")));
        return ids;
    }

    private static GenerationConfig.Builder settings() {
        return GenerationConfig.fromFolder(FIXTURE).maxNewTokens(reference.get("max_new_tokens").asInt());
    }

    @Test
    void greedyMatchesHuggingFaceWithAndWithoutCache() {
        Generator generator = new Generator(model);
        assertThat(generator.supportsCache()).isTrue();
        long[] expected = longs(reference.get("greedy_ids"));
        assertThat(generator.generate(prompt(), settings().useCache(true).build())).containsExactly(expected);
        assertThat(generator.generate(prompt(), settings().useCache(false).build())).containsExactly(expected);
    }

    @Test
    void cacheChangesNoLogit() {
        Generator generator = new Generator(model);
        List<float[]> cached = new ArrayList<>();
        List<float[]> full = new ArrayList<>();
        // sampling makes the path less repetitive than greedy on this random model
        GenerationConfig.Builder s = settings().doSample(true).topK(0).seed(7);
        long[] a = generator.generate(prompt(), s.useCache(true).build(), (step, logits, token) -> cached.add(logits));
        long[] b = generator.generate(prompt(), s.useCache(false).build(), (step, logits, token) -> full.add(logits));
        assertThat(a).containsExactly(b);
        assertThat(cached).hasSameSizeAs(full).hasSize(reference.get("max_new_tokens").asInt());
        double worst = 0;
        for (int step = 0; step < cached.size(); step++) {
            float[] x = cached.get(step);
            float[] y = full.get(step);
            assertThat(x).hasSameSizeAs(y);
            for (int i = 0; i < x.length; i++) {
                worst = Math.max(worst, Math.abs(x[i] - y[i]));
            }
        }
        System.out.printf("max |cached - uncached logit| over %d steps: %.3g%n", cached.size(), worst);
        assertThat(worst).isCloseTo(0, within(TOLERANCE));
    }

    @Test
    void seededSamplingIsReproducibleAndTopKOneIsGreedy() {
        Generator generator = new Generator(model);
        GenerationConfig sampling = settings().doSample(true).temperature(1.5).topK(20).topP(0.9)
                .repetitionPenalty(1.3).seed(123).build();
        long[] first = generator.generate(prompt(), sampling);
        assertThat(generator.generate(prompt(), sampling)).containsExactly(first);
        long[] other = generator.generate(prompt(), sampling.toBuilder().seed(124).build());
        assertThat(other).isNotEqualTo(first);

        long[] greedy = generator.generate(prompt(), settings().build());
        assertThat(generator.generate(prompt(), settings().doSample(true).topK(1).seed(5).build()))
                .containsExactly(greedy);
    }

    @Test
    void repetitionPenaltyChangesGreedyOutput() {
        Generator generator = new Generator(model);
        long[] plain = generator.generate(prompt(), settings().build());
        long[] penalised = generator.generate(prompt(), settings().repetitionPenalty(2.0).build());
        assertThat(penalised).isNotEqualTo(plain);
    }

    @Test
    void stopsAtEndOfSequence() {
        Generator generator = new Generator(model);
        long[] greedy = longs(reference.get("greedy_ids"));
        long eos = greedy[greedy.length - 1];
        long[] out = generator.generate(prompt(), settings().eosTokenIds(List.of(eos)).build());
        assertThat(out).hasSize(prompt().length + 1);
        assertThat(out[out.length - 1]).isEqualTo(eos);
    }

    @Test
    void stopStringsEndGenerationAtTheFirstTokenThatCompletesThem() {
        Generator generator = new Generator(model);
        GenerationConfig sampling = settings().doSample(true).topK(0).seed(7).build();
        long[] prompt = prompt();
        long[] free = generator.generate(prompt, sampling);
        long[] freeNew = java.util.Arrays.copyOfRange(free, prompt.length, free.length);
        // a stop string across a token boundary: the text of new tokens 3 and 4
        String stopText = base.tokenizer().decode(java.util.Arrays.copyOfRange(freeNew, 3, 5), true);
        assertThat(stopText).isNotEmpty();
        StopStrings stop = new StopStrings(base.tokenizer(), List.of(stopText));
        long[] stopped = generator.generate(prompt, sampling, (step, logits, token) -> {}, stop);
        long[] stoppedNew = java.util.Arrays.copyOfRange(stopped, prompt.length, stopped.length);

        assertThat(stoppedNew.length).isBetween(1, 5);
        assertThat(free).startsWith(stopped);
        // the last token completed the stop string; one token fewer had not
        assertThat(base.tokenizer().decode(stoppedNew, true)).contains(stopText);
        assertThat(base.tokenizer().decode(java.util.Arrays.copyOf(stoppedNew, stoppedNew.length - 1), true))
                .doesNotContain(stopText);
        assertThat(stop.shouldStop(java.util.Arrays.copyOf(stoppedNew, stoppedNew.length - 1))).isFalse();

        // cut drops the stop string and what follows, looking only past the given start
        String text = base.tokenizer().decode(stopped, true);
        String cut = stop.cut(text, 0);
        assertThat(text).startsWith(cut).contains(stopText);
        assertThat(cut).doesNotContain(stopText);
        assertThat(stop.cut(text, text.length())).isEqualTo(text);
        assertThat(new StopStrings(base.tokenizer(), List.of()).shouldStop(freeNew)).isFalse();
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> new StopStrings(base.tokenizer(), List.of("")))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("must not be empty");
    }
}
