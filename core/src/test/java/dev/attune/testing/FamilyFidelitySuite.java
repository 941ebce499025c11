package dev.attune.testing;

import static dev.attune.testing.TensorAssert.assertThatTensor;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Named.named;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.MissingNode;
import dev.attune.core.internal.WeightBinder;
import dev.attune.engine.Batch;
import dev.attune.engine.Engine;
import dev.attune.engine.EngineOptions;
import dev.attune.engine.LoweredModel;
import dev.attune.engine.Engine.ParameterSource;
import dev.attune.formats.hf.HfSources;
import dev.attune.formats.hf.SafetensorsWriter;
import dev.attune.model.TextTokenizer.Encoding;
import dev.attune.model.FineTunedModel.LoadReport;
import dev.attune.model.ModelDefinition;
import dev.attune.model.PretrainedModel;
import dev.attune.ops.Parameter;
import dev.attune.ops.TensorData;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Named;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every family and head against HuggingFace's reference outputs ({@link HfFixture}), written once
 * and run by every engine: token ids equal to HuggingFace's tokenizer's, every output within the
 * engine's {@link #tolerance(HfFixture)}, padded batches, the declared parameter names equal to the
 * checkpoint's keys, every checkpoint tensor bound, and the declared parameters saved and reloaded
 * without missing or unused tensors. It runs the fixtures whose head the family builds ({@link
 * HfFixture#headBuilt()}); that the others are refused is {@code HfFixtureTest}'s to check, once.
 *
 * <p>An engine runs the suite with a one-class subclass giving the engine, its tolerance and the
 * fixtures it runs ({@link #runs(HfFixture)}, default all; one it leaves out says why in its
 * Javadoc). A fixture it leaves out makes no test case at all, so the report skips nothing. The ONNX
 * engine's lowering is an export to ONNX followed by an ONNX Runtime session, so the suite checks
 * exported graphs.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
public abstract class FamilyFidelitySuite {
    private Engine engine;
    private final Map<String, Loaded> loaded = new LinkedHashMap<>();
    private final Map<String, Double> maxDifference = new TreeMap<>();

    /** A fixture opened and lowered once for the suite. */
    private record Loaded(PretrainedModel base, LoweredModel model, LoadReport report) {}

    /** @return a new engine; the suite closes it after the last test */
    protected abstract Engine createEngine();

    /**
     * @param fixture a fixture
     * @return how far each output may be from HuggingFace's (default: absolute 1e-5)
     */
    protected Tolerance tolerance(HfFixture fixture) {
        return Tolerance.absolute(1e-5);
    }

    /**
     * Declares the fixtures this engine runs; an engine that leaves one out gives the reason in its
     * override's Javadoc. The fixtures left out make no test cases.
     *
     * @param fixture a fixture whose head its family builds
     * @return whether this engine runs it (default: every one)
     */
    protected boolean runs(HfFixture fixture) {
        return true;
    }

    /** @return options for every lowering (default: {@link EngineOptions#defaults()}) */
    protected EngineOptions options() {
        return EngineOptions.defaults();
    }

    /** @return the engine under test (started before the first test) */
    protected final Engine engine() {
        return engine;
    }

    @BeforeAll
    void startEngine() {
        engine = createEngine();
    }

    @AfterAll
    void closeAll() {
        for (Loaded l : loaded.values()) {
            l.model().close();
            l.base().close();
        }
        loaded.clear();
        if (engine != null) {
            maxDifference.forEach((name, d) -> System.out.printf("%s max |output - HF| %-30s %.3g%n", engine.name(), name, d));
            engine.close();
        }
    }

    // ---------------------------------------------------------------- sources

    /** @return the fixtures whose head the family builds and that this engine runs */
    public Stream<Named<HfFixture>> fixtures() {
        return HfFixture.ALL.stream().filter(f -> f.headBuilt() && runs(f)).map(f -> named(f.name(), f));
    }

    /**
     * @return the fixtures of {@link #fixtures()} with a padded batch (reference {@code batch}, or
     *     built from the seq2seq or multiple-choice cases)
     */
    public Stream<Named<HfFixture>> batchedFixtures() {
        return fixtures().filter(n -> n.getPayload().isSeq2Seq() || n.getPayload().isMultipleChoice()
                || n.getPayload().reference().has("batch"));
    }

    /** @return every reference case of every fixture of {@link #fixtures()}, named by fixture and text */
    public Stream<Arguments> cases() {
        List<Arguments> out = new ArrayList<>();
        fixtures().forEach(n -> {
            for (JsonNode c : n.getPayload().reference().get("cases")) {
                String text = c.get("text").asText() + (pair(c) == null ? "" : " | " + pair(c));
                out.add(Arguments.of(n, named(text, c)));
            }
        });
        return out.stream();
    }

    // ---------------------------------------------------------------- tests

    @ParameterizedTest(name = "{0}")
    @MethodSource("fixtures")
    void familyBuildsTheFixturesHead(HfFixture f) {
        Loaded l = load(f);
        ModelDefinition def = l.model().definition();
        assertThat(def.outputs()).as("%s outputs", f).containsAll(f.outputs());
        JsonNode architectures = l.base().config().raw("architectures").orElse(MissingNode.getInstance());
        if (architectures.isArray() && !architectures.isEmpty()) {
            assertThat(def.architecture()).as("%s architecture", f).isEqualTo(architectures.get(0).asText());
        }
    }

    @ParameterizedTest(name = "{0}: {1}")
    @MethodSource("cases")
    void tokenIdsAndOutputsMatchHuggingFace(HfFixture f, JsonNode c) {
        Loaded l = load(f);
        Map<String, TensorData> out;
        if (f.isSeq2Seq()) {
            long[] inputIds = l.base().tokenizer().encode(c.get("text").asText(), null, 512).ids();
            assertThat(inputIds).as("input_ids").containsExactly(longs(c.get("input_ids")));
            long[] labels = l.base().tokenizer().encode(c.get("target").asText(), null, 512).ids();
            assertThat(labels).as("labels").containsExactly(longs(c.get("labels")));
            out = l.model().predict(singleCase(f, l, c));
            // the loss HuggingFace reports: mean token cross-entropy of the labels, from these logits
            TensorData logits = out.get("logits");
            int vocab = (int) logits.shape()[2];
            Nd logp = new Nd(new long[] {labels.length, vocab}, toDoubles(logits.toFloatArray())).logSoftmax(-1);
            double loss = 0;
            for (int t = 0; t < labels.length; t++) {
                loss -= logp.v()[t * vocab + (int) labels[t]];
            }
            loss /= labels.length;
            record(f.name() + " loss", Math.abs(loss - c.get("loss").asDouble()));
            assertThat(tolerance(f).allows(loss, c.get("loss").asDouble()))
                    .as("%s loss %s vs HuggingFace's %s (%s)", f, loss, c.get("loss").asDouble(), tolerance(f)).isTrue();
        } else if (f.isMultipleChoice()) {
            // every (context, ending) pair tokenised as HuggingFace did, then the padded [1, C, T] inputs
            long[][] ids = rows(c.get("input_ids"));
            long[][] mask = rows(c.get("attention_mask"));
            long[][] types = rows(c.get("token_type_ids"));
            assertThat(ids.length).as("one row per ending").isEqualTo(c.get("endings").size());
            for (int i = 0; i < ids.length; i++) {
                Encoding enc = l.base().tokenizer().encode(c.get("text").asText(), c.get("endings").get(i).asText(), 512);
                int n = enc.length();
                assertThat(enc.ids()).as("input_ids of ending %s", i).containsExactly(Arrays.copyOf(ids[i], n));
                assertThat(enc.typeIds()).as("token_type_ids of ending %s", i).containsExactly(Arrays.copyOf(types[i], n));
                assertThat(Arrays.stream(mask[i]).sum()).as("attention_mask of ending %s", i).isEqualTo(n);
            }
            out = l.model().predict(choiceCase(c));
            assertThat(out.keySet()).containsExactlyElementsOf(l.model().definition().outputs());
        } else {
            Encoding enc = l.base().tokenizer().encode(c.get("text").asText(), pair(c), 512);
            assertThat(enc.ids()).as("input_ids").containsExactly(longs(c.get("input_ids")));
            assertThat(enc.attentionMask()).as("attention_mask").containsExactly(longs(c.get("attention_mask")));
            if (c.has("token_type_ids")) {
                assertThat(enc.typeIds()).as("token_type_ids").containsExactly(longs(c.get("token_type_ids")));
            }
            long[] shape = {1, enc.length()};
            Map<String, TensorData> inputs = new LinkedHashMap<>();
            inputs.put("input_ids", TensorData.ofLongs(shape, enc.ids()));
            inputs.put("attention_mask", TensorData.ofLongs(shape, enc.attentionMask()));
            // always present, as a task's batches carry it; families that do not declare it must ignore it
            inputs.put("token_type_ids", TensorData.ofLongs(shape, enc.typeIds()));
            out = l.model().predict(new Batch(inputs, 1));
            // every declared output (GPT-2's LM head adds its key/value cache), the compared ones among them
            assertThat(out.keySet()).containsExactlyElementsOf(l.model().definition().outputs());
        }
        assertThat(out.keySet()).containsAll(f.outputs());
        for (String name : f.outputs()) {
            assertMatches(f, f.name(), name, out.get(name), c.get(name));
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("batchedFixtures")
    void paddedBatchMatchesHuggingFace(HfFixture f) {
        Loaded l = load(f);
        if (f.isSeq2Seq()) {
            paddedSeq2SeqBatchMatches(f, l);
            return;
        }
        if (f.isMultipleChoice()) {
            paddedChoiceBatchMatches(f, l);
            return;
        }
        JsonNode batch = f.reference().get("batch");
        TensorData out = l.model().predict(batchOf(batch)).get("logits");
        assertMatches(f, f.name() + " (batch)", "logits", out, batch.get("logits"));
    }

    /** @return the fixtures of {@link #fixtures()} with a left-padded batch (decoder LLMs) */
    public Stream<Named<HfFixture>> leftPaddedFixtures() {
        return fixtures().filter(n -> n.getPayload().reference().has("batch_left_padded"));
    }

    /** @return the fixtures of {@link #fixtures()} with greedy generation ids ({@code generate}) */
    public Stream<Named<HfFixture>> generatingFixtures() {
        return fixtures().filter(n -> n.getPayload().reference().has("generate"));
    }

    /**
     * A left-padded batch (decoder LLMs): the family takes each row's positions from the attention
     * mask as transformers' {@code generate} does, so every kept token's logits equal HuggingFace's;
     * the padding rows (attending to nothing, zeros in the reference) are not compared.
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource("leftPaddedFixtures")
    void leftPaddedBatchMatchesHuggingFace(HfFixture f) {
        Loaded l = load(f);
        JsonNode batch = f.reference().get("batch_left_padded");
        TensorData out = l.model().predict(batchOf(batch)).get("logits");
        long[] mask = longs(batch.get("attention_mask"));
        float[] values = out.toFloatArray();
        int per = Math.toIntExact(values.length / mask.length);
        for (int i = 0; i < mask.length; i++) {
            if (mask[i] == 0) {
                Arrays.fill(values, i * per, (i + 1) * per, 0f);
            }
        }
        assertMatches(f, f.name() + " (left-padded batch)", "logits", TensorData.ofFloats(out.shape(), values),
                batch.get("logits"));
    }

    /**
     * Greedy decoding ({@code generate} of the reference) gives HuggingFace's ids, with the key/value
     * cache and without, stopping at the end token of {@code generation_config.json}.
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource("generatingFixtures")
    void greedyGenerationMatchesHuggingFace(HfFixture f) {
        Loaded l = load(f);
        JsonNode g = f.reference().get("generate");
        long[] prompt = l.base().tokenizer().encode(g.get("prompt").asText(), null, 512).ids();
        assertThat(prompt).as("prompt ids").containsExactly(longs(g.get("prompt_ids")));
        dev.attune.core.generate.Generator generator = new dev.attune.core.generate.Generator(l.model());
        assertThat(generator.supportsCache()).as("%s takes a key/value cache", f).isTrue();
        for (boolean cache : new boolean[] {true, false}) {
            dev.attune.generate.GenerationConfig settings = dev.attune.generate.GenerationConfig.fromFolder(f.path())
                    .maxNewTokens(g.get("max_new_tokens").asInt()).useCache(cache).build();
            assertThat(generator.generate(prompt, settings)).as("%s greedy ids (cache %s)", f, cache)
                    .containsExactly(longs(g.get("greedy_ids")));
        }
    }

    /**
     * Greedy decoding of a left-padded batch (fixtures with a left-padded reference, whose family
     * takes positions from the attention mask): the reference prompt's row gives HuggingFace's ids,
     * and every row the ids it gets alone, with the cache and without.
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource("leftPaddedFixtures")
    void leftPaddedBatchGenerationMatchesEachPromptAlone(HfFixture f) {
        Loaded l = load(f);
        JsonNode g = f.reference().get("generate");
        dev.attune.core.generate.Generator generator = new dev.attune.core.generate.Generator(l.model());
        List<long[]> prompts = new ArrayList<>();
        prompts.add(longs(g.get("prompt_ids")));
        JsonNode cases = f.reference().get("cases");
        prompts.add(Arrays.copyOf(longs(cases.get(0).get("input_ids")), 3));
        prompts.add(longs(cases.get(1).get("input_ids")));
        for (boolean cache : new boolean[] {true, false}) {
            dev.attune.generate.GenerationConfig settings = dev.attune.generate.GenerationConfig.fromFolder(f.path())
                    .maxNewTokens(g.get("max_new_tokens").asInt()).useCache(cache).build();
            List<long[]> batch = generator.generateBatch(prompts, settings, l.base().tokenizer().padTokenId());
            assertThat(batch.get(0)).as("%s batch row 0 (cache %s)", f, cache).containsExactly(longs(g.get("greedy_ids")));
            for (int i = 1; i < prompts.size(); i++) {
                assertThat(batch.get(i)).as("%s batch row %d (cache %s)", f, i, cache)
                        .containsExactly(generator.generate(prompts.get(i), settings));
            }
        }
    }

    /**
     * The seq2seq cases in one batch, encoder and decoder inputs padded at the end with the pad id:
     * each row's logits at its real target positions equal HuggingFace's unpadded ones.
     */
    private void paddedSeq2SeqBatchMatches(HfFixture f, Loaded l) {
        List<JsonNode> cases = new ArrayList<>();
        f.reference().get("cases").forEach(cases::add);
        long pad = l.base().config().requireInt("pad_token_id");
        long start = l.base().config().requireInt("decoder_start_token_id");
        int source = cases.stream().mapToInt(c -> c.get("input_ids").size()).max().orElseThrow();
        int target = cases.stream().mapToInt(c -> c.get("labels").size()).max().orElseThrow();
        int b = cases.size();
        long[] ids = new long[b * source];
        long[] mask = new long[b * source];
        long[] decoder = new long[b * target];
        Arrays.fill(ids, pad);
        Arrays.fill(decoder, pad);
        for (int i = 0; i < b; i++) {
            long[] in = longs(cases.get(i).get("input_ids"));
            System.arraycopy(in, 0, ids, i * source, in.length);
            Arrays.fill(mask, i * source, i * source + in.length, 1);
            long[] shifted = shiftRight(longs(cases.get(i).get("labels")), start);
            System.arraycopy(shifted, 0, decoder, i * target, shifted.length);
        }
        Map<String, TensorData> inputs = new LinkedHashMap<>();
        inputs.put("input_ids", TensorData.ofLongs(new long[] {b, source}, ids));
        inputs.put("attention_mask", TensorData.ofLongs(new long[] {b, source}, mask));
        inputs.put("decoder_input_ids", TensorData.ofLongs(new long[] {b, target}, decoder));
        TensorData logits = l.model().predict(new Batch(inputs, b)).get("logits");
        long[] shape = logits.shape();
        assertThat(shape).as("%s batch logits shape", f).startsWith(b, target);
        int vocab = (int) shape[2];
        float[] all = logits.toFloatArray();
        for (int i = 0; i < b; i++) {
            int length = cases.get(i).get("labels").size();
            float[] row = Arrays.copyOfRange(all, i * target * vocab, (i * target + length) * vocab);
            assertMatches(f, f.name() + " (batch row " + i + ")", "logits",
                    TensorData.ofFloats(new long[] {length, vocab}, row), cases.get(i).get("logits"));
        }
    }

    /**
     * The multiple-choice cases in one {@code [B, C, T]} batch, each case's rows padded further to the
     * longest case with the pad id and a zero mask: each row's logits equal HuggingFace's unbatched
     * ones.
     */
    private void paddedChoiceBatchMatches(HfFixture f, Loaded l) {
        List<JsonNode> cases = new ArrayList<>();
        f.reference().get("cases").forEach(cases::add);
        long pad = l.base().config().getInt("pad_token_id", 0);
        int b = cases.size();
        int choices = cases.get(0).get("endings").size();
        int t = cases.stream().mapToInt(c -> c.get("input_ids").get(0).size()).max().orElseThrow();
        long[] ids = new long[b * choices * t];
        long[] mask = new long[ids.length];
        long[] types = new long[ids.length];
        Arrays.fill(ids, pad);
        for (int i = 0; i < b; i++) {
            JsonNode c = cases.get(i);
            assertThat(c.get("endings").size()).as("endings of every case").isEqualTo(choices);
            long[][] r = rows(c.get("input_ids"));
            long[][] m = rows(c.get("attention_mask"));
            long[][] y = rows(c.get("token_type_ids"));
            for (int j = 0; j < choices; j++) {
                int at = (i * choices + j) * t;
                System.arraycopy(r[j], 0, ids, at, r[j].length);
                System.arraycopy(m[j], 0, mask, at, m[j].length);
                System.arraycopy(y[j], 0, types, at, y[j].length);
            }
        }
        long[] shape = {b, choices, t};
        Map<String, TensorData> inputs = new LinkedHashMap<>();
        inputs.put("input_ids", TensorData.ofLongs(shape, ids));
        inputs.put("attention_mask", TensorData.ofLongs(shape, mask));
        inputs.put("token_type_ids", TensorData.ofLongs(shape, types));
        TensorData logits = l.model().predict(new Batch(inputs, b)).get("logits");
        assertThat(logits.shape()).as("%s batch logits shape", f).containsExactly(b, choices);
        float[] all = logits.toFloatArray();
        for (int i = 0; i < b; i++) {
            float[] row = Arrays.copyOfRange(all, i * choices, (i + 1) * choices);
            assertMatches(f, f.name() + " (batch row " + i + ")", "logits",
                    TensorData.ofFloats(new long[] {choices}, row), cases.get(i).get("logits"));
        }
    }

    /**
     * GPT-2 without {@code pad_token_id}: HuggingFace refuses padded batches, Attune reads the last
     * token the attention mask keeps, which is the token HuggingFace reads with the pad id set.
     */
    /**
     * Mistral's sliding-window attention: {@code mistral-lm} opened with {@code sliding_window=4}
     * (every text longer than the window) gives transformers' logits alone, in a right- and a
     * left-padded batch, and its greedy ids with the cache and without; reference {@code
     * mistral-sliding-window-reference.json} of {@code core/src/test/python/make_sliding_window_reference.py}.
     * The window changes the logits by far more than the tolerance, so full attention would fail.
     */
    @Test
    void mistralSlidingWindowMatchesHuggingFace() throws IOException {
        HfFixture f = HfFixture.named("mistral-lm");
        require(f);
        JsonNode ref;
        try (java.io.InputStream in = FamilyFidelitySuite.class.getResourceAsStream("mistral-sliding-window-reference.json")) {
            ref = new com.fasterxml.jackson.databind.ObjectMapper().readTree(in);
        }
        Map<String, String> overrides = new LinkedHashMap<>();
        ref.get("overrides").fields().forEachRemaining(e -> overrides.put(e.getKey(), e.getValue().asText()));
        try (PretrainedModel base = HfSources.folder(f.path()).open(overrides)) {
            ModelDefinition def = f.family().define(base.config(), f.head());
            try (LoweredModel model = lower(def, new WeightBinder(def, base.weights(), 42))) {
                String what = f.name() + " sliding window";
                for (JsonNode c : ref.get("cases")) {
                    TensorData out = model.predict(idsOnly(c)).get("logits");
                    assertMatches(f, what, "logits", out, c.get("logits"));
                }
                float[] windowed = model.predict(idsOnly(ref.get("cases").get(0))).get("logits").toFloatArray();
                Nd full = fromJson(f.reference().get("cases").get(0).get("logits"));
                assertThat(TensorAssert.Difference.of(windowed, full.v(), tolerance(f)).maxAbs())
                        .as("the window changes the logits").isGreaterThan(1e-3);
                assertMatches(f, what + " (batch)", "logits", model.predict(batchOf(ref.get("batch"))).get("logits"),
                        ref.get("batch").get("logits"));
                JsonNode left = ref.get("batch_left_padded");
                TensorData out = model.predict(batchOf(left)).get("logits");
                long[] mask = longs(left.get("attention_mask"));
                float[] values = out.toFloatArray();
                int per = Math.toIntExact(values.length / mask.length);
                for (int i = 0; i < mask.length; i++) {
                    if (mask[i] == 0) {
                        Arrays.fill(values, i * per, (i + 1) * per, 0f);
                    }
                }
                assertMatches(f, what + " (left-padded batch)", "logits", TensorData.ofFloats(out.shape(), values),
                        left.get("logits"));
                JsonNode g = ref.get("generate");
                dev.attune.core.generate.Generator generator = new dev.attune.core.generate.Generator(model);
                for (boolean cache : new boolean[] {true, false}) {
                    dev.attune.generate.GenerationConfig settings = dev.attune.generate.GenerationConfig.builder()
                            .maxNewTokens(g.get("max_new_tokens").asInt()).useCache(cache).build();
                    assertThat(generator.generate(longs(g.get("prompt_ids")), settings))
                            .as("%s greedy ids (cache %s)", what, cache).containsExactly(longs(g.get("greedy_ids")));
                }
            }
        }
    }

    @Test
    void gpt2ClassifierWithoutPadTokenReadsTheLastAttendedToken() {
        HfFixture f = HfFixture.named("gpt2-seqcls");
        require(f);
        JsonNode batch = f.reference().get("batch");
        try (PretrainedModel base = HfSources.folder(f.path()).open(Map.of())) {
            ModelDefinition def = f.family().define(base.config().with("pad_token_id", null), f.head());
            try (LoweredModel model = lower(def, new WeightBinder(def, base.weights(), 42))) {
                assertMatches(f, "gpt2-seqcls (no pad_token_id)", "logits", model.predict(batchOf(batch)).get("logits"),
                        batch.get("logits"));
            }
        }
    }

    /**
     * RoBERTa's multiple-choice head, for which ../shared has no fixture: roberta-seqcls's encoder
     * with a pooler and classifier whose values follow the formulas of {@code
     * core/src/test/python/make_roberta_multiple_choice_reference.py}, which wrote transformers'
     * logits for the same model ({@value #ROBERTA_MC_REFERENCE}); token ids equal to its tokenizer's,
     * logits within the engine's tolerance.
     */
    @Test
    void robertaMultipleChoiceMatchesTransformers(@TempDir Path dir) throws IOException {
        HfFixture seqcls = HfFixture.named("roberta-seqcls");
        require(seqcls);
        JsonNode reference;
        try (var in = FamilyFidelitySuite.class.getResourceAsStream(ROBERTA_MC_REFERENCE)) {
            reference = new com.fasterxml.jackson.databind.ObjectMapper().readTree(in);
        }
        Map<String, TensorData> state = new LinkedHashMap<>();
        int hidden;
        try (PretrainedModel base = HfSources.folder(seqcls.path()).open(Map.of())) {
            for (String name : base.weights().names()) {
                if (name.startsWith("roberta.")) {
                    state.put(name, base.weights().read(name));
                }
            }
            hidden = base.config().requireInt("hidden_size");
            Files.writeString(dir.resolve("config.json"), base.config()
                    .with("architectures", List.of("RobertaForMultipleChoice")).toJson());
        }
        float[] poolerW = new float[hidden * hidden];
        float[] poolerB = new float[hidden];
        float[] classifierW = new float[hidden];
        for (int i = 0; i < hidden; i++) {
            for (int j = 0; j < hidden; j++) {
                poolerW[i * hidden + j] = (float) (0.5 * Math.sin(0.7 * i + 0.3 * j + 0.1));
            }
            poolerB[i] = (float) (0.01 * Math.cos(i));
            classifierW[i] = (float) (4.0 * Math.sin(1.3 * i + 0.2));
        }
        state.put("roberta.pooler.dense.weight", TensorData.ofFloats(new long[] {hidden, hidden}, poolerW));
        state.put("roberta.pooler.dense.bias", TensorData.ofFloats(new long[] {hidden}, poolerB));
        state.put("classifier.weight", TensorData.ofFloats(new long[] {1, hidden}, classifierW));
        state.put("classifier.bias", TensorData.ofFloats(new long[] {1}, new float[] {0.05f}));
        SafetensorsWriter.write(dir.resolve("model.safetensors"), state);
        for (String file : List.of("tokenizer.json", "tokenizer_config.json")) {
            Files.copy(seqcls.path().resolve(file), dir.resolve(file));
        }
        try (PretrainedModel base = HfSources.folder(dir).open(Map.of())) {
            ModelDefinition def = new dev.attune.models.Roberta().define(base.config(),
                    new dev.attune.model.HeadSpec(dev.attune.model.HeadSpec.HeadKind.MULTIPLE_CHOICE, 0));
            assertThat(def.architecture()).isEqualTo(reference.get("architecture").asText());
            WeightBinder binder = new WeightBinder(def, base.weights(), 42);
            assertThat(binder.report().missing()).as("missing").isEmpty();
            assertThat(binder.report().unused()).as("unused").isEmpty();
            try (LoweredModel model = lower(def, binder)) {
                for (JsonNode c : reference.get("cases")) {
                    long[][] ids = rows(c.get("input_ids"));
                    long[][] mask = rows(c.get("attention_mask"));
                    for (int i = 0; i < ids.length; i++) {
                        Encoding enc = base.tokenizer().encode(c.get("text").asText(), c.get("endings").get(i).asText(),
                                512);
                        assertThat(enc.ids()).as("input_ids of ending %s", i)
                                .containsExactly(Arrays.copyOf(ids[i], enc.length()));
                        assertThat(Arrays.stream(mask[i]).sum()).isEqualTo(enc.length());
                    }
                    long[] shape = {1, ids.length, ids[0].length};
                    Map<String, TensorData> inputs = new LinkedHashMap<>();
                    inputs.put("input_ids", TensorData.ofLongs(shape, longs(c.get("input_ids"))));
                    inputs.put("attention_mask", TensorData.ofLongs(shape, longs(c.get("attention_mask"))));
                    TensorData logits = model.predict(new Batch(inputs, 1)).get("logits");
                    assertMatches(seqcls, "roberta-multiple-choice", "logits", logits, c.get("logits"));
                }
            }
        }
    }

    /** The reference {@link #robertaMultipleChoiceMatchesTransformers} reads (a test resource beside this class). */
    static final String ROBERTA_MC_REFERENCE = "roberta-multiple-choice-reference.json";

    /**
     * Saving writes the declared parameters only (as a fine-tuned model's state dict does), so tied
     * aliases are left out as HuggingFace leaves them out; the saved folder binds completely and
     * gives the same outputs.
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource("fixtures")
    void savedWeightsReloadWithoutMissingOrUnusedTensors(HfFixture f, @TempDir Path dir) throws IOException {
        Loaded l = load(f);
        ModelDefinition def = l.model().definition();
        Map<String, TensorData> state = new LinkedHashMap<>();
        for (Parameter p : def.parameters().all()) {
            state.put(p.name(), l.model().read(p));
        }
        for (String file : List.of("config.json", "tokenizer.json", "tokenizer_config.json")) {
            Files.copy(f.path().resolve(file), dir.resolve(file));
        }
        SafetensorsWriter.write(dir.resolve("model.safetensors"), state);
        try (PretrainedModel saved = HfSources.folder(dir).open(Map.of())) {
            assertThat(saved.weights().names().stream().filter(def.parameters().tiedNames()::containsKey))
                    .as("tied aliases saved").isEmpty();
            ModelDefinition again = f.family().define(saved.config(), f.head());
            WeightBinder binder = new WeightBinder(again, saved.weights(), 7);
            assertThat(binder.report().missing()).as("missing").isEmpty();
            assertThat(binder.report().unused()).as("unused").isEmpty();
            try (LoweredModel model = lower(again, binder)) {
                JsonNode c = f.reference().get("cases").get(0);
                Map<String, TensorData> out = model.predict(
                        f.isSeq2Seq() ? singleCase(f, l, c) : f.isMultipleChoice() ? choiceCase(c) : idsOnly(c));
                for (String name : f.outputs()) {
                    assertMatches(f, f.name() + " (saved)", name, out.get(name), c.get(name));
                }
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("fixtures")
    void bindsEveryParameterFromTheCheckpoint(HfFixture f) {
        Loaded l = load(f);
        LoadReport report = l.report();
        assertThat(report.missing()).as("missing").isEmpty();
        assertThat(report.unused().stream().filter(n -> !isBuffer(n)).toList()).as("unused").isEmpty();
        assertThat(report.loaded()).as("loaded")
                .containsAll(l.model().definition().parameters().all().stream().map(Parameter::name).toList());
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("fixtures")
    void parameterNamesAreTheCheckpointsNames(HfFixture f) {
        Loaded l = load(f);
        ModelDefinition def = l.model().definition();
        Set<String> aliases = new HashSet<>(def.parameters().tiedNames().keySet());
        List<String> declared = def.parameters().all().stream().map(Parameter::name).sorted().toList();
        List<String> stored = l.base().weights().names().stream()
                .filter(n -> !aliases.contains(n) && !isBuffer(n))
                .sorted()
                .toList();
        assertThat(declared).isEqualTo(stored);
    }

    /**
     * bert-seqcls's {@code pytorch_model.bin} (torch.save zip + pickle, the layout older Hub
     * checkpoints ship) alone in a folder: read by the restricted unpickler, the model gives the same
     * outputs as its safetensors twin, bit for bit, and HuggingFace's within tolerance.
     */
    @Test
    void pytorchModelBinAloneGivesTheSafetensorsOutputs(@TempDir Path dir) throws IOException {
        HfFixture f = HfFixture.named("bert-seqcls");
        require(f);
        for (String file : List.of("config.json", "pytorch_model.bin", "tokenizer.json", "tokenizer_config.json")) {
            Files.copy(f.path().resolve(file), dir.resolve(file));
        }
        Loaded twin = load(f);
        try (PretrainedModel bin = HfSources.folder(dir).open(Map.of())) {
            ModelDefinition def = f.family().define(bin.config(), f.head());
            WeightBinder binder = new WeightBinder(def, bin.weights(), 42);
            assertThat(binder.report().missing()).isEmpty();
            assertThat(binder.report().unused()).isEmpty();
            try (LoweredModel fromBin = lower(def, binder)) {
                int checked = 0;
                for (JsonNode c : f.reference().get("cases")) {
                    Batch batch = fullCase(c);
                    float[] a = fromBin.predict(batch).get("logits").toFloatArray();
                    float[] b = twin.model().predict(batch).get("logits").toFloatArray();
                    assertThat(a).as(c.get("text").asText()).containsExactly(b);
                    assertMatches(f, f.name() + " (pytorch_model.bin)", "logits",
                            fromBin.predict(batch).get("logits"), c.get("logits"));
                    checked++;
                }
                assertThat(checked).isGreaterThanOrEqualTo(4);
            }
        }
    }

    // ---------------------------------------------------------------- helpers

    /**
     * Lowers a definition on the engine under test; an engine may override it to go through its
     * own route (an export and a reload).
     *
     * @param definition the model
     * @param values its parameter values
     * @return the lowered model
     */
    protected LoweredModel lower(ModelDefinition definition, ParameterSource values) {
        return engine.lower(definition, values, options());
    }

    /** A fixture a test names must be one the suite runs: a failure, never a skip. */
    private void require(HfFixture f) {
        if (!f.headBuilt() || !runs(f)) {
            throw new AssertionError(f + " is " + (f.headBuilt() ? "not run by the " + engine.name()
                    + " engine" : "declared not built in HfFixture.ALL") + ", but a test of the suite needs it");
        }
    }

    private synchronized Loaded load(HfFixture f) {
        require(f);
        return loaded.computeIfAbsent(f.name(), n -> {
            PretrainedModel base = HfSources.folder(f.path()).open(Map.of());
            ModelDefinition def = f.family().define(base.config(), f.head());
            WeightBinder binder = new WeightBinder(def, base.weights(), 42);
            return new Loaded(base, lower(def, binder), binder.report());
        });
    }

    /** Compares one output with HuggingFace's values (shape and every element), recording the largest difference. */
    private void assertMatches(HfFixture f, String what, String output, TensorData actual, JsonNode expected) {
        Nd want = fromJson(expected);
        long[] shape = actual.shape();
        if (shape.length == want.rank() + 1 && shape[0] == 1) { // a single case: a batch of 1
            actual = new TensorData(actual.dtype(), Arrays.copyOfRange(shape, 1, shape.length), actual.buffer());
        }
        Tolerance tolerance = tolerance(f);
        assertThat(actual.shape()).as("%s %s shape", what, output).containsExactly(want.shape());
        record(what, TensorAssert.Difference.of(actual.toFloatArray(), want.v(), tolerance).maxAbs());
        assertThatTensor(actual).as("%s %s (%s)", what, output, engine.name())
                .isCloseTo(want.shape(), want.v(), tolerance);
    }

    private synchronized void record(String what, double difference) {
        maxDifference.merge(what, difference, Math::max);
    }

    /** Checkpoint tensors that are buffers, not parameters (GPT-2's causal masks in older files). */
    static boolean isBuffer(String name) {
        return name.endsWith(".attn.bias") || name.endsWith(".attn.masked_bias");
    }

    static String pair(JsonNode c) {
        JsonNode p = c.path("text_pair");
        return p.isNull() || p.isMissingNode() ? null : p.asText();
    }

    /** The reference's padded batch: input ids and attention mask (no type ids: families default them). */
    static Batch batchOf(JsonNode batch) {
        int b = batch.get("input_ids").size();
        int t = batch.get("input_ids").get(0).size();
        Map<String, TensorData> inputs = new LinkedHashMap<>();
        inputs.put("input_ids", TensorData.ofLongs(new long[] {b, t}, longs(batch.get("input_ids"))));
        inputs.put("attention_mask", TensorData.ofLongs(new long[] {b, t}, longs(batch.get("attention_mask"))));
        return new Batch(inputs, b);
    }

    /** A case's input ids alone: the mask and type ids left to the family's defaults. */
    static Batch idsOnly(JsonNode c) {
        long[] ids = longs(c.get("input_ids"));
        return new Batch(Map.of("input_ids", TensorData.ofLongs(new long[] {1, ids.length}, ids)), 1);
    }

    /** A case's input ids, attention mask and (when the reference has them) type ids, from the reference. */
    static Batch fullCase(JsonNode c) {
        long[] ids = longs(c.get("input_ids"));
        long[] shape = {1, ids.length};
        Map<String, TensorData> inputs = new LinkedHashMap<>();
        inputs.put("input_ids", TensorData.ofLongs(shape, ids));
        inputs.put("attention_mask", TensorData.ofLongs(shape, longs(c.get("attention_mask"))));
        if (c.has("token_type_ids")) {
            inputs.put("token_type_ids", TensorData.ofLongs(shape, longs(c.get("token_type_ids"))));
        }
        return new Batch(inputs, 1);
    }

    /** A multiple-choice case: its padded {@code [1, C, T]} input ids, attention mask and type ids, from the reference. */
    static Batch choiceCase(JsonNode c) {
        Map<String, TensorData> inputs = new LinkedHashMap<>();
        for (String name : List.of("input_ids", "attention_mask", "token_type_ids")) {
            Nd values = fromJson(c.get(name));
            long[] shape = {1, values.shape()[0], values.shape()[1]};
            inputs.put(name, TensorData.ofLongs(shape, values.toLongs()));
        }
        return new Batch(inputs, 1);
    }

    /** @return the rows of a JSON matrix of whole numbers */
    static long[][] rows(JsonNode matrix) {
        long[][] out = new long[matrix.size()][];
        for (int i = 0; i < out.length; i++) {
            out[i] = longs(matrix.get(i));
        }
        return out;
    }

    /** A seq2seq case: encoder ids, a full mask, and the labels shifted right as decoder inputs (teacher forcing). */
    private static Batch singleCase(HfFixture f, Loaded l, JsonNode c) {
        long[] ids = longs(c.get("input_ids"));
        long[] mask = new long[ids.length];
        Arrays.fill(mask, 1);
        long[] decoder = shiftRight(longs(c.get("labels")), l.base().config().requireInt("decoder_start_token_id"));
        Map<String, TensorData> inputs = new LinkedHashMap<>();
        inputs.put("input_ids", TensorData.ofLongs(new long[] {1, ids.length}, ids));
        inputs.put("attention_mask", TensorData.ofLongs(new long[] {1, mask.length}, mask));
        inputs.put("decoder_input_ids", TensorData.ofLongs(new long[] {1, decoder.length}, decoder));
        return new Batch(inputs, 1);
    }

    /** @return labels shifted right behind the decoder start token */
    static long[] shiftRight(long[] labels, long start) {
        long[] out = new long[labels.length];
        out[0] = start;
        System.arraycopy(labels, 0, out, 1, labels.length - 1);
        return out;
    }

    /** @return the whole numbers of a (nested) JSON array, row-major */
    static long[] longs(JsonNode array) {
        return fromJson(array).toLongs();
    }

    /** @return a (nested) JSON array of numbers as a tensor: its shape and row-major values */
    static Nd fromJson(JsonNode node) {
        List<Long> shape = new ArrayList<>();
        List<Double> values = new ArrayList<>();
        flatten(node, values, shape, 0);
        return new Nd(shape.stream().mapToLong(Long::longValue).toArray(),
                values.stream().mapToDouble(Double::doubleValue).toArray());
    }

    private static void flatten(JsonNode node, List<Double> values, List<Long> shape, int depth) {
        if (node.isArray()) {
            if (shape.size() == depth) {
                shape.add((long) node.size());
            }
            for (JsonNode child : node) {
                flatten(child, values, shape, depth + 1);
            }
        } else {
            values.add(node.asDouble());
        }
    }

    private static double[] toDoubles(float[] f) {
        double[] d = new double[f.length];
        for (int i = 0; i < f.length; i++) {
            d[i] = f[i];
        }
        return d;
    }
}
