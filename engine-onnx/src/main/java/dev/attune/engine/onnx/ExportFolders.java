package dev.attune.engine.onnx;

import java.io.IOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Comparator;
import java.util.stream.Stream;

/**
 * Creates a new folder all at once, for the exports of this module that do not go through {@code
 * FineTunedModel.export} (which replaces folders atomically in the runtime): files are written into
 * a hidden sibling that is renamed to the target when complete, or removed on failure.
 */
final class ExportFolders {
    private ExportFolders() {}

    /** Fills a folder. */
    @FunctionalInterface
    interface Writer {
        void write(Path directory) throws IOException;
    }

    /**
     * @param target a folder that does not exist or is empty
     * @param writer fills a temporary folder
     * @throws IOException when writing or renaming fails (nothing is left behind)
     * @throws dev.attune.error.ConfigurationException when the target exists and is not empty
     */
    static void writeNew(Path target, Writer writer) throws IOException {
        Path absolute = target.toAbsolutePath().normalize();
        if (Files.exists(absolute) && !isEmptyFolder(absolute)) {
            throw new dev.attune.error.ConfigurationException(target + " exists and is not empty; export into a new"
                    + " folder (model.export(\"onnx\", folder) replaces an existing one)");
        }
        Path parent = Files.createDirectories(absolute.getParent());
        Path tmp = Files.createTempDirectory(parent, "." + absolute.getFileName() + ".writing-");
        try {
            writer.write(tmp);
            Files.deleteIfExists(absolute); // an empty folder
            try {
                Files.move(tmp, absolute, StandardCopyOption.ATOMIC_MOVE);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, absolute);
            }
        } catch (IOException | RuntimeException e) {
            try {
                deleteTree(tmp);
            } catch (IOException | RuntimeException cleanup) {
                e.addSuppressed(cleanup);
            }
            throw e;
        }
    }

    private static boolean isEmptyFolder(Path p) throws IOException {
        if (!Files.isDirectory(p)) {
            return false;
        }
        try (Stream<Path> entries = Files.list(p)) {
            return entries.findAny().isEmpty();
        }
    }

    /**
     * @param root a folder or file to delete with everything in it; missing is fine
     * @throws IOException on failure
     */
    static void deleteTree(Path root) throws IOException {
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
