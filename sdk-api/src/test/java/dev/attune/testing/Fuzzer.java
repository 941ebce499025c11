package dev.attune.testing;

import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.fail;

import dev.attune.error.AttuneException;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * Runs a fuzz target: mutates a valid input many times with a {@link Mutator} and feeds each
 * mutation to the code under test. Success and any {@link AttuneException} are acceptable; any
 * other exception, an {@link Error} or an input that takes more than 5 s is a crash, and a hang
 * is stopped by {@code assertTimeoutPreemptively} and reported with its seed. Crashes are
 * collected (their inputs saved under {@code target/fuzz-crashes/}) and fail the test at the end
 * with the target, seed and mutations of each, so one can be replayed alone.
 *
 * <p>System properties: {@value #ITERATIONS} sets every target's iteration count (the defaults keep
 * a CI run near a minute in all), {@value #SEED} changes the base seed, {@value #REPLAY} ({@code
 * target:seed}) runs only that input of that target.
 *
 * <p>Published in sdk-api's test-jar for the other modules' fuzz tests.
 */
public final class Fuzzer {
    /** System property setting every target's iteration count. */
    public static final String ITERATIONS = "attune.fuzz.iterations";
    /** System property giving the base seed. */
    public static final String SEED = "attune.fuzz.seed";
    /** System property {@code target:seed} replaying one input. */
    public static final String REPLAY = "attune.fuzz.replay";

    private static final long DEFAULT_SEED = 20261124L;
    private static final Duration PER_INPUT = Duration.ofSeconds(5);
    private static final int MAX_REPORTED = 10;

    /** The code under test for one input. */
    @FunctionalInterface
    public interface Target {
        /**
         * @param input a mutated input
         * @throws Exception anything; only {@link AttuneException} counts as a clean rejection
         */
        void accept(byte[] input) throws Exception;
    }

    /**
     * What a target run did.
     *
     * @param target the target's name
     * @param tried inputs tried
     * @param accepted inputs the code accepted
     * @param rejected inputs rejected with an {@link AttuneException}
     * @param crashes inputs that crashed
     * @param millis wall time
     */
    public record Summary(String target, int tried, int accepted, int rejected, int crashes, long millis) {
        @Override
        public String toString() {
            return String.format("fuzz %-22s tried %6d  accepted %6d  rejected %6d  crashes %d  %6d ms",
                    target, tried, accepted, rejected, crashes, millis);
        }
    }

    private Fuzzer() {}

    /**
     * @param defaultIterations the count for a CI run
     * @return {@value #ITERATIONS} when set, else the default
     */
    public static int iterations(int defaultIterations) {
        String v = System.getProperty(ITERATIONS);
        return v == null || v.isBlank() ? defaultIterations : Math.max(1, Integer.parseInt(v.trim()));
    }

    /**
     * Fuzzes a target and fails the calling test when anything crashed.
     *
     * @param name the target's name (in messages and replay)
     * @param seedInput a valid input
     * @param mutator the mutator
     * @param defaultIterations inputs to try in a CI run
     * @param target the code under test
     * @return the summary, also printed
     */
    public static Summary run(String name, byte[] seedInput, Mutator mutator, int defaultIterations, Target target) {
        long base = Long.getLong(SEED, DEFAULT_SEED);
        long count = iterations(defaultIterations);
        String replay = System.getProperty(REPLAY);
        if (replay != null && !replay.isBlank()) {
            int colon = replay.lastIndexOf(':');
            if (!replay.substring(0, colon).equals(name)) {
                return new Summary(name, 0, 0, 0, 0, 0);
            }
            base = Long.parseLong(replay.substring(colon + 1).trim());
            count = 1;
        }
        long start = System.nanoTime();
        Progress progress = new Progress();
        long iterations = count;
        long firstSeed = base;
        // one preemptive timeout around the loop (a thread per input would cost more than most
        // inputs): a hang is reported with the seed and mutations of the input being run
        assertTimeoutPreemptively(Duration.ofSeconds(60).plusMillis(100 * count), () -> loop(name, seedInput, mutator, target, firstSeed, iterations, progress),
                () -> "fuzzing " + name + " hung on seed " + progress.seed + " (mutations " + progress.log
                        + "); replay it with -D" + REPLAY + "=" + name + ":" + progress.seed);
        Summary summary = new Summary(name, (int) count, progress.accepted, progress.rejected, progress.crashCount,
                (System.nanoTime() - start) / 1_000_000);
        System.out.println(summary);
        if (progress.crashCount > 0) {
            fail(progress.crashCount + " crash(es) fuzzing " + name + " (replay one with -D" + REPLAY + "=" + name
                    + ":<seed>):\n\n" + String.join("\n\n", progress.crashes));
        }
        return summary;
    }

    /** Counters and the input in progress, readable from the timeout's message. */
    private static final class Progress {
        volatile long seed;
        volatile List<String> log = List.of();
        int accepted;
        int rejected;
        int crashCount;
        final List<String> crashes = new ArrayList<>();
    }

    private static Object loop(String name, byte[] seedInput, Mutator mutator, Target target, long base, long count,
                               Progress progress) {
        for (long i = 0; i < count; i++) {
            long seed = base + i;
            List<String> log = new ArrayList<>();
            byte[] input = mutator.mutate(seedInput, seed, log);
            progress.seed = seed;
            progress.log = log;
            long t0 = System.nanoTime();
            Throwable crash = null;
            try {
                target.accept(input);
                progress.accepted++;
            } catch (AttuneException e) {
                progress.rejected++;
            } catch (Throwable e) {
                crash = e;
            }
            long took = System.nanoTime() - t0;
            if (crash == null && took > PER_INPUT.toNanos()) {
                crash = new AssertionError("took " + took / 1_000_000 + " ms, more than the " + PER_INPUT.toMillis()
                        + " ms allowed for one input");
            }
            if (crash != null) {
                progress.crashCount++;
                if (progress.crashes.size() < MAX_REPORTED) {
                    progress.crashes.add(describe(name, seed, log, input, crash));
                }
            }
        }
        return null;
    }

    private static String describe(String name, long seed, List<String> log, byte[] input, Throwable e) {
        String saved;
        try {
            Path dir = Files.createDirectories(Path.of("target", "fuzz-crashes"));
            Path file = dir.resolve(name.replaceAll("[^A-Za-z0-9._-]", "_") + "-" + seed + ".bin");
            Files.write(file, input);
            saved = file.toAbsolutePath().toString();
        } catch (IOException io) {
            saved = "(not saved: " + io + ")";
        }
        StringWriter trace = new StringWriter();
        e.printStackTrace(new PrintWriter(trace));
        String t = trace.toString();
        return "target " + name + " seed " + seed + " mutations " + log + "\ninput saved to " + saved + "\n"
                + (t.length() > 3000 ? t.substring(0, 3000) + "..." : t);
    }
}
