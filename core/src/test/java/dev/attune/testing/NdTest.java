package dev.attune.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import org.junit.jupiter.api.Test;

/**
 * The double-precision reference of the op-conformance suite, on values small enough to check by
 * hand: if it were wrong, every engine would be held to the wrong numbers.
 */
class NdTest {
    static final Nd A = Nd.of(new long[] {2, 3}, 1, 2, 3, 4, 5, 6);

    @Test
    void broadcastingAlignsShapesFromTheRight() {
        Nd col = Nd.of(new long[] {2, 1}, 10, 20);
        Nd row = Nd.of(new long[] {3}, 1, 2, 3);
        assertThat(A.add(col)).isEqualTo(Nd.of(new long[] {2, 3}, 11, 12, 13, 24, 25, 26));
        assertThat(col.mul(row)).isEqualTo(Nd.of(new long[] {2, 3}, 10, 20, 30, 20, 40, 60));
        assertThat(A.sub(Nd.of(new long[0], 1))).isEqualTo(Nd.of(new long[] {2, 3}, 0, 1, 2, 3, 4, 5));
    }

    @Test
    void matmulBroadcastsLeadingAxes() {
        Nd b = Nd.of(new long[] {3, 2}, 1, 0, 0, 1, 1, 1);
        assertThat(A.matmul(b)).isEqualTo(Nd.of(new long[] {2, 2}, 4, 5, 10, 11));
        Nd batch = Nd.concat(0, A.unsqueeze(0), A.map(v -> -v).unsqueeze(0)); // [2, 2, 3]
        assertThat(batch.matmul(b)).isEqualTo(Nd.of(new long[] {2, 2, 2}, 4, 5, 10, 11, -4, -5, -10, -11));
    }

    @Test
    void shapeOpsMoveValuesWhereNumPyDoes() {
        assertThat(A.transpose(1, 0)).isEqualTo(Nd.of(new long[] {3, 2}, 1, 4, 2, 5, 3, 6));
        assertThat(A.select(1, 2)).isEqualTo(Nd.of(new long[] {2}, 3, 6));
        assertThat(A.select(-1, 0)).isEqualTo(Nd.of(new long[] {2}, 1, 4));
        assertThat(A.slice(1, 1, 3)).isEqualTo(Nd.of(new long[] {2, 2}, 2, 3, 5, 6));
        assertThat(Nd.concat(-1, A, A.slice(1, 0, 1))).isEqualTo(Nd.of(new long[] {2, 4}, 1, 2, 3, 1, 4, 5, 6, 4));
        assertThat(A.unsqueeze(-1).shape()).containsExactly(2, 3, 1);
        assertThat(A.gather(1, Nd.ofLongs(new long[] {2, 2}, 2, 0, 1, 1))).isEqualTo(Nd.of(new long[] {2, 2}, 3, 1, 5, 5));
        Nd table = Nd.of(new long[] {3, 2}, 0, 1, 10, 11, 20, 21);
        assertThat(table.embedding(Nd.ofLongs(new long[] {2}, 2, 0))).isEqualTo(Nd.of(new long[] {2, 2}, 20, 21, 0, 1));
    }

    @Test
    void reductionsAndScans() {
        assertThat(A.sum(1, false)).isEqualTo(Nd.of(new long[] {2}, 6, 15));
        assertThat(A.sum(0, true)).isEqualTo(Nd.of(new long[] {1, 3}, 5, 7, 9));
        assertThat(A.mean(-1, false)).isEqualTo(Nd.of(new long[] {2}, 2, 5));
        assertThat(A.max(0, false)).isEqualTo(Nd.of(new long[] {3}, 4, 5, 6));
        assertThat(A.cumsum(1)).isEqualTo(Nd.of(new long[] {2, 3}, 1, 3, 6, 4, 9, 15));
        assertThat(A.sumAll()).isEqualTo(Nd.of(new long[0], 21));
    }

    @Test
    void softmaxLayerNormAndGelu() {
        Nd p = Nd.of(new long[] {1, 2}, 0, Math.log(3)).softmax(-1);
        assertThat(p.v()[0]).isCloseTo(0.25, within(1e-15));
        assertThat(p.v()[1]).isCloseTo(0.75, within(1e-15));
        // 1000 and 1001 would overflow exp(); the reference subtracts the maximum
        assertThat(Nd.of(new long[] {2}, 1000, 1001).logSoftmax(0).v()[1]).isCloseTo(-Math.log1p(Math.exp(-1)), within(1e-12));
        Nd ln = Nd.of(new long[] {1, 2}, 1, 3).layerNorm(Nd.of(new long[] {2}, 2, 2), Nd.of(new long[] {2}, 0, 1), 0);
        assertThat(ln.v()).containsExactly(-2, 3);
        // GELU(1) = Phi(1) = 0.8413447460685429...
        assertThat(Nd.of(new long[] {1}, 1).gelu().v()[0]).isCloseTo(0.8413447460685429, within(1e-15));
        assertThat(Nd.of(new long[] {1}, 1).geluTanh().v()[0]).isCloseTo(0.8411919906082768, within(1e-15));
    }
}
