package dev.attune.core.train;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.attune.error.InvalidCheckpointException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

/**
 * The shuffling generator is plain data in a checkpoint: it draws what {@code java.util.Random}
 * draws (so data orders stay those of earlier versions), its state round-trips as text, older
 * checkpoints' Java-serialized form is read without Java serialization, and anything else in that
 * place is a clear error rather than a deserialization.
 */
class ShufflerTest {
    private static final Path CHECKPOINT = Path.of("out", "checkpoint-7");

    /**
     * What the trainer before this change wrote for {@code new Random(42)} after one {@code
     * nextInt(10)} (ObjectOutputStream of the generator, Base64), and the next long it draws.
     */
    private static final String LEGACY_42 = "rO0ABXNyABBqYXZhLnV0aWwuUmFuZG9tNjKWNEvwClMDAANaABRoYXZlTmV4dE5leHRHYXVzc2lh"
            + "bkQAEG5leHROZXh0R2F1c3NpYW5KAARzZWVkeHAAAAAAAAAAAAAAALpBnTXWRng=";
    private static final long LEGACY_42_NEXT = 1008396158678580193L;

    @Test
    void drawsWhatJavaUtilRandomDrawsAndRoundTripsAsPlainText() {
        for (long seed : new long[] {0, 42, -1, Long.MIN_VALUE, 123456789}) {
            Random reference = new Random(seed);
            Shuffler s = new Shuffler(seed);
            List<Integer> a = new ArrayList<>(IntStream.range(0, 1000).boxed().toList());
            List<Integer> b = new ArrayList<>(a);
            Collections.shuffle(a, reference);
            Collections.shuffle(b, s);
            assertThat(b).isEqualTo(a);
            String saved = s.encode();
            assertThat(saved).matches("lcg48:\\d+");
            Shuffler resumed = Shuffler.decode(saved, CHECKPOINT);
            for (int i = 0; i < 100; i++) {
                long want = reference.nextLong();
                assertThat(s.nextLong()).isEqualTo(want);
                assertThat(resumed.nextLong()).isEqualTo(want);
            }
        }
    }

    @Test
    void olderCheckpointsSerializedFormIsReadWithoutDeserializing() {
        assertThat(Shuffler.decode(LEGACY_42, CHECKPOINT).nextLong()).isEqualTo(LEGACY_42_NEXT);
    }

    @Test
    void anythingElseIsAClearErrorNamingTheFile() {
        byte[] legacy = Base64.getDecoder().decode(LEGACY_42);
        byte[] otherClass = legacy.clone();
        otherClass[20] = 'X'; // java.util.Random -> another class name
        // a 20,000-deep nest of arrays in Java serialization form, which ObjectInputStream recursed into
        StringBuilder deep = new StringBuilder();
        byte[] head = {(byte) 0xac, (byte) 0xed, 0, 5};
        byte[] nested = new byte[head.length + 20_000 * 2];
        System.arraycopy(head, 0, nested, 0, head.length);
        for (int i = 0; i < 20_000; i++) {
            nested[head.length + 2 * i] = 0x75; // TC_ARRAY
            nested[head.length + 2 * i + 1] = 0x72; // TC_CLASSDESC
        }
        deep.append(Base64.getEncoder().encodeToString(nested));
        List<String> bad = List.of("lcg48:", "lcg48:-1", "lcg48:281474976710656", "lcg48:12x", "not base64 !",
                Base64.getEncoder().encodeToString(otherClass), deep.toString(), "");
        for (String text : bad) {
            assertThatThrownBy(() -> Shuffler.decode(text, CHECKPOINT)).as(text.length() > 40 ? text.substring(0, 40) : text)
                    .isInstanceOf(InvalidCheckpointException.class)
                    .hasMessageContaining(CHECKPOINT.resolve("trainer_state.json").toString())
                    .hasMessageContaining("'shuffler'");
        }
        assertThatThrownBy(() -> Shuffler.decode(null, CHECKPOINT)).isInstanceOf(InvalidCheckpointException.class)
                .hasMessageContaining("no 'shuffler'");
    }
}
