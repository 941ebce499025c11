package dev.attune.testing;

import static dev.attune.testing.OpCase.named;

import dev.attune.ops.DType;
import java.util.List;

/**
 * The cases of {@link OpConformanceSuite}, one group per section of {@link dev.attune.ops.Ops}.
 * Shapes are small and differ per axis so that a transposed or misaligned result cannot pass; the
 * expected values come from {@link Nd} in double precision.
 */
final class OpCases {
    private OpCases() {}

    private static long[] s(long... dims) {
        return dims;
    }

    /** @return values away from 0 (divisors, logarithms), float32-representable */
    private static Nd positive(int seed, long... shape) {
        return Nd.seeded(seed, shape).map(x -> (float) (Math.abs(x) + 0.25));
    }

    /** @return values in about [-3, 3] */
    private static Nd wide(int seed, long... shape) {
        return Nd.seeded(seed, shape).map(x -> (float) (1.5 * x));
    }

    private static Nd scalar(double v) {
        return Nd.of(s(), v);
    }

    // ---------------------------------------------------------------- elementwise

    static List<OpCase> elementwise() {
        Nd x = Nd.seeded(1, 2, 3);
        Nd row = Nd.seeded(2, 3);
        Nd col = Nd.seeded(3, 2, 1);
        Nd x213 = Nd.seeded(4, 2, 1, 3);
        Nd y41 = Nd.seeded(5, 4, 1);
        Nd w = wide(6, 2, 3, 4);
        Nd pos = positive(7, 2, 3);
        Nd divisor = Nd.seeded(8, 3).map(v -> (float) (v >= 0 ? v + 0.5 : v - 0.5));
        Nd constant = Nd.seeded(9, 2, 3);
        Nd angles = Nd.seeded(10, 2, 4).map(v -> (float) (12 * v)); // rotary angles reach position * frequency
        return List.of(
                named("add: [2,3] + [3] broadcasts the row").in("x", x).in("y", row)
                        .out((o, a) -> o.add(a.x(), a.y()), x.add(row)),
                named("sub: [2,3] - [2,1] broadcasts the column").in("x", x).in("y", col)
                        .out((o, a) -> o.sub(a.x(), a.y()), x.sub(col)),
                named("mul: [2,1,3] * [4,1] broadcasts both to [2,4,3]").in("x", x213).in("y", y41)
                        .out((o, a) -> o.mul(a.x(), a.y()), x213.mul(y41)),
                named("div: [2,3] / [3]").in("x", x).in("y", divisor)
                        .out((o, a) -> o.div(a.x(), a.y()), x.div(divisor)),
                named("mul by a float").in("x", x).out((o, a) -> o.mul(a.x(), 0.75f), x.map(v -> v * 0.75)),
                named("add a float").in("x", x).out((o, a) -> o.add(a.x(), -1.5f), x.map(v -> v - 1.5)),
                named("neg").in("x", x).out((o, a) -> o.neg(a.x()), x.map(v -> -v)),
                named("scalar and constant").in("x", x)
                        .out((o, a) -> o.add(o.mul(a.x(), o.constant(s(2, 3), constant.floats().toFloatArray())),
                                o.scalar(2.5f)), x.mul(constant).map(v -> v + 2.5)),
                named("exp").in("x", w).out((o, a) -> o.exp(a.x()), w.map(Math::exp)),
                named("log of positive values").in("x", pos).out((o, a) -> o.log(a.x()), pos.map(Math::log)),
                named("sqrt of positive values").in("x", pos).out((o, a) -> o.sqrt(a.x()), pos.map(Math::sqrt)),
                named("pow 2").in("x", w).out((o, a) -> o.pow(a.x(), 2f), w.map(v -> v * v)),
                named("pow 3 of negative values").in("x", w).out((o, a) -> o.pow(a.x(), 3f), w.map(v -> v * v * v)),
                named("pow 0.5 of positive values").in("x", pos).out((o, a) -> o.pow(a.x(), 0.5f), pos.map(Math::sqrt)),
                named("pow -0.5 of positive values").in("x", pos)
                        .out((o, a) -> o.pow(a.x(), -0.5f), pos.map(v -> 1 / Math.sqrt(v))),
                named("tanh").in("x", w).out((o, a) -> o.tanh(a.x()), w.map(Math::tanh)),
                named("sigmoid").in("x", w).out((o, a) -> o.sigmoid(a.x()), w.map(v -> 1 / (1 + Math.exp(-v)))),
                named("relu").in("x", w).out((o, a) -> o.relu(a.x()), w.map(v -> Math.max(v, 0))),
                named("erf").in("x", w).out((o, a) -> o.erf(a.x()), w.erf()),
                named("cos").in("x", angles).out((o, a) -> o.cos(a.x()), angles.map(Math::cos)),
                named("sin").in("x", angles).out((o, a) -> o.sin(a.x()), angles.map(Math::sin)),
                named("gelu (exact, erf)").in("x", w).out((o, a) -> o.gelu(a.x()), w.gelu()),
                named("geluTanh (tanh approximation)").in("x", w).out((o, a) -> o.geluTanh(a.x()), w.geluTanh()));
    }

    // ---------------------------------------------------------------- neural network

    static List<OpCase> neuralNetwork() {
        Nd a23 = Nd.seeded(11, 2, 3);
        Nd b34 = Nd.seeded(12, 3, 4);
        Nd a234 = Nd.seeded(13, 2, 3, 4);
        Nd b245 = Nd.seeded(14, 2, 4, 5);
        Nd a2234 = Nd.seeded(15, 2, 2, 3, 4);
        Nd b45 = Nd.seeded(16, 4, 5);
        // linear: x [2, 3, 4], weight [5, 4] (out, in), bias [5]
        Nd x = Nd.seeded(17, 2, 3, 4);
        Nd weight = Nd.seeded(18, 5, 4).map(v -> (float) (v * 0.5));
        Nd bias = Nd.of(s(5), 0.1, -0.2, 0.3, -0.4, 0.5).map(v -> (float) v);
        Nd wt = weight.transpose(1, 0);
        Nd linear = x.matmul(wt).add(bias);
        Nd transposedX = x.transpose(1, 0, 2);
        Nd table = Nd.seeded(19, 6, 3);
        Nd ids = Nd.ofLongs(s(2, 4), 5, 0, 3, 3, 1, 2, 0, 4);
        Nd h = Nd.seeded(20, 2, 3, 8);
        Nd gamma = Nd.seeded(21, 8).map(v -> (float) (1 + 0.25 * v));
        Nd beta = Nd.seeded(22, 8).map(v -> (float) (0.1 * v));
        Nd flatRows = Nd.of(s(2, 8), 3, 3, 3, 3, 3, 3, 3, 3, 1, -1, 1, -1, 1, -1, 1, -1);
        Nd scores = wide(23, 2, 3, 5);
        Nd large = Nd.of(s(2, 4), 100, 101, 102, 103, -50, 80, 88, 89);
        double min = -Float.MAX_VALUE;
        Nd masked = Nd.of(s(2, 4), 1.5, min, -0.5, min, min, 2, 0.25, 1);
        // attention: q [2, 2, 3, 4], k and v [2, 2, 5, 4]: fewer queries than keys (a cache)
        Nd q = Nd.seeded(24, 2, 2, 3, 4);
        Nd k = Nd.seeded(25, 2, 2, 5, 4);
        Nd v = Nd.seeded(26, 2, 2, 5, 4);
        Nd padding = Nd.of(s(2, 1, 1, 5), 0, 0, 0, 0, 0, 0, 0, 0, min, min);
        Nd headBias = Nd.seeded(27, 1, 2, 3, 5);
        Nd drop = Nd.seeded(28, 2, 3);
        return List.of(
                named("matmul [2,3] @ [3,4]").in("x", a23).in("y", b34)
                        .out((o, a) -> o.matmul(a.x(), a.y()), a23.matmul(b34)),
                named("matmul batched [2,3,4] @ [2,4,5]").in("x", a234).in("y", b245)
                        .out((o, a) -> o.matmul(a.x(), a.y()), a234.matmul(b245)),
                named("matmul broadcasts [2,2,3,4] @ [4,5]").in("x", a2234).in("y", b45)
                        .out((o, a) -> o.matmul(a.x(), a.y()), a2234.matmul(b45)),
                named("linear at ranks 2, 3 and 4 with bias, the same rows at each").in("x", x)
                        .param("dense.weight", weight).param("dense.bias", bias)
                        .out("rank3", DType.FLOAT32, (o, a) -> o.linear(a.x(), a.param("dense.weight"),
                                a.param("dense.bias")), linear)
                        .out("rank2", DType.FLOAT32, (o, a) -> o.linear(o.reshape(a.x(), 6, 4), a.param("dense.weight"),
                                a.param("dense.bias")), linear.reshape(6, 5))
                        .out("rank4", DType.FLOAT32, (o, a) -> o.linear(o.reshape(a.x(), 1, 2, 3, 4),
                                a.param("dense.weight"), a.param("dense.bias")), linear.reshape(1, 2, 3, 5))
                        .identical("rank3", "rank2", "rank4"),
                named("linear without bias").in("x", x).param("dense.weight", weight)
                        .out((o, a) -> o.linear(a.x(), a.param("dense.weight"), null), x.matmul(wt)),
                named("linear of a transposed (non-contiguous) input").in("x", x)
                        .param("dense.weight", weight).param("dense.bias", bias)
                        .out((o, a) -> o.linear(o.transpose(a.x(), 1, 0, 2), a.param("dense.weight"),
                                a.param("dense.bias")), transposedX.matmul(wt).add(bias)),
                named("linear at rank 4 without bias").in("x", a2234).param("dense.weight", weight)
                        .out((o, a) -> o.linear(a.x(), a.param("dense.weight"), null), a2234.matmul(wt)),
                named("embedding of [2,4] ids in a [6,3] table").inLong("x", ids).param("table", table)
                        .out((o, a) -> o.embedding(a.param("table"), a.x()), table.embedding(ids)).exact(),
                named("layerNorm over the last axis, eps 1e-12").in("x", h).param("ln.weight", gamma)
                        .param("ln.bias", beta)
                        .out((o, a) -> o.layerNorm(a.x(), a.param("ln.weight"), a.param("ln.bias"), 1e-12f),
                                h.layerNorm(gamma, beta, 1e-12)),
                named("layerNorm of a constant row gives beta (eps 1e-5)").in("x", flatRows)
                        .param("ln.weight", gamma).param("ln.bias", beta)
                        .out((o, a) -> o.layerNorm(a.x(), a.param("ln.weight"), a.param("ln.bias"), 1e-5f),
                                flatRows.layerNorm(gamma, beta, 1e-5)),
                named("softmax over the last axis").in("x", scores)
                        .out((o, a) -> o.softmax(a.x(), -1), scores.softmax(-1)),
                named("softmax over axis 1 of 3").in("x", scores)
                        .out((o, a) -> o.softmax(a.x(), 1), scores.softmax(1)),
                named("softmax of large logits does not overflow").in("x", large)
                        .out((o, a) -> o.softmax(a.x(), -1), large.softmax(-1)),
                named("softmax of scores masked with -FLT_MAX").in("x", masked)
                        .out((o, a) -> o.softmax(a.x(), -1), masked.softmax(-1)),
                named("logSoftmax over the last axis").in("x", scores)
                        .out((o, a) -> o.logSoftmax(a.x(), -1), scores.logSoftmax(-1)),
                named("logSoftmax over axis 0").in("x", scores)
                        .out((o, a) -> o.logSoftmax(a.x(), 0), scores.logSoftmax(0)),
                named("logSoftmax of large logits does not overflow").in("x", large)
                        .out((o, a) -> o.logSoftmax(a.x(), -1), large.logSoftmax(-1)),
                named("attention without bias, scale 0.5, 3 queries over 5 keys").in("q", q).in("k", k).in("v", v)
                        .out((o, a) -> o.attention(a.in("q"), a.in("k"), a.in("v"), null, 0.5f, 0f),
                                attention(q, k, v, null, 0.5)),
                named("attention with a padding mask [2,1,1,5], scale 1/sqrt(d)").in("q", q).in("k", k).in("v", v)
                        .in("bias", padding)
                        .out((o, a) -> o.attention(a.in("q"), a.in("k"), a.in("v"), a.in("bias"), 0.5f, 0f),
                                attention(q, k, v, padding, 0.5)),
                named("attention with a per-head bias [1,2,3,5] and scale 1 (T5)").in("q", q).in("k", k)
                        .in("v", v).in("bias", headBias)
                        .out((o, a) -> o.attention(a.in("q"), a.in("k"), a.in("v"), a.in("bias"), 1f, 0f),
                                attention(q, k, v, headBias, 1)),
                named("attention dropout is off outside training").in("q", q).in("k", k).in("v", v)
                        .in("bias", padding)
                        .out((o, a) -> o.attention(a.in("q"), a.in("k"), a.in("v"), a.in("bias"), 0.5f, 0.5f),
                                attention(q, k, v, padding, 0.5)),
                named("dropout is the identity outside training").in("x", drop)
                        .out("p0.5", DType.FLOAT32, (o, a) -> o.dropout(a.x(), 0.5f), drop)
                        .out("p0", DType.FLOAT32, (o, a) -> o.dropout(a.x(), 0f), drop)
                        .out("training", DType.FLOAT32, (o, a) -> o.isTraining() ? o.neg(a.x()) : a.x(), drop)
                        .exact());
    }

    /** @return {@code softmax(q kᵀ scale + bias) v} */
    static Nd attention(Nd q, Nd k, Nd v, Nd bias, double scale) {
        Nd scores = q.matmul(k.transpose(0, 1, 3, 2)).map(x -> x * scale);
        if (bias != null) {
            scores = scores.add(bias);
        }
        return scores.softmax(-1).matmul(v);
    }

    // ---------------------------------------------------------------- shape

    static List<OpCase> shape() {
        Nd x = Nd.seeded(31, 2, 3, 4);
        Nd m = Nd.seeded(32, 3, 5);
        Nd x4 = Nd.seeded(33, 2, 3, 4, 5);
        Nd a = Nd.seeded(34, 2, 3, 4);
        Nd b = Nd.seeded(35, 1, 3, 4);
        Nd c = Nd.seeded(36, 2, 3, 2);
        Nd d = Nd.seeded(37, 2, 3, 1);
        Nd cacheK = Nd.seeded(38, 2, 2, 3, 4);
        Nd newK = Nd.seeded(39, 2, 2, 1, 4);
        Nd g = Nd.seeded(40, 2, 4);
        Nd gi = Nd.ofLongs(s(2, 3), 3, 0, 3, 1, 2, 2);
        Nd g3 = Nd.seeded(41, 2, 3, 4);
        Nd gi3 = Nd.ofLongs(s(2, 3, 1), 0, 3, 2, 1, 1, 0);
        Nd like = Nd.seeded(42, 2, 5);
        return List.of(
                named("reshape [2,3,4] to (0, -1)").in("x", x).out((o, p) -> o.reshape(p.x(), 0, -1), x.reshape(2, 12)),
                named("reshape [2,3,4] to (0, 0, 2, 2)").in("x", x)
                        .out((o, p) -> o.reshape(p.x(), 0, 0, 2, 2), x.reshape(2, 3, 2, 2)),
                named("reshape [2,3,4] to (-1, 4)").in("x", x).out((o, p) -> o.reshape(p.x(), -1, 4), x.reshape(6, 4)),
                named("reshape [2,3,4] to (-1)").in("x", x).out((o, p) -> o.reshape(p.x(), -1), x.reshape(24)),
                named("reshape [2,3,4] to (0, 3, 2, -1)").in("x", x)
                        .out((o, p) -> o.reshape(p.x(), 0, 3, 2, -1), x.reshape(2, 3, 2, 2)),
                named("transpose (1, 0)").in("x", m).out((o, p) -> o.transpose(p.x(), 1, 0), m.transpose(1, 0)),
                named("transpose (2, 0, 1)").in("x", x).out((o, p) -> o.transpose(p.x(), 2, 0, 1), x.transpose(2, 0, 1)),
                named("transpose (0, 2, 1, 3) (heads)").in("x", x4)
                        .out((o, p) -> o.transpose(p.x(), 0, 2, 1, 3), x4.transpose(0, 2, 1, 3)),
                named("unsqueeze at 0").in("x", m).out((o, p) -> o.unsqueeze(p.x(), 0), m.unsqueeze(0)),
                named("unsqueeze at 1").in("x", m).out((o, p) -> o.unsqueeze(p.x(), 1), m.unsqueeze(1)),
                named("unsqueeze at -1 (the end)").in("x", m).out((o, p) -> o.unsqueeze(p.x(), -1), m.unsqueeze(-1)),
                named("select axis 1 index 2").in("x", x).out((o, p) -> o.select(p.x(), 1, 2), x.select(1, 2)),
                named("select axis 0 index 1").in("x", x).out((o, p) -> o.select(p.x(), 0, 1), x.select(0, 1)),
                named("select axis -1 index 0").in("x", x).out((o, p) -> o.select(p.x(), -1, 0), x.select(-1, 0)),
                named("slice axis 1 [1, 3)").in("x", x).out((o, p) -> o.slice(p.x(), 1, 1, 3), x.slice(1, 1, 3)),
                named("slice axis -1 [2, 4)").in("x", x).out((o, p) -> o.slice(p.x(), -1, 2, 4), x.slice(-1, 2, 4)),
                named("slice axis 0 [0, 1)").in("x", x).out((o, p) -> o.slice(p.x(), 0, 0, 1), x.slice(0, 0, 1)),
                named("concat along axis 0").in("x", a).in("y", b)
                        .out((o, p) -> o.concat(0, p.x(), p.y()), Nd.concat(0, a, b)),
                named("concat three along axis -1").in("x", a).in("y", c).in("z", d)
                        .out((o, p) -> o.concat(-1, p.x(), p.y(), p.z()), Nd.concat(-1, a, c, d)),
                named("concat along axis 2 of 4 (a key cache)").in("x", cacheK).in("y", newK)
                        .out((o, p) -> o.concat(2, p.x(), p.y()), Nd.concat(2, cacheK, newK)),
                named("gather along axis 1").in("x", g).inLong("y", gi)
                        .out((o, p) -> o.gather(p.x(), 1, p.y()), g.gather(1, gi)),
                named("gather along axis -1 of 3").in("x", g3).inLong("y", gi3)
                        .out((o, p) -> o.gather(p.x(), -1, p.y()), g3.gather(-1, gi3)),
                named("range over axis 1").in("x", like)
                        .out("out", DType.INT64, (o, p) -> o.range(p.x(), 1), Nd.ofLongs(s(5), 0, 1, 2, 3, 4)),
                named("range over axis 0").in("x", like)
                        .out("out", DType.INT64, (o, p) -> o.range(p.x(), 0), Nd.ofLongs(s(2), 0, 1)))
                .stream().map(OpCase::exact).toList();
    }

    // ---------------------------------------------------------------- types, comparison, selection

    static List<OpCase> typesAndComparisons() {
        Nd f = Nd.of(s(2, 3), 2.75, -2.75, 3, -0.5, 0, 1e6);
        Nd ids = Nd.ofLongs(s(2, 4), 101, 0, 7, 0, 3, 3, 0, 0);
        // the ints of the GPT-2 and RoBERTa comparisons
        Nd xi = Nd.ofLongs(s(2, 4), 1, 0, 1, 1, 5, 5, 0, 0);
        Nd yi = Nd.ofLongs(s(4), 1, 1, 0, 1);
        Nd xf = Nd.seeded(51, 2, 3);
        Nd yf = Nd.seeded(52, 3);
        Nd af = Nd.seeded(53, 2, 3);
        Nd bf = Nd.seeded(54, 3);
        Nd labels = Nd.ofLongs(s(4), 0, 2, -100, 1);
        return List.of(
                named("cast FLOAT32 to INT64 truncates toward zero").in("x", f)
                        .out("out", DType.INT64, (o, p) -> o.cast(p.x(), DType.INT64), f.map(v -> (long) v)),
                named("cast INT64 to FLOAT32").inLong("x", ids)
                        .out((o, p) -> o.cast(p.x(), DType.FLOAT32), ids),
                named("notEqual to a value, and the mask cast to FLOAT32 and INT64").inLong("x", ids)
                        .out("bool", DType.BOOL, (o, p) -> o.notEqual(p.x(), 0), ids.map(v -> v != 0 ? 1 : 0))
                        .out("float", DType.FLOAT32, (o, p) -> o.cast(o.notEqual(p.x(), 0), DType.FLOAT32),
                                ids.map(v -> v != 0 ? 1 : 0))
                        .out("long", DType.INT64, (o, p) -> o.cast(o.notEqual(p.x(), 0), DType.INT64),
                                ids.map(v -> v != 0 ? 1 : 0)),
                named("equal of INT64 [2,4] and [4]").inLong("x", xi).inLong("y", yi)
                        .out("bool", DType.BOOL, (o, p) -> o.equal(p.x(), p.y()), xi.zip(yi, (a, b) -> a == b ? 1 : 0))
                        .out("long", DType.INT64, (o, p) -> o.cast(o.equal(p.x(), p.y()), DType.INT64),
                                xi.zip(yi, (a, b) -> a == b ? 1 : 0)),
                named("greater of INT64 [2,4] and [4]").inLong("x", xi).inLong("y", yi)
                        .out("bool", DType.BOOL, (o, p) -> o.greater(p.x(), p.y()), xi.zip(yi, (a, b) -> a > b ? 1 : 0))
                        .out("long", DType.INT64, (o, p) -> o.cast(o.greater(p.x(), p.y()), DType.INT64),
                                xi.zip(yi, (a, b) -> a > b ? 1 : 0)),
                named("greater and equal of FLOAT32 [2,3] and [3]").in("x", xf).in("y", yf)
                        .out("greater", DType.BOOL, (o, p) -> o.greater(p.x(), p.y()),
                                xf.zip(yf, (a, b) -> a > b ? 1 : 0))
                        .out("equal", DType.BOOL, (o, p) -> o.equal(p.x(), p.x()), xf.map(v -> 1)),
                named("where picks by a broadcast condition").in("x", xf).in("y", yf).in("z", af)
                        .out((o, p) -> o.where(o.greater(p.x(), p.y()), p.z(), o.constant(s(3), bf.floats().toFloatArray())),
                                Nd.zip3(xf.zip(yf, (a, b) -> a > b ? 1 : 0), af, bf, (cond, a, b) -> cond != 0 ? a : b)),
                named("where on INT64 with a scalar (ignored labels to 0)").inLong("x", labels)
                        .out("out", DType.INT64, (o, p) -> o.where(o.notEqual(p.x(), -100), p.x(),
                                o.cast(o.scalar(0f), DType.INT64)), labels.map(v -> v == -100 ? 0 : v)))
                .stream().map(OpCase::exact).toList();
    }

    // ---------------------------------------------------------------- reductions

    static List<OpCase> reductions() {
        Nd x = Nd.seeded(61, 2, 3, 4);
        Nd xi = Nd.ofLongs(s(2, 4), 1, 0, 1, 1, 5, 5, 0, 0);
        Nd c = Nd.seeded(62, 3, 2);
        return List.of(
                named("sum over axis 1").in("x", x).out((o, p) -> o.sum(p.x(), 1, false), x.sum(1, false)),
                named("sum over axis -1, keeping it").in("x", x).out((o, p) -> o.sum(p.x(), -1, true), x.sum(-1, true)),
                named("mean over axis 1").in("x", x).out((o, p) -> o.mean(p.x(), 1, false), x.mean(1, false)),
                named("mean over axis -1, keeping it").in("x", x)
                        .out((o, p) -> o.mean(p.x(), -1, true), x.mean(-1, true)),
                named("sumAll to a scalar").in("x", x).out((o, p) -> o.sumAll(p.x()), x.sumAll()),
                named("max over axis 1 of FLOAT32").in("x", x).out((o, p) -> o.max(p.x(), 1, false), x.max(1, false))
                        .exact(),
                named("max of INT64 keeps the type, with and without the axis").inLong("x", xi)
                        .out("max", DType.INT64, (o, p) -> o.max(p.x(), 1, false), xi.max(1, false))
                        .out("keep", DType.INT64, (o, p) -> o.max(p.x(), -1, true), xi.max(-1, true))
                        .exact(),
                named("cumsum of INT64 keeps the type (RoBERTa positions)").inLong("x", xi)
                        .out("out", DType.INT64, (o, p) -> o.cumsum(p.x(), 1), xi.cumsum(1)).exact(),
                named("cumsum of FLOAT32 along axis 0").in("x", c).out((o, p) -> o.cumsum(p.x(), 0), c.cumsum(0)));
    }

    // ---------------------------------------------------------------- losses

    static final float[] CLASS_WEIGHTS = {1f, 3f, 0.5f};

    static List<OpCase> losses() {
        Nd logits = Nd.of(s(4, 3), 2, 0, -1, 0, 1, 0.5, 1, 1, 3, -0.5, 0.25, 0);
        Nd labels = Nd.ofLongs(s(4), 0, 1, -100, 2);
        double unweighted = crossEntropy(logits, labels, new double[] {1, 1, 1});
        double weighted = crossEntropy(logits, labels, new double[] {1, 3, 0.5});
        if (Math.abs(weighted - unweighted) <= 0.01) {
            throw new IllegalStateException("the class weights must change the loss for the case to mean anything");
        }
        Nd bceLogits = Nd.of(s(2, 3), 0.5, -1.25, 40, -40, 0, 3);
        Nd targets = Nd.of(s(2, 3), 1, 0, 0, 1, 0.5, 1);
        Nd predictions = Nd.seeded(71, 2, 3);
        Nd real = Nd.seeded(72, 2, 3);
        return List.of(
                named("crossEntropy ignores label -100").in("x", logits).inLong("y", labels)
                        .out((o, p) -> o.crossEntropy(p.x(), p.y(), -100), scalar(unweighted)),
                named("crossEntropy with class weights [1, 3, 0.5]").in("x", logits).inLong("y", labels)
                        .out((o, p) -> o.crossEntropy(p.x(), p.y(), -100, CLASS_WEIGHTS), scalar(weighted)),
                named("crossEntropy with equal class weights is the unweighted loss").in("x", logits).inLong("y", labels)
                        .out((o, p) -> o.crossEntropy(p.x(), p.y(), -100, new float[] {2f, 2f, 2f}), scalar(unweighted)),
                named("binaryCrossEntropyWithLogits, stable at ±40").in("x", bceLogits).in("y", targets)
                        .out((o, p) -> o.binaryCrossEntropyWithLogits(p.x(), p.y()), scalar(bce(bceLogits, targets))),
                named("meanSquaredError").in("x", predictions).in("y", real)
                        .out((o, p) -> o.meanSquaredError(p.x(), p.y()),
                                predictions.sub(real).map(d -> d * d).reshape(6).mean(0, false)));
    }

    /** PyTorch's {@code cross_entropy(weight=w, ignore_index=-100)} in double precision. */
    static double crossEntropy(Nd logits, Nd labels, double[] weights) {
        Nd logp = logits.logSoftmax(-1);
        int classes = (int) logits.shape()[1];
        double num = 0;
        double den = 0;
        for (int i = 0; i < labels.size(); i++) {
            int label = (int) labels.v()[i];
            if (label == -100) {
                continue;
            }
            num -= weights[label] * logp.v()[i * classes + label];
            den += weights[label];
        }
        return num / den;
    }

    /** Mean of {@code -(y log sigmoid(x) + (1 - y) log(1 - sigmoid(x)))}, in the stable form. */
    static double bce(Nd logits, Nd targets) {
        double sum = 0;
        for (int i = 0; i < logits.size(); i++) {
            double x = logits.v()[i];
            double y = targets.v()[i];
            sum += Math.max(x, 0) - x * y + Math.log1p(Math.exp(-Math.abs(x)));
        }
        return sum / logits.size();
    }
}
