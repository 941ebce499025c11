package dev.attune.formats.hf;

import dev.attune.error.AttuneException;
import dev.attune.error.ConfigurationException;
import dev.attune.error.InvalidCheckpointException;
import dev.attune.error.InvalidDataException;
import dev.attune.model.TextTokenizer.Encoding;
import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * Runs a tokenizer in a child JVM, so that what the native tokenizers library does with it cannot
 * take this process down: a Rust panic (which aborts the process it happens in) or a match that
 * never ends costs the child only, and the caller gets an {@link InvalidDataException} naming the
 * file, the exit status and the library's own last words. The next call starts a fresh child.
 *
 * <p>{@link HfTokenizer} uses it for tokenizer files whose safety cannot be checked beforehand
 * (regular expressions, see {@link TokenizerJsonCheck}); the child runs an ordinary in-process
 * {@link HfTokenizer} on the same files. Calls are serialized (one child, one request at a time)
 * and each has a deadline ({@value #TIMEOUT_PROPERTY}, default {@value #DEFAULT_TIMEOUT_SECONDS} s).
 * The child is the same {@code java} with this process's class path; where that class path cannot
 * start it (an application server's class loaders), {@code -D}{@value HfTokenizer#ISOLATION_PROPERTY}
 * {@code =never} runs such tokenizers in process instead, at the risk described there.
 */
final class TokenizerProcess implements AutoCloseable {
    /** System property: seconds one call may take before the child is stopped. */
    static final String TIMEOUT_PROPERTY = "attune.tokenizer.timeoutSeconds";
    static final int DEFAULT_TIMEOUT_SECONDS = 20;
    private static final int STARTUP_TIMEOUT_SECONDS = 120;
    private static final int STDERR_KEPT = 4096;

    private static final byte ENCODE = 1;
    private static final byte ENCODE_WORDS = 2;
    private static final byte DECODE = 3;
    private static final byte ENCODE_RAW = 4;
    private static final byte QUIT = 0;
    private static final byte OK = 0;
    private static final byte FAILED = 1;

    private static final ScheduledExecutorService WATCHDOG = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "attune-tokenizer-watchdog");
        t.setDaemon(true);
        return t;
    });

    private final String origin;
    private final Map<String, byte[]> files;
    private final String why;
    private Child child; // guarded by this
    private boolean closed; // guarded by this

    /** A running child and its pipes. */
    private static final class Child {
        final Process process;
        final DataOutputStream in;
        final DataInputStream out;
        final StringBuilder stderr = new StringBuilder();
        volatile boolean timedOut;

        Child(Process process) {
            this.process = process;
            this.in = new DataOutputStream(new BufferedOutputStream(process.getOutputStream(), 1 << 16));
            this.out = new DataInputStream(new BufferedInputStream(process.getInputStream(), 1 << 16));
            Thread drain = new Thread(() -> {
                try (InputStream err = process.getErrorStream()) {
                    byte[] b = new byte[1024];
                    for (int n; (n = err.read(b)) > 0; ) {
                        synchronized (stderr) {
                            stderr.append(new String(b, 0, n, StandardCharsets.UTF_8));
                            if (stderr.length() > 2 * STDERR_KEPT) {
                                stderr.delete(0, stderr.length() - STDERR_KEPT);
                            }
                        }
                    }
                } catch (IOException e) {
                    // the child is gone
                }
            }, "attune-tokenizer-stderr");
            drain.setDaemon(true);
            drain.start();
        }

        String lastWords() {
            synchronized (stderr) {
                String s = stderr.toString().strip();
                // the panic message is the line after "panicked at"; keep the head of the trace
                int at = s.indexOf("panicked at");
                String tail = at >= 0 ? s.substring(at) : s;
                tail = tail.length() > 600 ? tail.substring(0, 600) + "..." : tail;
                return tail.replaceAll("\\s+", " ");
            }
        }
    }

    /**
     * Starts the child and loads the tokenizer in it.
     *
     * @param origin the tokenizer file, for messages
     * @param files the tokenizer files by name (tokenizer.json, tokenizer_config.json, ...)
     * @param why why it runs apart (for messages)
     * @throws InvalidCheckpointException when the child cannot load the tokenizer
     */
    TokenizerProcess(String origin, Map<String, byte[]> files, String why) {
        this.origin = origin;
        this.files = files;
        this.why = why;
        synchronized (this) {
            child = start();
        }
    }

    private static int timeoutSeconds() {
        String v = System.getProperty(TIMEOUT_PROPERTY);
        if (v == null || v.isBlank()) {
            return DEFAULT_TIMEOUT_SECONDS;
        }
        try {
            int s = Integer.parseInt(v.trim());
            if (s > 0) {
                return s;
            }
        } catch (NumberFormatException e) {
            // below
        }
        throw new ConfigurationException("-D" + TIMEOUT_PROPERTY + "=" + v + " is not a positive number of seconds");
    }

    private Child start() {
        String java = ProcessHandle.current().info().command()
                .orElse(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        List<String> command = new ArrayList<>(List.of(java, "-Xmx512m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
                "-Xshare:auto", "-Dai.djl.offline=true", "-D" + HfTokenizer.ISOLATION_PROPERTY + "=never",
                "-cp", System.getProperty("java.class.path"), TokenizerProcess.class.getName()));
        Process p;
        try {
            p = new ProcessBuilder(command).start();
        } catch (IOException e) {
            throw new InvalidCheckpointException(origin + ": cannot start the separate process that runs this tokenizer "
                    + "(" + e.getMessage() + "); " + why + ". Run with -D" + HfTokenizer.ISOLATION_PROPERTY + "=never to "
                    + "run it in this process instead, if you trust the file", e);
        }
        Child c = new Child(p);
        ScheduledFuture<?> watch = WATCHDOG.schedule(() -> {
            c.timedOut = true;
            p.destroyForcibly();
        }, STARTUP_TIMEOUT_SECONDS, TimeUnit.SECONDS);
        try {
            c.in.writeInt(files.size());
            writeString(c.in, origin);
            for (Map.Entry<String, byte[]> f : files.entrySet()) {
                writeString(c.in, f.getKey());
                c.in.writeInt(f.getValue().length);
                c.in.write(f.getValue());
            }
            c.in.flush();
            readAnswer(c, "loading it");
            return c;
        } catch (IOException e) {
            throw failure(c, "loading it", e, InvalidCheckpointException::new);
        } catch (AttuneException e) {
            p.destroyForcibly();
            throw e;
        } finally {
            watch.cancel(false);
        }
    }

    /** An exception type built from a message and a cause. */
    private interface Failure {
        AttuneException make(String message, Throwable cause);
    }

    private AttuneException failure(Child c, String doing, IOException e, Failure type) {
        c.process.destroyForcibly();
        int exit;
        try {
            exit = c.process.waitFor(10, TimeUnit.SECONDS) ? c.process.exitValue() : -1;
        } catch (InterruptedException ie) {
            Thread.currentThread().interrupt();
            exit = -1;
        }
        String words = c.lastWords();
        if (c.timedOut) {
            return type.make(origin + ": " + doing + " took more than " + (doing.startsWith("loading")
                    ? STARTUP_TIMEOUT_SECONDS : timeoutSeconds()) + " s, so the tokenizer process was stopped; "
                    + why + ", and one of them is probably too slow on this text (catastrophic backtracking): fix the "
                    + "pattern in the tokenizer file, or raise -D" + TIMEOUT_PROPERTY, e);
        }
        String panic = exit == 134 || words.contains("panicked") ? "the native tokenizers library crashed" : "it ended";
        return type.make(origin + ": " + panic + " while " + doing + " (exit status " + exit + (words.isEmpty() ? ""
                : ": " + words) + "). It ran in a separate process because " + why + ", so only that process ended; "
                + "a regular expression that Oniguruma gives up on (10 million backtracking steps) ends this way: fix the "
                + "tokenizer file, or shorten the text", e);
    }

    private Object call(byte op, IOCall write, String doing) {
        synchronized (this) {
            if (closed) {
                throw new AttuneException("tokenizer " + origin + " is closed; the model or checkpoint that owned it was"
                        + " closed");
            }
            if (child == null || !child.process.isAlive()) {
                child = start();
            }
            Child c = child;
            ScheduledFuture<?> watch = WATCHDOG.schedule(() -> {
                c.timedOut = true;
                c.process.destroyForcibly();
            }, timeoutSeconds(), TimeUnit.SECONDS);
            try {
                c.in.writeByte(op);
                write.write(c.in);
                c.in.flush();
                return readAnswer(c, doing);
            } catch (IOException e) {
                child = null;
                throw failure(c, doing, e, InvalidDataException::new);
            } finally {
                watch.cancel(false);
            }
        }
    }

    /** Writes a request's arguments. */
    private interface IOCall {
        void write(DataOutputStream out) throws IOException;
    }

    Encoding encode(String text, String textPair, int maxLength) {
        return (Encoding) call(ENCODE, out -> {
            writeString(out, text);
            out.writeBoolean(textPair != null);
            if (textPair != null) {
                writeString(out, textPair);
            }
            out.writeInt(maxLength);
        }, "tokenizing a text of " + text.length() + " characters");
    }

    Encoding encodeWords(List<String> words, int maxLength) {
        return (Encoding) call(ENCODE_WORDS, out -> {
            out.writeInt(words.size());
            for (String w : words) {
                writeString(out, w);
            }
            out.writeInt(maxLength);
        }, "tokenizing " + words.size() + " words");
    }

    Encoding encodeWithoutSpecialTokens(String text) {
        return (Encoding) call(ENCODE_RAW, out -> writeString(out, text),
                "tokenizing a rendered text of " + text.length() + " characters");
    }

    String decode(long[] ids, boolean skipSpecialTokens) {
        return (String) call(DECODE, out -> {
            writeLongs(out, ids);
            out.writeBoolean(skipSpecialTokens);
        }, "decoding " + ids.length + " ids");
    }

    /** @return the Encoding, the decoded String, or null for "loaded" */
    private Object readAnswer(Child c, String doing) throws IOException {
        byte status = c.out.readByte();
        if (status == FAILED) {
            String type = readString(c.out);
            String message = readString(c.out);
            throw switch (type) {
                case "InvalidCheckpointException" -> new InvalidCheckpointException(message);
                case "InvalidDataException" -> new InvalidDataException(message);
                case "ConfigurationException" -> new ConfigurationException(message);
                default -> new AttuneException(message);
            };
        }
        if (status != OK) {
            throw new IOException("unexpected answer " + status);
        }
        byte kind = c.out.readByte();
        if (kind == DECODE) {
            return readString(c.out);
        }
        if (kind == QUIT) {
            return null; // loaded
        }
        long[] ids = readLongs(c.out);
        long[] types = readLongs(c.out);
        long[] mask = readLongs(c.out);
        int[] starts = readInts(c.out);
        int[] ends = readInts(c.out);
        int[] sequences = readInts(c.out);
        int[] words = readInts(c.out);
        return new Encoding(ids, types, mask, starts, ends, sequences, words);
    }

    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        if (child != null) {
            try {
                child.in.writeByte(QUIT);
                child.in.flush();
            } catch (IOException e) {
                // gone already
            }
            child.process.destroy();
            child = null;
        }
    }

    // ---- the child ----

    /**
     * The child's main: reads the tokenizer files, loads them in process, then answers requests
     * until told to quit or its input ends.
     */
    public static void main(String[] args) throws IOException {
        DataInputStream in = new DataInputStream(new BufferedInputStream(System.in, 1 << 16));
        // standard output carries the answers only: whatever a library prints goes to standard error
        DataOutputStream out = new DataOutputStream(new BufferedOutputStream(new java.io.FileOutputStream(
                java.io.FileDescriptor.out), 1 << 16));
        System.setOut(System.err);
        int count = in.readInt();
        String origin = readString(in);
        Map<String, byte[]> files = new LinkedHashMap<>();
        for (int i = 0; i < count; i++) {
            String name = readString(in);
            byte[] b = new byte[in.readInt()];
            in.readFully(b);
            files.put(name, b);
        }
        HfTokenizer tk;
        try {
            tk = HfTokenizer.inProcess(origin, files);
        } catch (AttuneException e) {
            fail(out, e);
            return;
        }
        out.writeByte(OK);
        out.writeByte(QUIT);
        out.flush();
        while (true) {
            byte op;
            try {
                op = in.readByte();
            } catch (EOFException e) {
                return;
            }
            try {
                switch (op) {
                    case ENCODE -> {
                        String text = readString(in);
                        String pair = in.readBoolean() ? readString(in) : null;
                        Encoding e = tk.encode(text, pair, in.readInt());
                        answer(out, e);
                    }
                    case ENCODE_WORDS -> {
                        int n = in.readInt();
                        List<String> words = new ArrayList<>(n);
                        for (int i = 0; i < n; i++) {
                            words.add(readString(in));
                        }
                        answer(out, tk.encodeWords(words, in.readInt()));
                    }
                    case ENCODE_RAW -> answer(out, tk.encodeWithoutSpecialTokens(readString(in)));
                    case DECODE -> {
                        long[] ids = readLongs(in);
                        String text = tk.decode(ids, in.readBoolean());
                        out.writeByte(OK);
                        out.writeByte(DECODE);
                        writeString(out, text);
                    }
                    default -> {
                        tk.close();
                        return;
                    }
                }
            } catch (AttuneException e) {
                fail(out, e);
            }
            out.flush();
        }
    }

    private static void fail(DataOutputStream out, AttuneException e) throws IOException {
        out.writeByte(FAILED);
        writeString(out, e.getClass().getSimpleName());
        writeString(out, Optional.ofNullable(e.getMessage()).orElse(e.toString()));
        out.flush();
    }

    private static void answer(DataOutputStream out, Encoding e) throws IOException {
        out.writeByte(OK);
        out.writeByte(ENCODE);
        writeLongs(out, e.ids());
        writeLongs(out, e.typeIds());
        writeLongs(out, e.attentionMask());
        writeInts(out, e.charStarts());
        writeInts(out, e.charEnds());
        writeInts(out, e.sequenceIds());
        writeInts(out, e.wordIds());
    }

    // ---- wire format ----

    private static void writeString(DataOutputStream out, String s) throws IOException {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        out.writeInt(b.length);
        out.write(b);
    }

    private static String readString(DataInputStream in) throws IOException {
        int n = in.readInt();
        if (n < 0) {
            throw new IOException("negative length");
        }
        byte[] b = new byte[n];
        in.readFully(b);
        return new String(b, StandardCharsets.UTF_8);
    }

    private static void writeLongs(DataOutputStream out, long[] v) throws IOException {
        out.writeInt(v.length);
        for (long x : v) {
            out.writeLong(x);
        }
    }

    private static long[] readLongs(DataInputStream in) throws IOException {
        long[] v = new long[in.readInt()];
        for (int i = 0; i < v.length; i++) {
            v[i] = in.readLong();
        }
        return v;
    }

    private static void writeInts(DataOutputStream out, int[] v) throws IOException {
        out.writeInt(v.length);
        for (int x : v) {
            out.writeInt(x);
        }
    }

    private static int[] readInts(DataInputStream in) throws IOException {
        int[] v = new int[in.readInt()];
        for (int i = 0; i < v.length; i++) {
            v[i] = in.readInt();
        }
        return v;
    }
}
