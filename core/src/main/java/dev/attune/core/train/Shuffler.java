package dev.attune.core.train;

import dev.attune.error.InvalidCheckpointException;
import java.nio.file.Path;
import java.util.Base64;
import java.util.HexFormat;
import java.util.Random;

/**
 * The generator that shuffles the training data: {@link java.util.Random}'s documented 48-bit
 * linear congruential generator, written out so that its whole state is one number that a
 * checkpoint keeps as plain text ({@value #PREFIX}{@code <state>} in {@code trainer_state.json}'s
 * {@code shuffler}, next to the epoch and the position in it). It draws exactly the numbers {@code
 * new Random(seed)} draws, so data orders are those of earlier versions.
 *
 * <p>Checkpoints written before this class kept the generator as a Base64 Java-serialized {@code
 * Random}. Those are still read, without Java serialization: the bytes must be exactly the
 * 104-byte stream that {@code java.util.Random} writes (a fixed class description, then the
 * values), and only its 48-bit seed is taken from it. Anything else is refused with a message.
 */
final class Shuffler extends Random {
    private static final long serialVersionUID = 1L;
    /** Prefix of the plain form. */
    static final String PREFIX = "lcg48:";
    private static final long MULTIPLIER = 0x5DEECE66DL;
    private static final long ADDEND = 0xBL;
    private static final long MASK = (1L << 48) - 1;
    /**
     * The fixed part of the Java serialization of a {@code java.util.Random} (stream header, class
     * description with its three fields, end of block, no superclass); the values follow it.
     */
    private static final byte[] LEGACY_HEAD = HexFormat.of().parseHex("aced0005737200106a6176612e7574696c2e52616e646f6d"
            + "363296344bf00a530300035a0014686176654e6578744e657874476175737369616e4400106e6578744e657874476175"
            + "737369616e4a0004736565647870");
    private static final int LEGACY_LENGTH = LEGACY_HEAD.length + 1 + 8 + 8 + 1;

    private long state;

    /** @param seed the training seed, as {@code new Random(seed)} takes it */
    Shuffler(long seed) {
        super(seed);
        setSeed(seed);
    }

    private Shuffler(long state, boolean raw) {
        super(0);
        this.state = state & MASK;
    }

    @Override
    public synchronized void setSeed(long seed) {
        // also called by Random's constructor, before this class's fields exist: set the state only
        state = (seed ^ MULTIPLIER) & MASK;
    }

    @Override
    protected int next(int bits) {
        state = (state * MULTIPLIER + ADDEND) & MASK;
        return (int) (state >>> (48 - bits));
    }

    /** @return the plain form of the current state */
    String encode() {
        return PREFIX + state;
    }

    /**
     * @param text a checkpoint's {@code shuffler}: the plain form, or the legacy Base64 form
     * @param checkpoint the checkpoint folder, for messages
     * @return the generator where the checkpoint left it
     * @throws InvalidCheckpointException when the state is missing or cannot be read safely
     */
    static Shuffler decode(String text, Path checkpoint) {
        Path file = checkpoint.resolve(Checkpoints.STATE_FILE);
        if (text == null) {
            throw new InvalidCheckpointException(file + " has no 'shuffler' state, so the data order cannot be"
                    + " continued; resume from a checkpoint-N folder written by the trainer");
        }
        if (text.startsWith(PREFIX)) {
            try {
                long s = Long.parseLong(text.substring(PREFIX.length()));
                if (s >= 0 && s <= MASK) {
                    return new Shuffler(s, true);
                }
            } catch (NumberFormatException e) {
                // reported below
            }
            throw corrupt(file, "'" + clip(text) + "' is not " + PREFIX + " and a number from 0 to 2^48-1");
        }
        byte[] bytes;
        try {
            bytes = text.length() > 4 * LEGACY_LENGTH ? null : Base64.getDecoder().decode(text);
        } catch (IllegalArgumentException e) {
            bytes = null;
        }
        if (bytes == null || bytes.length != LEGACY_LENGTH) {
            throw corrupt(file, "it is neither " + PREFIX + "<state> nor the " + LEGACY_LENGTH + "-byte generator of "
                    + "older checkpoints");
        }
        for (int i = 0; i < LEGACY_HEAD.length; i++) {
            if (bytes[i] != LEGACY_HEAD[i]) {
                throw corrupt(file, "its older (Base64) form holds something other than the shuffling generator");
            }
        }
        int at = LEGACY_HEAD.length;
        boolean flagOk = bytes[at] == 0 || bytes[at] == 1; // haveNextNextGaussian; the shuffle never uses it
        long seed = 0;
        for (int i = 0; i < 8; i++) {
            seed = seed << 8 | (bytes[at + 9 + i] & 0xff);
        }
        if (!flagOk || bytes[LEGACY_LENGTH - 1] != 0x78 || seed < 0 || seed > MASK) {
            throw corrupt(file, "its older (Base64) form holds values a generator cannot have");
        }
        return new Shuffler(seed, true);
    }

    private static InvalidCheckpointException corrupt(Path file, String why) {
        return new InvalidCheckpointException(file + ": the 'shuffler' state cannot be read (" + why + "); resume "
                + "from another checkpoint, or start the run again");
    }

    private static String clip(String s) {
        return s.length() <= 60 ? s : s.substring(0, 60) + "...";
    }
}
