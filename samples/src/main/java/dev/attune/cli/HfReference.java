package dev.attune.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.attune.error.ConfigurationException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * One run of the HuggingFace speed reference ({@code shared/bench/hf_reference.py}) in a Python the
 * user names, for {@code attune bench --vs-hf}: the script times BertForSequenceClassification
 * training and inference with the same model, shape, threads and steps, and prints one JSON line.
 * The child gets an empty standard input, so a wrong program cannot wait on the terminal.
 */
final class HfReference {
    private static final Path SHELL = Path.of("/bin/sh");

    private final String python;
    private final Path script;

    HfReference(String python, Path script) {
        if (!Files.isRegularFile(script)) {
            throw new ConfigurationException("--hf-script " + script + " is not a file; pass the path of "
                    + "shared/bench/hf_reference.py (the default assumes ../shared beside the project)");
        }
        this.python = python;
        this.script = script;
    }

    /**
     * Runs the script once and returns its JSON line.
     *
     * @param args the script's arguments after its path
     * @throws ConfigurationException when the program cannot start, exits with an error (the message
     *     carries the end of its standard error, e.g. a missing torch module) or prints no result line
     */
    JsonNode run(List<String> args) throws IOException {
        List<String> command = new ArrayList<>();
        if (Files.isExecutable(SHELL)) {
            // a child of the JVM inherits the JVM's peak resident set in getrusage (Linux keeps it across
            // exec), so the script's peak_rss_mb would report the JVM's; a grandchild forked by a shell
            // that then waits for it (not exec) starts from the shell's
            command.addAll(List.of(SHELL.toString(), "-c", "\"$@\"; status=$?; exit $status", "attune-bench"));
        }
        command.add(python);
        command.add(script.toString());
        command.addAll(args);
        Process p;
        try {
            p = new ProcessBuilder(command).start();
        } catch (IOException e) {
            throw cannotRun(e.getMessage(), e);
        }
        try {
            p.getOutputStream().close();
            CompletableFuture<String> err = CompletableFuture.supplyAsync(() -> readAll(p.getErrorStream()));
            CompletableFuture<String> stdout = CompletableFuture.supplyAsync(() -> readAll(p.getInputStream()));
            // a safe point every 100 ms: Ctrl-C or SIGTERM ends the reference run (the finally kills it)
            while (!p.waitFor(100, TimeUnit.MILLISECONDS)) {
                GracefulStop.checkInterrupted();
            }
            int code = p.exitValue();
            String out = stdout.join();
            String stderr = err.join();
            if (code != 0) {
                GracefulStop.checkInterrupted(); // Ctrl-C reached the child too: report the interruption
                if (code == 126 || code == 127) { // the shell's "cannot execute" and "not found"
                    throw cannotRun(lastLines(stderr, 1), null);
                }
                throw new ConfigurationException("--vs-hf: '" + python + " " + script + "' exited with status " + code
                        + ": " + lastLines(stderr, 3) + " (does this Python have torch and transformers?)");
            }
            ObjectMapper json = new ObjectMapper();
            List<String> lines = out.lines().toList();
            for (int i = lines.size() - 1; i >= 0; i--) {
                String line = lines.get(i);
                if (line.startsWith("{")) {
                    JsonNode node = json.readTree(line);
                    if (node.has("train_samples_per_s") && node.has("infer_samples_per_s")) {
                        return node;
                    }
                }
            }
            throw new ConfigurationException("--vs-hf: " + script + " printed no JSON line with train_samples_per_s "
                    + "and infer_samples_per_s; its output ended: " + lastLines(out, 3));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new GracefulStop.CommandInterruptedException();
        } finally {
            // the shell's child (python) and its children too, not only the shell
            p.descendants().forEach(ProcessHandle::destroyForcibly);
            p.destroyForcibly();
        }
    }

    private ConfigurationException cannotRun(String why, Throwable cause) {
        return new ConfigurationException("--vs-hf: cannot run '" + python + "' (" + why
                + "); give a Python that has torch and transformers, for example one made by "
                + "python3 -m venv V && V/bin/pip install torch transformers", cause);
    }

    private static String readAll(InputStream in) {
        try (in) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            return "";
        }
    }

    static String lastLines(String text, int n) {
        List<String> lines = text.strip().lines().filter(l -> !l.isBlank()).toList();
        String tail = String.join(" | ", lines.subList(Math.max(0, lines.size() - n), lines.size()));
        return tail.isEmpty() ? "(nothing)" : tail;
    }
}
