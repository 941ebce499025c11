package dev.attune.testing;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class MutatorTest {
    private static final byte[] INPUT = "{\"a\": [1, 2, 3], \"b\": \"text\"}".getBytes(StandardCharsets.UTF_8);

    @Test
    void aSeedReplaysTheSameInputAndMutations() {
        Mutator m = new Mutator(true);
        for (long seed = 0; seed < 200; seed++) {
            List<String> log1 = new ArrayList<>();
            List<String> log2 = new ArrayList<>();
            assertThat(m.mutate(INPUT, seed, log1)).isEqualTo(m.mutate(INPUT, seed, log2));
            assertThat(log1).isEqualTo(log2).isNotEmpty();
        }
    }

    @Test
    void theInputIsNotChangedAndMutationsDiffer() {
        byte[] copy = INPUT.clone();
        Mutator m = new Mutator(false);
        int changed = 0;
        for (long seed = 0; seed < 200; seed++) {
            if (!java.util.Arrays.equals(m.mutate(INPUT, seed, new ArrayList<>()), INPUT)) {
                changed++;
            }
        }
        assertThat(INPUT).isEqualTo(copy);
        assertThat(changed).isGreaterThan(180);
    }
}
