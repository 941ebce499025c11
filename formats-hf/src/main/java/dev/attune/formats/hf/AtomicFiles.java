package dev.attune.formats.hf;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.SecureRandom;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Writes files so that readers see either the old file or the complete new one, never a partial
 * file: the content goes to a temporary file in the same folder, is forced to disk, and is then
 * renamed over the target in one atomic step.
 */
final class AtomicFiles {
    private static final Logger LOG = LoggerFactory.getLogger(AtomicFiles.class);
    private static final SecureRandom RANDOM = new SecureRandom();

    /** Writes the content of a file through a channel. */
    @FunctionalInterface
    interface ChannelWriter {
        void writeTo(FileChannel channel) throws IOException;
    }

    private AtomicFiles() {}

    /**
     * @param target the file to create or replace
     * @param writer writes the whole content
     * @throws IOException when writing, syncing or renaming fails (the target is then untouched)
     */
    static void write(Path target, ChannelWriter writer) throws IOException {
        Path absolute = target.toAbsolutePath();
        Path dir = absolute.getParent();
        // not Files.createTempFile: its owner-only permissions would stick to the saved file
        Path tmp = dir.resolve("." + absolute.getFileName() + "." + Long.toHexString(RANDOM.nextLong()) + ".tmp");
        boolean moved = false;
        try {
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE, StandardOpenOption.CREATE_NEW)) {
                writer.writeTo(ch);
                ch.force(true);
            }
            try {
                Files.move(tmp, absolute, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                throw new IOException("the file system of " + dir + " cannot rename atomically", e);
            }
            moved = true;
            syncDirectory(dir);
        } finally {
            if (!moved) {
                Files.deleteIfExists(tmp);
            }
        }
    }

    /**
     * @param target the file to create or replace
     * @param content its bytes
     * @throws IOException when writing fails (the target is then untouched)
     */
    static void write(Path target, byte[] content) throws IOException {
        write(target, ch -> writeFully(ch, ByteBuffer.wrap(content)));
    }

    /** Writes every remaining byte of a buffer. */
    static void writeFully(FileChannel ch, ByteBuffer buffer) throws IOException {
        while (buffer.hasRemaining()) {
            ch.write(buffer);
        }
    }

    /** Makes the rename durable; not every platform can open a folder, which is harmless. */
    private static void syncDirectory(Path dir) {
        try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
            ch.force(true);
        } catch (IOException | UnsupportedOperationException e) {
            LOG.debug("could not sync folder {} after a rename: {}", dir, e.toString());
        }
    }
}
