package dev.attune.testing;

import static dev.attune.testing.TensorAssert.assertThatTensor;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.attune.ops.DType;
import dev.attune.ops.TensorData;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The tensor assertion the engine suites report with: what passes, and what a failure says. */
class TensorAssertTest {
    static final TensorData T = TensorData.ofFloats(new long[] {2, 3}, new float[] {0, 1, 2, 3, 4, 5});

    @ParameterizedTest(name = "|{0} - {1}| with atol {2}, rtol {3}: {4}")
    @CsvSource(textBlock = """
            1.0,     1.0,      0,    0,    true
            1.0,     1.00001,  0,    0,    false
            1.0,     1.00001,  2e-5, 0,    true
            100.0,   100.001,  0,    1e-5, true
            100.0,   100.002,  0,    1e-5, false
            NaN,     NaN,      0,    0,    true
            NaN,     1.0,      1e9,  1e9,  false
            Infinity, Infinity, 0,   0,    true
            Infinity, 1e300,   1e9,  1e9,  false
            """)
    void toleranceIsAbsolutePlusRelativeToTheExpectedValue(double actual, double expected, double atol, double rtol,
            boolean close) {
        assertThat(Tolerance.of(atol, rtol).allows(actual, expected)).isEqualTo(close);
    }

    @Test
    void closeValuesPass() {
        assertThatTensor(T).hasDType(DType.FLOAT32).hasShape(2, 3)
                .isCloseTo(new long[] {2, 3}, new double[] {0, 1, 2, 3, 4, 5.000001}, Tolerance.absolute(1e-5))
                .isCloseTo(T, Tolerance.EXACT);
    }

    @Test
    void aFailureNamesTheWorstElementByItsIndexAndCountsTheOthers() {
        double[] expected = {0, 1.5, 2, 3, 4.01, 5};
        assertThatThrownBy(() -> assertThatTensor(T).as("logits")
                .isCloseTo(new long[] {2, 3}, expected, Tolerance.absolute(0.1)))
                .isInstanceOf(AssertionError.class)
                .hasMessageContaining("[logits]")
                .hasMessageContaining("1 of 6 elements differ beyond atol=0.1, rtol=0.0")
                .hasMessageContaining("worst at [0, 1] (flat 1): actual 1.0, expected 1.5");
    }

    @Test
    void aNanIsNeverCloseToANumber() {
        TensorData nan = TensorData.ofFloats(new long[] {2}, new float[] {1, Float.NaN});
        assertThatThrownBy(() -> assertThatTensor(nan).isCloseTo(new long[] {2}, new double[] {1, 1}, Tolerance.of(1, 1)))
                .hasMessageContaining("worst at [1] (flat 1): actual NaN");
    }

    @Test
    void shapeAndTypeAreCheckedBeforeValues() {
        assertThatThrownBy(() -> assertThatTensor(T).isCloseTo(new long[] {3, 2}, new double[6], Tolerance.of(1e9, 0)))
                .hasMessageContaining("expected shape [3, 2] but was [2, 3]");
        assertThatThrownBy(() -> assertThatTensor(T).hasDType(DType.INT64))
                .hasMessageContaining("expected element type INT64 but was FLOAT32");
    }

    @Test
    void integersAreComparedExactlyWithTheFirstDifferenceNamed() {
        TensorData ids = TensorData.ofLongs(new long[] {2, 2}, new long[] {1, 2, 3, 4});
        assertThatTensor(ids).containsExactly(1, 2, 3, 4);
        assertThatThrownBy(() -> assertThatTensor(ids).containsExactly(1, 2, 3, 5))
                .hasMessageContaining("first difference at [1, 1] (flat 3): actual 4, expected 5");
        assertThatThrownBy(() -> assertThatTensor(T).containsExactly(0, 1, 2, 3, 4, 5))
                .hasMessageContaining("expected integer or boolean values but the tensor is FLOAT32");
    }
}
