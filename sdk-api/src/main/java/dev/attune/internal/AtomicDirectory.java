package dev.attune.internal;

import java.io.IOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Comparator;
import java.util.stream.Stream;

/**
 * Writes a folder all at once: contents go to a hidden sibling, which replaces the target only when
 * complete. A failure (full disk, permissions) leaves the previous folder as it was and removes the
 * partial one.
 */
public final class AtomicDirectory {
    private AtomicDirectory() {}

    /** Fills a folder. */
    @FunctionalInterface
    public interface Writer {
        /**
         * @param directory an empty folder to fill
         * @throws IOException on failure
         */
        void write(Path directory) throws IOException;
    }

    /**
     * @param target the folder to create or replace
     * @param writer fills a temporary folder
     * @throws IOException when writing or renaming fails (the target is then unchanged)
     */
    public static void write(Path target, Writer writer) throws IOException {
        Path absolute = target.toAbsolutePath().normalize();
        Path parent = absolute.getParent();
        Files.createDirectories(parent);
        String name = absolute.getFileName().toString();
        Path tmp = Files.createTempDirectory(parent, "." + name + ".writing-");
        Path old = null;
        try {
            writer.write(tmp);
            if (Files.exists(absolute)) {
                old = parent.resolve("." + name + ".old-" + System.nanoTime());
                move(absolute, old);
            }
            move(tmp, absolute);
        } catch (IOException | RuntimeException e) {
            // clean up without letting a second failure (the same full disk) hide the first
            try {
                deleteTree(tmp);
            } catch (IOException | RuntimeException cleanup) {
                e.addSuppressed(cleanup);
            }
            if (old != null && !Files.exists(absolute)) {
                try {
                    move(old, absolute);
                } catch (IOException | RuntimeException restore) {
                    e.addSuppressed(restore);
                }
                old = null;
            }
            throw e;
        }
        if (old != null) {
            deleteTree(old);
        }
    }

    private static void move(Path from, Path to) throws IOException {
        try {
            Files.move(from, to, StandardCopyOption.ATOMIC_MOVE);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(from, to);
        }
    }

    /**
     * @param root a folder or file to delete recursively; missing is fine
     * @throws IOException on failure
     */
    public static void deleteTree(Path root) throws IOException {
        if (!Files.exists(root)) {
            return;
        }
        try (Stream<Path> walk = Files.walk(root)) {
            for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }
}
