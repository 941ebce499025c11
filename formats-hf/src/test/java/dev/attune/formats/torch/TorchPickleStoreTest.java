package dev.attune.formats.torch;

import static dev.attune.formats.torch.TorchTestFiles.archive;
import static dev.attune.formats.torch.TorchTestFiles.pickle;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import dev.attune.error.InvalidCheckpointException;
import dev.attune.formats.hf.SafetensorsStore;
import dev.attune.model.WeightStore.TensorInfo;
import dev.attune.ops.DType;
import dev.attune.ops.TensorData;
import dev.attune.testing.SharedFiles;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TorchPickleStoreTest {
    @TempDir Path dir;

    private static byte[] floats(float... v) {
        ByteBuffer b = ByteBuffer.allocate(v.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        b.asFloatBuffer().put(v);
        return b.array();
    }

    /** A state dict {"w": tensor} over storage "0". */
    private Path single(String storageClass, int numel, int offset, int[] size, int[] stride, byte[] storage)
            throws IOException {
        byte[] pkl = pickle().op('}', '(').str("w").tensor(storageClass, "0", numel, offset, size, stride)
                .op('u', '.').bytes();
        return archive(dir.resolve("m.bin"), pkl, Map.of("0", storage));
    }

    @Test
    void fixtureHoldsExactlyTheTensorsOfItsSafetensors() {
        Path folder = SharedFiles.path("fixtures/hf/bert-seqcls");
        try (TorchPickleStore bin = TorchPickleStore.open(folder.resolve("pytorch_model.bin"));
             SafetensorsStore st = SafetensorsStore.openFile(folder.resolve("model.safetensors"))) {
            assertThat(bin.names()).hasSize(st.names().size()).containsExactlyInAnyOrderElementsOf(st.names());
            for (String name : st.names()) {
                TensorInfo a = bin.info(name);
                TensorInfo b = st.info(name);
                assertThat(a.dtype()).as(name).isEqualTo(b.dtype());
                assertThat(a.shape()).as(name).containsExactly(b.shape());
                assertThat(bin.read(name).buffer()).as(name).isEqualTo(st.read(name).buffer());
            }
        }
    }

    @Test
    void hostileFixtureIsRejectedNamingTheGlobalAndNothingRuns() throws IOException {
        Path marker = Path.of("/tmp/attune-pwned");
        Files.deleteIfExists(marker);
        Path file = SharedFiles.path("fixtures/hostile/pickle-os-system/pytorch_model.bin");
        assertThatThrownBy(() -> TorchPickleStore.open(file))
                .isInstanceOf(InvalidCheckpointException.class)
                .hasMessageContaining(file.toString())
                .hasMessageContaining("'posix.system' (os.system")
                .hasMessageContaining("nothing in it was executed");
        assertThat(marker).doesNotExist();
    }

    @Test
    void otherGlobalsAreRejectedWherever() throws IOException {
        for (String[] g : List.of(new String[] {"builtins", "eval"}, new String[] {"os", "system"},
                new String[] {"subprocess", "Popen"}, new String[] {"torch", "load"},
                new String[] {"numpy.core.multiarray", "_reconstruct"})) {
            byte[] pkl = pickle().global(g[0], g[1]).str("1+1").op(0x85, 'R', '.').bytes();
            Path file = archive(dir.resolve(g[1] + ".bin"), pkl, Map.of());
            assertThatThrownBy(() -> TorchPickleStore.open(file))
                    .isInstanceOf(InvalidCheckpointException.class)
                    .hasMessageContaining(file.toString())
                    .hasMessageContaining("'" + g[0] + "." + g[1] + "'");
        }
    }

    @Test
    void stackGlobalIsCheckedToo() throws IOException {
        byte[] pkl = pickle().str("builtins").str("exec").op(0x93).str("x").op(0x85, 'R', '.').bytes();
        Path file = archive(dir.resolve("m.bin"), pkl, Map.of());
        assertThatThrownBy(() -> TorchPickleStore.open(file)).isInstanceOf(InvalidCheckpointException.class)
                .hasMessageContaining("'builtins.exec'");
    }

    @Test
    void objectCreatingOpcodesAreRefused() throws IOException {
        byte[] pkl = pickle().op('(').op('i').op("os\nsystem\n".chars().toArray()).op('.').bytes();
        Path file = archive(dir.resolve("m.bin"), pkl, Map.of());
        assertThatThrownBy(() -> TorchPickleStore.open(file)).isInstanceOf(InvalidCheckpointException.class)
                .hasMessageContaining("INST");
    }

    @Test
    void offsetAndShapeSelectTheRightElements() throws IOException {
        Path file = single("FloatStorage", 6, 2, new int[] {2, 2}, new int[] {2, 1}, floats(0, 1, 2, 3, 4, 5));
        try (TorchPickleStore store = TorchPickleStore.open(file)) {
            TensorData t = store.read("w");
            assertThat(t.shape()).containsExactly(2, 2);
            assertThat(t.toFloatArray()).containsExactly(2, 3, 4, 5);
        }
    }

    @Test
    void nonContiguousTensorIsCopiedRowMajor() throws IOException {
        // the transpose of [[0,1,2],[3,4,5]]: size (3,2), stride (1,3)
        Path file = single("FloatStorage", 6, 0, new int[] {3, 2}, new int[] {1, 3}, floats(0, 1, 2, 3, 4, 5));
        try (TorchPickleStore store = TorchPickleStore.open(file)) {
            assertThat(store.read("w").toFloatArray()).containsExactly(0, 3, 1, 4, 2, 5);
        }
    }

    @Test
    void otherDtypesAndEmptyTensors() throws IOException {
        byte[] half = new byte[] {0, 0x3c, 0, (byte) 0xc0}; // 1.0, -2.0
        byte[] pkl = pickle().op('}', '(')
                .str("h").tensor("HalfStorage", "0", 2, 0, new int[] {2}, new int[] {1})
                .str("b").tensor("BFloat16Storage", "1", 1, 0, new int[] {}, new int[] {})
                .str("l").tensor("LongStorage", "2", 1, 0, new int[] {1}, new int[] {1})
                .str("e").tensor("FloatStorage", "3", 0, 0, new int[] {0, 4}, new int[] {4, 1})
                .op('u', '.').bytes();
        Path file = archive(dir.resolve("m.bin"), pkl, Map.of("0", half, "1", new byte[] {(byte) 0x80, 0x3f},
                "2", new byte[] {7, 0, 0, 0, 0, 0, 0, 0}, "3", new byte[0]));
        try (TorchPickleStore store = TorchPickleStore.open(file)) {
            assertThat(store.info("h").dtype()).isEqualTo(DType.FLOAT16);
            assertThat(store.read("h").toFloatArray()).containsExactly(1f, -2f);
            assertThat(store.read("b").toFloatArray()).containsExactly(1f);
            assertThat(store.read("b").shape()).isEmpty();
            assertThat(store.read("l").toLongArray()).containsExactly(7L);
            assertThat(store.read("e").shape()).containsExactly(0, 4);
        }
    }

    @Test
    void expandedViewIsRejected() throws IOException {
        Path file = single("FloatStorage", 1, 0, new int[] {1000}, new int[] {0}, floats(1));
        assertThatThrownBy(() -> TorchPickleStore.open(file)).isInstanceOf(InvalidCheckpointException.class)
                .hasMessageContaining("tensor 'w'").hasMessageContaining("contiguous()");
    }

    @Test
    void viewPastItsStorageIsRejected() throws IOException {
        Path file = single("FloatStorage", 4, 1, new int[] {2, 2}, new int[] {2, 1}, floats(0, 1, 2, 3));
        assertThatThrownBy(() -> TorchPickleStore.open(file)).isInstanceOf(InvalidCheckpointException.class)
                .hasMessageContaining("tensor 'w'").hasMessageContaining("past the end of its storage");
    }

    @Test
    void storageSizeMustMatchItsEntry() throws IOException {
        Path file = single("FloatStorage", 1_000_000_000, 0, new int[] {4}, new int[] {1}, floats(0, 1, 2, 3));
        assertThatThrownBy(() -> TorchPickleStore.open(file)).isInstanceOf(InvalidCheckpointException.class)
                .hasMessageContaining("data/0").hasMessageContaining("4000000000 bytes");
    }

    @Test
    void missingStorageEntry() throws IOException {
        byte[] pkl = pickle().op('}', '(').str("w").tensor("FloatStorage", "9", 1, 0, new int[] {1}, new int[] {1})
                .op('u', '.').bytes();
        Path file = archive(dir.resolve("m.bin"), pkl, Map.of());
        assertThatThrownBy(() -> TorchPickleStore.open(file)).isInstanceOf(InvalidCheckpointException.class)
                .hasMessageContaining("archive/data/9").hasMessageContaining("missing");
    }

    @Test
    void unsupportedStorageTypeSaysWhichType() throws IOException {
        byte[] pkl = pickle().op('}', '(').str("w").tensor("DoubleStorage", "0", 1, 0, new int[] {1}, new int[] {1})
                .op('u', '.').bytes();
        Path file = archive(dir.resolve("m.bin"), pkl, Map.of("0", new byte[8]));
        assertThatThrownBy(() -> TorchPickleStore.open(file)).isInstanceOf(InvalidCheckpointException.class)
                .hasMessageContaining("float64");
    }

    @Test
    void legacyFormatAndNonZipFiles() throws IOException {
        Path legacy = Files.write(dir.resolve("legacy.bin"), new byte[] {(byte) 0x80, 2, (byte) 0x8a, 10});
        assertThatThrownBy(() -> TorchPickleStore.open(legacy)).isInstanceOf(InvalidCheckpointException.class)
                .hasMessageContaining("legacy torch.save format");
        Path text = Files.writeString(dir.resolve("text.bin"), "hello");
        assertThatThrownBy(() -> TorchPickleStore.open(text)).isInstanceOf(InvalidCheckpointException.class)
                .hasMessageContaining("zip");
        assertThatThrownBy(() -> TorchPickleStore.open(dir.resolve("absent.bin")))
                .isInstanceOf(InvalidCheckpointException.class).hasMessageContaining("not found");
    }

    @Test
    void hostileStructuresEndInTypedExceptions() throws IOException {
        List<byte[]> pickles = new ArrayList<>();
        // a list that contains itself, used as a dict key (would recurse forever when hashed)
        pickles.add(pickle().op('}', ']', 'q', 0, 'h', 0, 'a', 'N', 's', '.').bytes());
        // tuples nested 100,000 deep
        TorchTestFiles.Pickle deep = pickle().op(')');
        for (int i = 0; i < 100_000; i++) {
            deep.op(0x85);
        }
        pickles.add(deep.op('.').bytes());
        // 20,000 nested marks
        TorchTestFiles.Pickle marks = pickle();
        for (int i = 0; i < 20_000; i++) {
            marks.op('(');
        }
        pickles.add(marks.op('.').bytes());
        // a string claiming 4 GiB
        pickles.add(pickle().op('X', 0xff, 0xff, 0xff, 0xff, 'a', '.').bytes());
        // an 8-byte length of 2^63-1
        pickles.add(pickle().op(0x8d, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, '.').bytes());
        // a list doubled by repeated appends of itself... bounded by the cell limit
        TorchTestFiles.Pickle grow = pickle().op(']', 'q', 0);
        for (int i = 0; i < 1_500_000; i++) {
            grow.op('h', 0, 'a');
        }
        pickles.add(grow.op('.').bytes());
        // memo get of an unset index, pop from empty stack, no STOP, unknown opcode
        pickles.add(pickle().op('h', 5, '.').bytes());
        pickles.add(pickle().op('0', '.').bytes());
        pickles.add(pickle().op('}').bytes());
        pickles.add(pickle().op(0xff).bytes());
        // the state dict is not a dict; a key is not a string
        pickles.add(pickle().op(']', '.').bytes());
        pickles.add(pickle().op('}', 'K', 1, 'K', 2, 's', '.').bytes());
        int i = 0;
        for (byte[] pkl : pickles) {
            Path file = archive(dir.resolve("h" + i++ + ".bin"), pkl, Map.of());
            assertThatThrownBy(() -> TorchPickleStore.open(file)).as("pickle %d", i - 1)
                    .isInstanceOf(InvalidCheckpointException.class)
                    .hasMessageContaining(file.toString());
        }
    }

    /** Pushes a tuple nested {@code levels} deep whose two items at every level are one shared tuple. */
    private static TorchTestFiles.Pickle sharedTuple(TorchTestFiles.Pickle p, int levels, int memoBase) {
        p.op(')', 'q', memoBase, '0');
        for (int i = 0; i < levels; i++) {
            p.op('h', memoBase + i, 'h', memoBase + i, 0x86, 'q', memoBase + i + 1);
            if (i < levels - 1) {
                p.op('0'); // leave only the outermost tuple on the stack
            }
        }
        return p;
    }

    @Test
    void sharedTuplesAsDictKeysAreWalkedOnce() throws IOException {
        // {"w": tensor, "x": {K: None, K': None}} where K and K' are two separately built 60-level
        // tuples of shared tuples (2^60 paths each): hashing, comparing or checking them by walking
        // every path would never end; the second key must land on the first
        float[] values = {1, 2, 3};
        TorchTestFiles.Pickle p = pickle().op('}', '(').str("w")
                .tensor("FloatStorage", "0", 3, 0, new int[] {3}, new int[] {1}).str("x").op('}', '(');
        sharedTuple(p, 60, 10).op('N');
        sharedTuple(p, 60, 100).op('N', 'u', 'u', '.');
        Path file = archive(dir.resolve("shared.bin"), p.bytes(), Map.of("0", floats(values)));
        assertTimeoutPreemptively(Duration.ofSeconds(10), () -> {
            try (TorchPickleStore store = TorchPickleStore.open(file)) {
                assertThat(store.names()).containsExactly("w");
                assertThat(store.read("w").toFloatArray()).containsExactly(values);
            }
        });
        // the same shared tuple with a list at its bottom cannot be a key: refused, also at once
        TorchTestFiles.Pickle bad = pickle().op('}', '(').str("x").op('}', ']', 0x85, 'q', 10, '0');
        for (int i = 0; i < 60; i++) {
            bad.op('h', 10 + i, 'h', 10 + i, 0x86, 'q', 11 + i);
            if (i < 59) {
                bad.op('0');
            }
        }
        bad.op('N', 's', 'u', '.');
        Path badFile = archive(dir.resolve("shared-bad.bin"), bad.bytes(), Map.of());
        assertTimeoutPreemptively(Duration.ofSeconds(10), () ->
                assertThatThrownBy(() -> TorchPickleStore.open(badFile)).isInstanceOf(InvalidCheckpointException.class)
                        .hasMessageContaining("dict key a tuple of 2 is not a string, number or tuple of them"));
    }

    @Test
    void trainingCheckpointWithNestedStateDictSaysWhatItIs() throws IOException {
        byte[] pkl = pickle().op('}', '(').str("model").op('}').str("epoch").op('K', 3, 'u', '.').bytes();
        Path file = archive(dir.resolve("ckpt.bin"), pkl, Map.of());
        assertThatThrownBy(() -> TorchPickleStore.open(file)).isInstanceOf(InvalidCheckpointException.class)
                .hasMessageContaining("'model' (a dict of 0)").hasMessageContaining("state_dict()");
    }

    @Test
    void unknownNameSaysSo() {
        try (TorchPickleStore store = TorchPickleStore.open(SharedFiles.path("fixtures/hf/bert-seqcls/pytorch_model.bin"))) {
            assertThatThrownBy(() -> store.info("nope")).isInstanceOf(InvalidCheckpointException.class)
                    .hasMessageContaining("'nope'");
        }
    }
}
