package dev.attune.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Named.named;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.attune.Attune;
import dev.attune.engine.Batch;
import dev.attune.engine.EngineOptions.DeviceSpec;
import dev.attune.formats.hf.HfSources;
import dev.attune.model.TextTokenizer.Encoding;
import dev.attune.model.FineTunedModel;
import dev.attune.model.PretrainedModel;
import dev.attune.ops.Parameter;
import dev.attune.ops.TensorData;
import dev.attune.task.Dataset;
import dev.attune.task.Task;
import dev.attune.train.TrainingConfig;
import dev.attune.train.TrainingConfig.EvalStrategy;
import dev.attune.train.TrainingConfig.SchedulerType;
import dev.attune.train.TrainingControl;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import java.util.stream.StreamSupport;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Named;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Twelve optimizer steps of fine-tuning {@code fixtures/hf/bert-seqcls} through Attune's public path
 * ({@link Attune#fineTune} with a {@link TrainingConfig}), held step by step to what HuggingFace's
 * Trainer does with the same data and settings: the reference {@value #REFERENCE} (written by {@code
 * core/src/test/python/make_trajectory_reference.py}, which also checks its loop against {@code
 * transformers.Trainer}). Written once and run by every engine that trains, with a one-class
 * subclass naming the engine.
 *
 * <p>Per step the logged loss, gradient norm before clipping and learning rate; after the last step
 * the logits of the eight texts, the classifier's weights, sums and norms of a few parameters, and
 * how far training moved every parameter (the L2 norm of final minus initial values). The fixture's
 * weights are tiny and random, so its loss stays near ln 2 (it falls by about 1e-3 in the 12 steps)
 * and its logits near 0: those two show gross errors only, while the parameters, each moved by about
 * the learning rate per step whatever the gradient's size, show the weight decay of one group, the
 * bias correction and the clipping. Besides, the token ids must be HuggingFace's tokenizer's and the
 * parameters left out of weight decay must be those HuggingFace's Trainer leaves out.
 *
 * <p>The variants of the reference: {@code batch-2} (learning rate 1e-3, 2 warmup steps then linear
 * decay, weight decay 0.01, max grad norm 1.0, batch size 2), {@code clip-0.005} (max grad norm 0.005,
 * so the later steps are clipped) and {@code accumulate-2} (two micro-batches of 2 per step). Batches
 * are taken in order (no shuffling: micro-batch {@code k} holds examples {@code 2k} and {@code 2k+1}
 * mod 8) and dropout is off through the same config overrides the reference used.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
public abstract class TrainingTrajectorySuite {
    /** The reference, a resource next to this class. */
    public static final String REFERENCE = "bert-seqcls-trajectory.json";
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final JsonNode REF = readReference();

    private Attune attune;
    /** Per variant and kind of value: the largest difference from HuggingFace's, and the largest share of its tolerance. */
    private final Map<String, double[]> maxDifference = new TreeMap<>();

    /** @return the engine's name, as {@code Attune.builder().engine(name)} takes it */
    protected abstract String engineName();

    /**
     * @return how far each step's loss may be from HuggingFace's (default: 1e-4 plus 1e-4 relative, as
     *     the issue asks; the differences seen are below 1e-7)
     */
    protected Tolerance lossTolerance() {
        return Tolerance.of(1e-4, 1e-4);
    }

    /**
     * @return how far each step's gradient norm may be from HuggingFace's (default: 3e-4 relative and
     *     2e-7 absolute). The norms are 0.001 to 0.02, where an absolute 1e-4 would let a run without
     *     clipping pass (it is 2e-5 off at step 9 of {@code clip-0.005}); differences of 1e-4 relative
     *     are seen, since AdamW's first steps move each weight by about the learning rate whatever the
     *     size of its gradient, so the float rounding of tiny gradients moves later ones
     */
    protected Tolerance gradNormTolerance() {
        return Tolerance.of(2e-7, 3e-4);
    }

    /**
     * @return how far the final logits may be from HuggingFace's (default: absolute 1e-5; they move by
     *     about 1e-3 in the 12 steps, so 1e-4 would allow a tenth of that)
     */
    protected Tolerance logitsTolerance() {
        return Tolerance.absolute(1e-5);
    }

    /**
     * @return how far the final parameters (values, norms, displacements) may be from HuggingFace's
     *     (default: 1e-5 plus 1e-4 relative)
     */
    protected Tolerance parameterTolerance() {
        return Tolerance.of(1e-5, 1e-4);
    }

    /**
     * @return how far the sum of a final parameter's values may be from HuggingFace's (default: 3e-5
     *     plus 1e-4 relative: a sum adds up the differences of all its elements while its values may
     *     nearly cancel; layer 1's output bias sums to 3.6e-4 and is 5e-6 off)
     */
    protected Tolerance parameterSumTolerance() {
        return Tolerance.of(3e-5, 1e-4);
    }

    @BeforeAll
    void start() {
        attune = Attune.builder().engine(engineName()).device(DeviceSpec.CPU).numThreads(2).build();
    }

    @AfterAll
    void stop() {
        if (attune != null) {
            maxDifference.forEach((what, d) -> System.out.printf(Locale.ROOT,
                    "%s max |Attune - HF| %-32s %.3g (%.0f%% of the tolerance)%n", engineName(), what, d[0], 100 * d[1]));
            attune.close();
        }
    }

    /** @return the reference's variants, by name */
    public static Stream<Named<JsonNode>> variants() {
        return StreamSupport.stream(REF.get("variants").spliterator(), false).map(v -> named(v.get("name").asText(), v));
    }

    // ---------------------------------------------------------------- tests

    @Test
    void tokenIdsAreHuggingFacesTokenizers() {
        try (PretrainedModel base = open()) {
            int maxLength = REF.get("variants").get(0).get("settings").get("max_length").asInt();
            for (int i = 0; i < REF.get("texts").size(); i++) {
                Encoding enc = base.tokenizer().encode(REF.get("texts").get(i).asText(), null, maxLength);
                assertThat(enc.ids()).as("input_ids of text %d", i).containsExactly(longs(REF.get("input_ids").get(i)));
                assertThat(enc.typeIds()).as("token_type_ids of text %d", i)
                        .containsExactly(longs(REF.get("token_type_ids").get(i)));
            }
        }
    }

    /** Biases and LayerNorm weights, as HuggingFace's {@code Trainer.get_decay_parameter_names} leaves them out. */
    @Test
    void weightDecaySkipsTheParametersHuggingFaceSkips() {
        try (PretrainedModel base = open(); FineTunedModel model = attune.prepare(base, task(), 128)) {
            List<String> skipped = new ArrayList<>();
            List<String> all = new ArrayList<>();
            for (Parameter p : model.lowered().definition().parameters().all()) {
                all.add(p.name());
                if (!p.decay()) {
                    skipped.add(p.name());
                }
            }
            assertThat(skipped).containsExactlyInAnyOrderElementsOf(strings(REF.get("no_decay")));
            assertThat(all).hasSize(REF.get("variants").get(0).get("final").get("displacements").size());
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("variants")
    void twelveStepsFollowHuggingFacesTrajectory(JsonNode variant, @TempDir Path dir) throws IOException {
        JsonNode s = variant.get("settings");
        assertThat(s.get("lr_scheduler_type").asText()).isEqualTo("linear");
        TrainingConfig config = configOf(s);
        // the betas have no setter: the defaults must be the reference's
        assertThat(config.adamBeta1()).isEqualTo(s.get("adam_beta1").asDouble());
        assertThat(config.adamBeta2()).isEqualTo(s.get("adam_beta2").asDouble());

        List<Map<String, Object>> log = new ArrayList<>();
        TrainingControl control = new TrainingControl().addListener(log::add);
        Task task = task();
        Dataset train = task.read(writeExamples(dir.resolve("train.jsonl")));
        String name = variant.get("name").asText();
        try (PretrainedModel base = open();
                FineTunedModel model = attune.fineTune(base, task, train, null, config, control).model()) {
            assertThat(model.engineName()).isEqualTo(engineName());
            assertThat(model.loadReport().missing()).as("weights not in the checkpoint").isEmpty();

            List<Map<String, Object>> steps = log.stream().filter(r -> r.containsKey("loss")).toList();
            JsonNode expected = variant.get("steps");
            assertThat(steps).as("logged steps").hasSize(expected.size());
            for (int i = 0; i < expected.size(); i++) {
                Map<String, Object> got = steps.get(i);
                JsonNode want = expected.get(i);
                assertThat(((Number) got.get("step")).longValue()).isEqualTo(want.get("step").asLong());
                String at = "step " + want.get("step") + " ";
                check(name, "learning rate", at, number(got, "learning_rate"), want.get("learning_rate").asDouble(),
                        Tolerance.of(1e-12, 1e-9));
                check(name, "loss", at, number(got, "loss"), want.get("loss").asDouble(), lossTolerance());
                check(name, "grad norm", at, number(got, "grad_norm"), want.get("grad_norm").asDouble(),
                        gradNormTolerance());
            }
            checkFinal(name, variant.get("final"), base, model, config.maxLength());
        }
    }

    // ---------------------------------------------------------------- helpers

    private void checkFinal(String name, JsonNode want, PretrainedModel base, FineTunedModel model, int maxLength) {
        JsonNode logits = want.get("logits");
        for (int i = 0; i < logits.size(); i++) {
            Encoding enc = model.tokenizer().encode(REF.get("texts").get(i).asText(), null, maxLength);
            long[] shape = {1, enc.length()};
            Map<String, TensorData> inputs = new LinkedHashMap<>();
            inputs.put("input_ids", TensorData.ofLongs(shape, enc.ids()));
            inputs.put("attention_mask", TensorData.ofLongs(shape, enc.attentionMask()));
            inputs.put("token_type_ids", TensorData.ofLongs(shape, enc.typeIds()));
            float[] got = model.lowered().predict(new Batch(inputs, 1)).get("logits").toFloatArray();
            assertThat(got).as("%s logits of text %d", name, i).hasSize(logits.get(i).size());
            for (int j = 0; j < got.length; j++) {
                check(name, "final logits", "text " + i + " ", got[j], logits.get(i).get(j).asDouble(),
                        logitsTolerance());
            }
        }
        Map<String, TensorData> state = model.stateDict();
        want.get("parameters").fields().forEachRemaining(e -> {
            float[] got = state.get(e.getKey()).toFloatArray();
            assertThat(got).as("%s %s", name, e.getKey()).hasSize(e.getValue().size());
            for (int j = 0; j < got.length; j++) {
                check(name, "parameters", e.getKey() + "[" + j + "] ", got[j], e.getValue().get(j).asDouble(),
                        parameterTolerance());
            }
        });
        want.get("parameter_summaries").fields().forEachRemaining(e -> {
            float[] got = state.get(e.getKey()).toFloatArray();
            double sum = 0;
            double squares = 0;
            for (float v : got) {
                sum += v;
                squares += (double) v * v;
            }
            check(name, "parameter sums", e.getKey() + " ", sum, e.getValue().get("sum").asDouble(),
                    parameterSumTolerance());
            check(name, "parameter norms", e.getKey() + " ", Math.sqrt(squares), e.getValue().get("norm").asDouble(),
                    parameterTolerance());
        });
        JsonNode displacements = want.get("displacements");
        assertThat(state.keySet()).containsExactlyInAnyOrderElementsOf(() -> displacements.fieldNames());
        for (Map.Entry<String, TensorData> e : state.entrySet()) {
            float[] now = e.getValue().toFloatArray();
            float[] before = base.weights().read(e.getKey()).toFloatArray();
            double squares = 0;
            for (int j = 0; j < now.length; j++) {
                double d = (double) now[j] - before[j];
                squares += d * d;
            }
            double expected = displacements.get(e.getKey()).asDouble();
            double moved = Math.sqrt(squares);
            check(name, "displacements", e.getKey() + " ", moved, expected, parameterTolerance());
        }
    }

    /**
     * Asserts one value against HuggingFace's and records the difference among the variant's {@code kind}.
     *
     * @param where which one of its kind (a step, a text, a parameter), for the failure's message
     */
    private void check(String variant, String kind, String where, double actual, double expected,
            Tolerance tolerance) {
        double difference = Math.abs(actual - expected);
        record(variant + " " + kind, difference, difference / tolerance.allowed(expected));
        assertThat(tolerance.allows(actual, expected))
                .as("%s on %s, %s%s: Attune %s, HuggingFace %s (%s)", variant, engineName(), where, kind, actual,
                        expected, tolerance)
                .isTrue();
    }

    private synchronized void record(String what, double difference, double share) {
        maxDifference.merge(what, new double[] {difference, share},
                (a, b) -> new double[] {Math.max(a[0], b[0]), Math.max(a[1], b[1])});
    }

    private PretrainedModel open() {
        Map<String, String> overrides = new LinkedHashMap<>();
        REF.get("config_overrides").fields().forEachRemaining(e -> overrides.put(e.getKey(), e.getValue().asText()));
        return attune.load(HfSources.folder(SharedFiles.path(REF.get("fixture").asText())), overrides);
    }

    private Task task() {
        return attune.task("text-classification", Map.of("labels", String.join(",", strings(REF.get("labels")))));
    }

    /** The reference's texts and labels as a JSON Lines file, which the text-classification task reads. */
    private static Path writeExamples(Path file) throws IOException {
        StringBuilder lines = new StringBuilder();
        for (int i = 0; i < REF.get("texts").size(); i++) {
            ObjectNode row = JSON.createObjectNode();
            row.put("text", REF.get("texts").get(i).asText());
            row.put("label", REF.get("label_names").get(i).asText());
            lines.append(JSON.writeValueAsString(row)).append('\n');
        }
        return Files.writeString(file, lines);
    }

    private static double number(Map<String, Object> record, String key) {
        Object v = record.get(key);
        assertThat(v).as("log record %s: %s", record, key).isInstanceOf(Number.class);
        return ((Number) v).doubleValue();
    }

    private static List<String> strings(JsonNode array) {
        List<String> out = new ArrayList<>();
        array.forEach(n -> out.add(n.asText()));
        return out;
    }

    private static long[] longs(JsonNode array) {
        long[] out = new long[array.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = array.get(i).asLong();
        }
        return out;
    }

    private static JsonNode readReference() {
        try (InputStream in = TrainingTrajectorySuite.class.getResourceAsStream(REFERENCE)) {
            if (in == null) {
                throw new IllegalStateException(REFERENCE + " is not on the class path next to "
                        + TrainingTrajectorySuite.class.getName() + "; it belongs in core's test resources");
            }
            return JSON.readTree(in);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * The trainer settings of a reference made with HuggingFace's TrainingArguments names
     * ({@code learning_rate}, {@code warmup_steps}, ... ; {@code gradient_accumulation_steps} 1 when
     * absent), linear schedule, no shuffling, a log record every step, nothing else written.
     *
     * @param s the reference's settings
     * @return the configuration that reproduces its run
     */
    public static TrainingConfig configOf(JsonNode s) {
        return TrainingConfig.builder()
                .learningRate(s.get("learning_rate").asDouble())
                .lrSchedulerType(SchedulerType.LINEAR)
                .warmupSteps(s.get("warmup_steps").asLong())
                .weightDecay(s.get("weight_decay").asDouble())
                .adamEpsilon(s.get("adam_epsilon").asDouble())
                .maxGradNorm(s.get("max_grad_norm").asDouble())
                .perDeviceTrainBatchSize(s.get("per_device_train_batch_size").asInt())
                .gradientAccumulationSteps(s.path("gradient_accumulation_steps").asInt(1))
                .maxSteps(s.get("max_steps").asLong())
                .maxLength(s.get("max_length").asInt())
                .shuffle(false)
                .loggingSteps(1)
                .evalStrategy(EvalStrategy.NO)
                .tensorboard(false)
                .disableTqdm(true)
                .build();
    }
}
