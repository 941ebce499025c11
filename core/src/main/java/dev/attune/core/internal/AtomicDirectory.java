package dev.attune.core.internal;

import org.apiguardian.api.API;

import java.io.IOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.function.Predicate;
import java.util.stream.Stream;

/**
 * Writes a folder all at once: contents go to a hidden sibling, which replaces the target only when
 * complete. A failure (full disk, permissions) leaves the previous folder as it was and removes the
 * partial one.
 */
@API(status = API.Status.INTERNAL, since = "0.1")
public final class AtomicDirectory {
    private static final java.security.SecureRandom RANDOM = new java.security.SecureRandom();
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
        write(target, writer, name -> false);
    }

    /**
     * Like {@link #write(Path, Writer)}, but the entries of the existing target whose names {@code
     * keep} accepts (and the writer did not write) carry over into the new folder; they are moved,
     * not copied, so keeping gigabytes of checkpoints costs a rename each. On failure they are moved
     * back, and the temporary folder is only deleted once they are.
     *
     * @param target the folder to create or replace
     * @param writer fills a temporary folder
     * @param keep names of the target's entries to carry over
     * @throws IOException when writing or renaming fails (the target is then unchanged)
     */
    public static void write(Path target, Writer writer, Predicate<String> keep) throws IOException {
        Path absolute = target.toAbsolutePath().normalize();
        Path parent = absolute.getParent();
        Files.createDirectories(parent);
        String name = absolute.getFileName().toString();
        // not Files.createTempDirectory: its owner-only permissions would stick to the saved folder;
        // a plain createDirectory gets the user's umask, as any folder the user makes
        Path tmp = parent.resolve("." + name + ".writing-" + Long.toHexString(RANDOM.nextLong()));
        Files.createDirectory(tmp);
        Path old = null;
        List<String> carried = new ArrayList<>();
        try {
            writer.write(tmp);
            if (Files.exists(absolute)) {
                if (Files.isDirectory(absolute)) {
                    try (Stream<Path> entries = Files.list(absolute)) {
                        for (Path entry : entries.toList()) {
                            String entryName = entry.getFileName().toString();
                            if (keep.test(entryName) && !Files.exists(tmp.resolve(entryName))) {
                                move(entry, tmp.resolve(entryName));
                                carried.add(entryName);
                            }
                        }
                    }
                }
                old = parent.resolve("." + name + ".old-" + System.nanoTime());
                move(absolute, old);
            }
            move(tmp, absolute);
        } catch (IOException | RuntimeException e) {
            if (old != null && !Files.exists(absolute)) {
                try {
                    move(old, absolute);
                } catch (IOException | RuntimeException restore) {
                    e.addSuppressed(restore);
                }
                old = null;
            }
            // hand the carried entries back before the temporary folder goes: they are the user's
            boolean handedBack = true;
            for (String entryName : carried) {
                try {
                    if (Files.exists(tmp.resolve(entryName))) {
                        move(tmp.resolve(entryName), absolute.resolve(entryName));
                    }
                } catch (IOException | RuntimeException restore) {
                    handedBack = false;
                    e.addSuppressed(new IOException(entryName + " is left in " + tmp + "; move it back by hand",
                            restore));
                }
            }
            // clean up without letting a second failure (the same full disk) hide the first
            if (handedBack) {
                try {
                    deleteTree(tmp);
                } catch (IOException | RuntimeException cleanup) {
                    e.addSuppressed(cleanup);
                }
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
