package dev.attune.formats.torch;

import static dev.attune.formats.torch.TorchTestFiles.pickle;

import dev.attune.testing.Fuzzer;
import dev.attune.testing.Mutator;
import org.junit.jupiter.api.Test;

/**
 * Fuzzes the unpickler where hostile structure costs time: dict keys made of tuples (nested,
 * shared through the memo, equal but separately built), mutated byte by byte and read by {@link
 * TorchUnpickler#readStateDict} directly. Each input must end within the fuzzer's per-input limit
 * in a state dict or an AttuneException.
 */
class PickleKeyFuzzTest {
    /** {"w": tensor, "x": {K: None, K': None, (1, 'a'): None}}: K and K' 20-level shared tuples. */
    static byte[] seed() {
        TorchTestFiles.Pickle p = pickle().op('}', '(').str("w")
                .tensor("FloatStorage", "0", 3, 0, new int[] {3}, new int[] {1}).str("x").op('}', '(');
        for (int base : new int[] {10, 40}) {
            p.op(')', 'q', base, '0');
            for (int i = 0; i < 20; i++) {
                p.op('h', base + i, 'h', base + i, 0x86, 'q', base + i + 1);
                if (i < 19) {
                    p.op('0');
                }
            }
            p.op('N');
        }
        p.op('K', 1).str("a").op(0x86, 'N');
        return p.op('u', 'u', '.').bytes();
    }

    /**
     * Reads bytes as a program that always makes a well-formed pickle of dict keys, so mutations
     * change the keys' shapes rather than break the opcode stream: per byte, push an int, a string,
     * None, a float or a list (the last two cannot be keys), fetch an earlier value from the memo,
     * or make a tuple of the top one, two or three values (memoized); at the end every value left
     * becomes a key of one dict inside the state dict (beside a tensor, so a state dict is accepted when
     * its keys are).
     */
    static byte[] keysProgram(byte[] program) {
        TorchTestFiles.Pickle p = pickle().op('}', '(').str("w")
                .tensor("FloatStorage", "0", 3, 0, new int[] {3}, new int[] {1}).str("x").op('}', '(');
        int depth = 0; // values above the inner dict's mark
        int memo = 0;
        for (int i = 0; i < program.length; i++) {
            int b = program[i] & 0xff;
            switch (b % 10) {
                case 0 -> { p.integer(b); depth++; }
                case 1 -> { p.str("k" + b); depth++; }
                case 2 -> { p.op('N'); depth++; }
                case 3 -> { p.op('G', 0, 0, 0, 0, 0, 0, 0, 0); depth++; } // BINFLOAT 0.0
                case 4 -> { p.op(']'); depth++; }
                case 5, 6 -> { // the newest memo entry, or an earlier one
                    if (memo > 0) {
                        int idx = b % 10 == 5 ? memo - 1 : (b * 31 + i) % memo;
                        p.op('j', idx & 0xff, idx >>> 8 & 0xff, 0, 0);
                        depth++;
                    }
                }
                default -> {
                    int n = b % 10 - 6; // 1, 2 or 3
                    if (depth >= n) {
                        p.op(n == 1 ? 0x85 : n == 2 ? 0x86 : 0x87);
                        depth -= n - 1;
                        p.op('r', memo & 0xff, memo >>> 8 & 0xff, 0, 0);
                        memo++;
                    }
                }
            }
        }
        if (depth % 2 == 1) {
            p.op('N');
        }
        return p.op('u', 'u', '.').bytes();
    }

    /** A program whose keys are tuples shared many levels deep. */
    static byte[] keysSeed() {
        java.io.ByteArrayOutputStream b = new java.io.ByteArrayOutputStream();
        b.write(10); // an int
        for (int i = 0; i < 40; i++) {
            b.write(15); // fetch the newest memo entry (or nothing at first)
            b.write(15);
            b.write(8); // a pair of them
        }
        b.write(11); // a string
        return b.toByteArray();
    }

    @Test
    void generatedKeyShapes() {
        Fuzzer.run("data.pkl key shapes", keysSeed(), new Mutator(false), 2000,
                input -> TorchUnpickler.readStateDict("fuzz.pkl", keysProgram(input)));
    }

    @Test
    void dictKeysOfSharedTuples() {
        Fuzzer.run("data.pkl dict keys", seed(), new Mutator(false), 2000,
                input -> TorchUnpickler.readStateDict("fuzz.pkl", input));
    }
}
