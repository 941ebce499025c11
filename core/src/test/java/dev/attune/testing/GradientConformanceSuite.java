package dev.attune.testing;

import static dev.attune.testing.TensorAssert.assertThatTensor;
import static org.junit.jupiter.api.Named.named;

import dev.attune.engine.Engine;
import dev.attune.engine.EngineOptions;
import dev.attune.engine.LoweredModel;
import dev.attune.engine.TrainingSession;
import dev.attune.ops.DType;
import dev.attune.ops.Ops;
import dev.attune.ops.Tensor;
import dev.attune.ops.TensorData;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Named;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The backward pass of the ops a model trains through, written once, run by every engine that
 * trains: each {@link Case} is a function {@code y = f(p)} of one parameter {@code p}, written with
 * {@link Ops}, and the loss {@code sum(w * y)} with fixed weights {@code w} (so that every element
 * of {@code y} gets a different incoming gradient). The engine's gradient of that loss with respect
 * to {@code p} (one {@link TrainingSession#forwardBackward}) is compared with the central
 * difference of the same function computed in double precision by {@link Nd}, so a wrong or
 * missing gradient rule in an engine (TensorFlow's {@code LogSoftmax} gradient summed over axis 1
 * rather than the last axis, which a rank-3 language-model head exposes) fails here by name, while
 * the forward pass alone (the {@link OpConformanceSuite}) looks right.
 *
 * <p>The cases follow the ops a decoder LLM's training step uses: log-softmax and softmax over the
 * last axis of rank-3 tensors, the token negative log-likelihood of a language-model head (gather
 * along the vocabulary), cross-entropy, RMSNorm, rotary {@code rotate_half}, the grouped-query
 * key/value repeat, SiLU, embedding rows, linear layers on rank-3 inputs (also added to a tensor, as
 * LoRA adds its up-projection) and masked attention.
 *
 * <pre>{@code
 * class PyTorchGradientConformanceTest extends GradientConformanceSuite {
 *     @Override
 *     protected Engine createEngine() {
 *         return new PyTorchEngineProvider().create();
 *     }
 * }
 * }</pre>
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
public abstract class GradientConformanceSuite {
    /** Step of the central difference: its truncation error (h^2) is far below float32 rounding. */
    private static final double H = 1e-5;
    /** The input holding the loss's weights {@code w}. */
    private static final String WEIGHTS = "loss_weights";

    private Engine engine;

    /** @return a new engine; the suite closes it after the last case */
    protected abstract Engine createEngine();

    /**
     * @return how far each gradient element may be from the double-precision difference (default
     *     atol 1e-5, rtol 1e-4: float32 rounding through a few ops, the forward and the backward)
     */
    protected Tolerance tolerance() {
        return Tolerance.of(1e-5, 1e-4);
    }

    @BeforeAll
    void startEngine() {
        engine = createEngine();
    }

    @AfterAll
    void closeEngine() {
        if (engine != null) {
            engine.close();
        }
    }

    /**
     * One differentiable function of the parameter {@code p}.
     *
     * @param name the case's name in the report
     * @param p the parameter's value
     * @param inputs further inputs (float or integer), fixed
     * @param body {@code y = f(p, inputs)} with the engine's ops
     * @param reference the same {@code f} of {@code p} in double precision (inputs captured)
     */
    public record Case(String name, Nd p, Map<String, TensorData> inputs, OpCase.Body body,
            UnaryOperator<Nd> reference) {
        @Override
        public String toString() {
            return name;
        }
    }

    private static Case of(String name, Nd p, OpCase.Body body, UnaryOperator<Nd> reference) {
        return new Case(name, p, Map.of(), body, reference);
    }

    private static double sigmoid(double x) {
        return 1 / (1 + Math.exp(-x));
    }

    /** RMSNorm as Llama's: {@code x / sqrt(mean(x^2) + eps)} over the last axis. */
    private static Tensor rmsNorm(Ops o, Tensor x, float eps) {
        Tensor variance = o.mean(o.mul(x, x), -1, true);
        return o.mul(x, o.pow(o.add(variance, eps), -0.5f));
    }

    private static Nd rmsNorm(Nd x, double eps) {
        Nd inv = x.mul(x).mean(-1, true).map(v -> 1 / Math.sqrt(v + eps));
        return x.mul(inv);
    }

    /** @return every case */
    public static List<Case> all() {
        List<Case> all = new ArrayList<>();
        Nd logits3 = Nd.seeded(1, 2, 3, 7);
        all.add(of("logSoftmax over the last axis of a rank-3 tensor", logits3,
                (o, a) -> o.logSoftmax(a.param("p"), -1), p -> p.logSoftmax(-1)));
        all.add(of("logSoftmax over the last axis of a rank-2 tensor", Nd.seeded(2, 4, 6),
                (o, a) -> o.logSoftmax(a.param("p"), -1), p -> p.logSoftmax(-1)));
        all.add(of("logSoftmax over the middle axis of a rank-3 tensor", logits3,
                (o, a) -> o.logSoftmax(a.param("p"), 1), p -> p.logSoftmax(1)));
        all.add(of("softmax over the last axis of a rank-4 tensor", Nd.seeded(3, 2, 2, 3, 5),
                (o, a) -> o.softmax(a.param("p"), -1), p -> p.softmax(-1)));
        Nd targets = Nd.ofLongs(new long[] {2, 3, 1}, 4, 0, 6, 1, 1, 3);
        all.add(new Case("token negative log-likelihood of [B, T, V] logits", logits3,
                Map.of("t", targets.longs()),
                (o, a) -> o.neg(o.sum(o.gather(o.logSoftmax(a.param("p"), -1), 2, a.in("t")), 2, false)),
                p -> p.logSoftmax(-1).gather(2, targets).sum(2, false).map(v -> -v)));
        Nd labels = Nd.ofLongs(new long[] {4}, 2, -100, 5, 0);
        Nd safeLabels = Nd.ofLongs(new long[] {4, 1}, 2, 0, 5, 0);
        all.add(new Case("crossEntropy with an ignored label", Nd.seeded(4, 4, 6), Map.of("t", labels.longs()),
                (o, a) -> o.crossEntropy(a.param("p"), a.in("t"), -100), p -> {
                    Nd picked = p.logSoftmax(-1).gather(1, safeLabels).reshape(4);
                    Nd kept = Nd.of(new long[] {4}, 1, 0, 1, 1);
                    return Nd.of(new long[0], -picked.mul(kept).sumAll().v()[0] / 3);
                }));
        all.add(of("RMSNorm (mean of squares, pow -0.5)", Nd.seeded(5, 2, 3, 8),
                (o, a) -> rmsNorm(o, o.add(a.param("p"), 0f), 1e-6f), p -> rmsNorm(p, (float) 1e-6)));
        Nd cos = Nd.seeded(6, 1, 3, 8).map(a -> (float) Math.cos(a));
        all.add(new Case("rotary rotate_half (slice, neg, concat) times cos", Nd.seeded(7, 2, 2, 3, 8),
                Map.of("c", cos.floats()), (o, a) -> {
                    Tensor x = a.param("p");
                    Tensor rotated = o.concat(-1, o.neg(o.slice(x, -1, 4, 8)), o.slice(x, -1, 0, 4));
                    return o.add(o.mul(x, a.in("c")), rotated);
                }, p -> {
                    Nd rotated = Nd.concat(-1, p.slice(-1, 4, 8).map(a -> -a), p.slice(-1, 0, 4));
                    return p.mul(cos).add(rotated);
                }));
        all.add(of("grouped-query key/value repeat (unsqueeze, concat, reshape)", Nd.seeded(8, 2, 2, 3, 4),
                (o, a) -> {
                    Tensor one = o.unsqueeze(a.param("p"), 2);
                    return o.reshape(o.concat(2, one, one, one), 0, 6, -1, 4);
                }, p -> {
                    Nd one = p.unsqueeze(2);
                    return Nd.concat(2, one, one, one).reshape(2, 6, 3, 4);
                }));
        all.add(of("SiLU (x * sigmoid(x))", Nd.seeded(9, 3, 5),
                (o, a) -> o.mul(a.param("p"), o.sigmoid(a.param("p"))), p -> p.map(v -> v * sigmoid(v))));
        Nd ids = Nd.ofLongs(new long[] {2, 3}, 1, 4, 1, 0, 4, 4);
        all.add(new Case("embedding rows, some ids repeated", Nd.seeded(10, 5, 3), Map.of("i", ids.longs()),
                (o, a) -> o.embedding(a.param("p"), a.in("i")), p -> p.embedding(ids)));
        Nd x = Nd.seeded(11, 2, 3, 4);
        all.add(new Case("linear on a rank-3 input, gradient of the weight", Nd.seeded(12, 5, 4),
                Map.of("x", x.floats()), (o, a) -> o.linear(a.in("x"), a.param("p"), null),
                p -> x.matmul(p.transpose(1, 0))));
        Nd w = Nd.seeded(13, 5, 4);
        all.add(new Case("linear on a rank-3 input, gradient of the input", x, Map.of("w", w.floats()),
                (o, a) -> o.linear(o.add(a.param("p"), 0f), a.in("w"), null), p -> p.matmul(w.transpose(1, 0))));
        // LoRA's up-projection added to the frozen layer's output (one addmm on the PyTorch engine)
        Nd c = Nd.seeded(17, 2, 3, 5);
        all.add(new Case("linear added to a tensor, gradient of the weight", Nd.seeded(12, 5, 4),
                Map.of("x", x.floats(), "c", c.floats()), (o, a) -> o.linearAdd(a.in("x"), a.param("p"), a.in("c")),
                p -> x.matmul(p.transpose(1, 0)).add(c)));
        all.add(new Case("linear added to a tensor, gradient of the input", x, Map.of("w", w.floats(), "c", c.floats()),
                (o, a) -> o.linearAdd(o.add(a.param("p"), 0f), a.in("w"), a.in("c")),
                p -> p.matmul(w.transpose(1, 0)).add(c)));
        all.add(new Case("linear added to a tensor, gradient of the addend", c, Map.of("x", x.floats(), "w", w.floats()),
                (o, a) -> o.linearAdd(a.in("x"), a.in("w"), o.add(a.param("p"), 0f)),
                p -> x.matmul(w.transpose(1, 0)).add(p)));
        // causal mask with one padded key: the masked scores take -max float, as the families' masks
        Nd k = Nd.seeded(14, 1, 2, 3, 4);
        Nd v = Nd.seeded(15, 1, 2, 3, 4);
        double[] bias = new double[9];
        for (int q = 0; q < 3; q++) {
            for (int j = 0; j < 3; j++) {
                bias[q * 3 + j] = j > q || j == 1 && q == 2 ? -Float.MAX_VALUE : 0;
            }
        }
        Nd mask = Nd.of(new long[] {1, 1, 3, 3}, bias);
        float scale = 0.5f;
        all.add(new Case("attention with a causal and padding mask, gradient of the query", Nd.seeded(16, 1, 2, 3, 4),
                Map.of("k", k.floats(), "v", v.floats(), "m", mask.floats()),
                (o, a) -> o.attention(o.add(a.param("p"), 0f), a.in("k"), a.in("v"), a.in("m"), scale, 0f),
                p -> p.matmul(k.transpose(0, 1, 3, 2)).map(s -> s * scale).add(mask).softmax(-1).matmul(v)));
        return all;
    }

    /** @return every case, named for the report */
    public Stream<Named<Case>> cases() {
        return all().stream().map(c -> named(c.name(), c));
    }

    /** The loss {@code sum(w * f(p))} in double precision. */
    private static double loss(Case c, Nd p, Nd w) {
        return c.reference().apply(p).mul(w).sumAll().v()[0];
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void gradientMatchesTheCentralDifference(Case c) {
        Nd y = c.reference().apply(c.p());
        Nd w = Nd.seeded(17, y.shape());
        Nd p = c.p();
        double[] expected = new double[p.v().length];
        for (int i = 0; i < expected.length; i++) {
            double[] up = p.v().clone();
            double[] down = p.v().clone();
            up[i] += H;
            down[i] -= H;
            expected[i] = (loss(c, new Nd(p.shape(), up), w) - loss(c, new Nd(p.shape(), down), w)) / (2 * H);
        }
        OpCase model = OpCase.named(c.name()).param("p", p).in(WEIGHTS, w);
        Map<String, TensorData> inputs = new LinkedHashMap<>(c.inputs());
        inputs.forEach((n, t) -> {
            if (t.dtype() == DType.INT64) {
                model.inLong(n, Nd.ofLongs(t.shape(), t.toLongArray()));
            } else {
                model.in(n, new Nd(t.shape(), toDoubles(t.toFloatArray())));
            }
        });
        model.out("loss", DType.FLOAT32, (o, a) -> o.sumAll(o.mul(c.body().apply(o, a), a.in(WEIGHTS))),
                Nd.of(new long[0], loss(c, p, w)));
        TensorData gradient;
        try (LoweredModel lowered = engine.lower(model.model(), model::valueOf, EngineOptions.defaults());
                TrainingSession session = lowered.startTraining(Set.of(), List.of("gradient"))) {
            session.forwardBackward(model.batch(), 1f);
            session.compile((ops, q) -> {
                ops.addInPlace(ops.slot("gradient", q), ops.gradient(q));
                return null;
            }).run(Map.of());
            gradient = session.slots().get("gradient/p");
        }
        assertThatTensor(gradient).as("%s: d loss / d p on %s", c.name(), engine.name())
                .isCloseTo(p.shape(), expected, tolerance());
    }

    private static double[] toDoubles(float[] f) {
        double[] d = new double[f.length];
        for (int i = 0; i < d.length; i++) {
            d[i] = f[i];
        }
        return d;
    }
}
