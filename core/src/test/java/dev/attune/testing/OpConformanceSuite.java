package dev.attune.testing;

import static dev.attune.testing.TensorAssert.assertThatTensor;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Named.named;

import dev.attune.engine.Engine;
import dev.attune.engine.EngineOptions;
import dev.attune.engine.LoweredModel;
import dev.attune.ops.TensorData;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Named;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every op of {@link dev.attune.ops.Ops}, written once, run by every engine: each {@link OpCase} is
 * a tiny model definition that the engine lowers and runs through {@code predict} (so ONNX Runtime,
 * which only runs exported graphs, runs it too), and each output is compared with values computed in
 * double precision by {@link Nd}. Copies and integer results must be exact; float results must be
 * within the engine's {@link #tolerance(OpCase)} (Keras's {@code assertAllClose}: atol + rtol *
 * |expected|).
 *
 * <p>An engine runs the suite with a one-class subclass:
 *
 * <pre>{@code
 * class PyTorchOpConformanceTest extends OpConformanceSuite {
 *     @Override
 *     protected Engine createEngine() {
 *         return new PyTorchEngineProvider().create();
 *     }
 * }
 * }</pre>
 *
 * It may widen {@link #tolerance(OpCase)} and leave out cases it cannot run ({@link #runs(OpCase)},
 * with the reason in its Javadoc): a case left out makes no test, so the report skips nothing.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
public abstract class OpConformanceSuite {
    private Engine engine;

    /** @return a new engine; the suite closes it after the last case */
    protected abstract Engine createEngine();

    /**
     * @param c a case whose values are not exact
     * @return how far each float output may be from the double-precision reference (default atol
     *     1e-6, rtol 1e-6: float32 rounding of a few operations on values of order 1)
     */
    protected Tolerance tolerance(OpCase c) {
        return Tolerance.of(1e-6, 1e-6);
    }

    /**
     * Declares the cases this engine runs; an engine that leaves one out gives the reason in its
     * override's Javadoc. The cases left out make no tests.
     *
     * @param c a case
     * @return whether this engine runs it (default: every case)
     */
    protected boolean runs(OpCase c) {
        return true;
    }

    /** @return options for lowering each case (default: {@link EngineOptions#defaults()}) */
    protected EngineOptions options() {
        return EngineOptions.defaults();
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

    /** @return every case this engine runs ({@link #runs(OpCase)}), named for the report */
    public Stream<Named<OpCase>> cases() {
        List<OpCase> all = new ArrayList<>();
        all.addAll(OpCases.elementwise());
        all.addAll(OpCases.neuralNetwork());
        all.addAll(OpCases.shape());
        all.addAll(OpCases.typesAndComparisons());
        all.addAll(OpCases.reductions());
        all.addAll(OpCases.losses());
        return all.stream().filter(this::runs).map(c -> named(c.name(), c));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void opMatchesTheDoublePrecisionReference(OpCase c) {
        Tolerance tolerance = c.isExact() ? Tolerance.EXACT : tolerance(c);
        try (LoweredModel model = engine.lower(c.model(), c::valueOf, options())) {
            Map<String, TensorData> out;
            try {
                out = model.predict(c.batch());
            } catch (RuntimeException e) {
                throw new AssertionError(c.name() + ": the " + engine.name() + " engine failed to run it: " + e, e);
            }
            assertThat(out.keySet()).as("%s: outputs", c.name()).containsExactlyInAnyOrderElementsOf(c.outputs().keySet());
            c.outputs().forEach((name, o) -> {
                TensorData got = out.get(name);
                assertThatTensor(got).as("%s: %s (%s)", c.name(), name, engine.name()).hasDType(o.dtype())
                        .isCloseTo(o.expected().shape(), o.expected().v(), tolerance);
            });
            for (List<String> group : c.identicalGroups()) {
                float[] first = out.get(group.get(0)).toFloatArray();
                for (String other : group.subList(1, group.size())) {
                    assertThat(out.get(other).toFloatArray()).as("%s: %s equals %s bit for bit", c.name(), other,
                            group.get(0)).containsExactly(first);
                }
            }
        }
    }

    /** @return the engine under test (started before the first case) */
    protected final Engine engine() {
        return engine;
    }
}
