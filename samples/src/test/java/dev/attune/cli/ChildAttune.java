package dev.attune.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/**
 * An {@code attune} command (or a sample's main class) in a child JVM, the way a user's process runs
 * it, so that tests can send it real signals and real standard input. A JVM crash would leave its
 * hs_err file in the folder the test names.
 */
final class ChildAttune {
    private ChildAttune() {}

    /**
     * @param crashDir where the child writes hs_err files if it crashes
     * @param args the command and its options
     * @return the child's command line
     */
    static List<String> command(Path crashDir, List<String> args) {
        return command(crashDir, AttuneCli.class, args);
    }

    /**
     * @param crashDir where the child writes hs_err files if it crashes
     * @param main the class whose main method the child runs
     * @param args its arguments
     * @return the child's command line
     */
    static List<String> command(Path crashDir, Class<?> main, List<String> args) {
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx512m", "-Dai.djl.offline=true", "-XX:ErrorFile=" + crashDir.resolve("hs_err_%p.log"),
                "-cp", System.getProperty("java.class.path"), main.getName()));
        command.addAll(args);
        return command;
    }

    /** Fails when a child crashed in native code (the JVM wrote an hs_err file into the folder). */
    static void assertNoCrashFile(Path crashDir) throws IOException {
        try (Stream<Path> s = Files.list(crashDir)) {
            assertThat(s.map(x -> x.getFileName().toString())).noneMatch(n -> n.startsWith("hs_err"));
        }
    }
}
