package dev.attune.cli;

import dev.attune.error.AttuneException;
import java.io.PrintWriter;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code attune} command line: fine-tune, predict, logits, bench, generate. */
@Command(
        name = "attune",
        mixinStandardHelpOptions = true,
        version = "attune 0.1.0",
        description = "Fine-tune pretrained NLP models (HuggingFace checkpoints) from the JVM.",
        subcommands = {FineTuneCommand.class, PredictCommand.class, LogitsCommand.class, BenchCommand.class,
                GenerateCommand.class, TuneCommand.class, ExportCommand.class, InferenceBenchCommand.class, SparkBenchCommand.class,
                TokenizeCommand.class, ChatCommand.class})
public final class AttuneCli implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    /**
     * @param args command-line arguments
     */
    public static void main(String[] args) {
        // JLine's JNI terminal (under the progress bar) extracts a native library into the temporary
        // folder on every start and leaves it there; the exec terminal it falls back to needs none
        if (System.getProperty("org.jline.terminal.jni") == null) {
            System.setProperty("org.jline.terminal.jni", "false");
        }
        GracefulStop.install();
        int status;
        try {
            status = execute(args);
        } finally {
            GracefulStop.finished();
        }
        System.exit(status);
    }

    /**
     * Runs a command; errors Attune raises on purpose print their message only (no stack trace).
     *
     * @param args command-line arguments
     * @return the exit code
     */
    public static int execute(String... args) {
        CommandLine cli = new CommandLine(new AttuneCli());
        cli.setExecutionExceptionHandler((ex, commandLine, parseResult) -> {
            PrintWriter err = commandLine.getErr();
            if (ex instanceof AttuneException) {
                err.println("attune: " + ex.getMessage());
                return 2;
            }
            throw ex;
        });
        return cli.execute(args);
    }
}
