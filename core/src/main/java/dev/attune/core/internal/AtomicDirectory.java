package dev.attune.core.internal;

import org.apiguardian.api.API;

import java.io.IOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Writes a folder all at once: contents go to a hidden sibling, which replaces the target only when
 * complete. A failure (full disk, permissions) leaves the previous folder as it was and removes the
 * partial one; a kill at any point leaves hidden siblings from which {@link #recover} (run before
 * every write, and by the trainer and {@code --resume} before they read the folder) restores a
 * complete folder.
 *
 * <p>The swap, with one id {@code X} for its hidden siblings of {@code NAME}:
 * <ol>
 *   <li>the writer fills {@code .NAME.writing-X}; a kill here leaves only new, partial files there,
 *       which recovery deletes;
 *   <li>complete, it is renamed {@code .NAME.ready-X}: from here recovery finishes the swap;
 *   <li>the existing {@code NAME} is renamed {@code .NAME.old-X};
 *   <li>{@code .NAME.ready-X} is renamed {@code NAME} (the commit);
 *   <li>the entries of the old folder to keep (a training run's files) move into the new one;
 *   <li>the old folder is deleted.
 * </ol>
 * A folder that holds entries Attune does not write ({@link OutputFolder}) is refused unless the
 * caller allows it, and is then never renamed or emptied: the new entries move into it one by one
 * ({@code .NAME.inplace-X}, with the entries they replace set aside in {@code .NAME.replaced-X}), and
 * its other entries stay. So is a folder that holds the working folder ({@code --output .}).
 */
@API(status = API.Status.INTERNAL, since = "0.1")
public final class AtomicDirectory {
    private static final Logger LOG = LoggerFactory.getLogger(AtomicDirectory.class);
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
     * @throws dev.attune.error.ConfigurationException when the target holds entries Attune does not write
     */
    public static void write(Path target, Writer writer) throws IOException {
        write(target, writer, name -> false, false);
    }

    /**
     * As {@link #write(Path, Writer, Predicate, boolean)}, refusing a folder of the user's.
     *
     * @param target the folder to create or replace
     * @param writer fills a temporary folder
     * @param keep names of the target's entries to carry over
     * @throws IOException when writing or renaming fails (the target is then unchanged)
     */
    public static void write(Path target, Writer writer, Predicate<String> keep) throws IOException {
        write(target, writer, keep, false);
    }

    /**
     * Like {@link #write(Path, Writer)}, but the entries of the existing target whose names {@code
     * keep} accepts (and the writer did not write) carry over into the new folder; they are moved,
     * not copied, so keeping gigabytes of checkpoints costs a rename each. On failure they are moved
     * back.
     *
     * @param target the folder to create or replace
     * @param writer fills a temporary folder
     * @param keep names of the target's entries to carry over
     * @param overwrite whether a target holding entries Attune does not write may be written into
     *     (they are left as they are); without it such a target is refused
     * @throws IOException when writing or renaming fails (the target is then unchanged)
     * @throws dev.attune.error.ConfigurationException when the target holds entries Attune does not
     *     write and {@code overwrite} is false, or is a file
     */
    public static void write(Path target, Writer writer, Predicate<String> keep, boolean overwrite)
            throws IOException {
        Path absolute = target.toAbsolutePath().normalize();
        OutputFolder.check(target, true, "");
        Path parent = absolute.getParent();
        Files.createDirectories(parent);
        recover(absolute, keep);
        String id = Long.toHexString(RANDOM.nextLong() & Long.MAX_VALUE);
        // not Files.createTempDirectory: its owner-only permissions would stick to the saved folder;
        // a plain createDirectory gets the user's umask, as any folder the user makes
        Path writing = sibling(absolute, "writing", id);
        Files.createDirectory(writing);
        boolean inPlace;
        Path ready;
        try {
            writer.write(writing);
            FileFaults.at("swap:written");
            // what the target holds besides Attune's names and the names this write replaces (a plugin
            // format's own files) is the user's
            List<String> foreign = new ArrayList<>();
            for (String entry : OutputFolder.foreignEntries(absolute)) {
                if (!Files.exists(writing.resolve(entry), LinkOption.NOFOLLOW_LINKS)) {
                    foreign.add(entry);
                }
            }
            if (!foreign.isEmpty() && !overwrite) {
                throw OutputFolder.refusal(target, foreign, "save(dir, true), export option overwrite_output_dir");
            }
            inPlace = Files.isDirectory(absolute) && (OutputFolder.holdsWorkingDirectory(absolute) || !foreign.isEmpty());
            ready = sibling(absolute, inPlace ? "inplace" : "ready", id);
            move(writing, ready);
        } catch (IOException | RuntimeException e) {
            deleteQuietly(writing, e);
            throw e;
        }
        if (inPlace) {
            commitInPlace(absolute, ready, id);
        } else {
            commitSwap(absolute, ready, id, keep);
        }
    }

    private static Path sibling(Path absolute, String kind, String id) {
        return absolute.resolveSibling("." + absolute.getFileName() + "." + kind + "-" + id);
    }

    /** Steps 3 to 6; on a failure, undoes what was done so the target is as it was. */
    private static void commitSwap(Path absolute, Path ready, String id, Predicate<String> keep) throws IOException {
        Path old = sibling(absolute, "old", id);
        boolean moved = false;
        boolean committed = false;
        List<String> carried = new ArrayList<>();
        try {
            // decide what carries over before anything moves, so a failing decision changes nothing
            List<String> toCarry = new ArrayList<>();
            if (Files.isDirectory(absolute)) {
                try (Stream<Path> entries = Files.list(absolute)) {
                    for (Path entry : entries.toList()) {
                        String entryName = entry.getFileName().toString();
                        if (keep.test(entryName) && !Files.exists(ready.resolve(entryName), LinkOption.NOFOLLOW_LINKS)) {
                            toCarry.add(entryName);
                        }
                    }
                }
            }
            FileFaults.at("swap:ready");
            if (Files.exists(absolute, LinkOption.NOFOLLOW_LINKS)) {
                move(absolute, old);
                moved = true;
            }
            FileFaults.at("swap:old");
            move(ready, absolute);
            committed = true;
            FileFaults.at("swap:committed");
            for (String entryName : toCarry) {
                move(old.resolve(entryName), absolute.resolve(entryName));
                carried.add(entryName);
                FileFaults.at("swap:carried");
            }
        } catch (IOException | RuntimeException e) {
            try {
                for (String entryName : carried) {
                    move(absolute.resolve(entryName), old.resolve(entryName));
                }
                if (committed) {
                    move(absolute, ready);
                }
                if (moved) {
                    move(old, absolute);
                }
                deleteTree(ready);
            } catch (IOException | RuntimeException undo) {
                e.addSuppressed(new IOException("could not undo the save; the next save or training run into "
                        + absolute + " restores a complete folder from its hidden siblings", undo));
            }
            throw e;
        }
        if (moved) {
            deleteTree(old);
        }
    }

    /** Moves the new entries into a folder that is not renamed, setting aside the entries they replace. */
    private static void commitInPlace(Path absolute, Path ready, String id) throws IOException {
        Path replaced = sibling(absolute, "replaced", id);
        Files.createDirectories(absolute);
        Files.createDirectory(replaced);
        List<String> done = new ArrayList<>();
        List<String> setAside = new ArrayList<>();
        try {
            List<String> names;
            try (Stream<Path> entries = Files.list(ready)) {
                names = entries.map(p -> p.getFileName().toString()).sorted().toList();
            }
            FileFaults.at("inplace:ready");
            for (String entryName : names) {
                Path dest = absolute.resolve(entryName);
                if (Files.exists(dest, LinkOption.NOFOLLOW_LINKS)) {
                    move(dest, replaced.resolve(entryName));
                    setAside.add(entryName);
                }
                FileFaults.at("inplace:aside");
                move(ready.resolve(entryName), dest);
                done.add(entryName);
                FileFaults.at("inplace:moved");
            }
        } catch (IOException | RuntimeException e) {
            try {
                for (String entryName : done) {
                    move(absolute.resolve(entryName), ready.resolve(entryName));
                }
                for (String entryName : setAside) {
                    move(replaced.resolve(entryName), absolute.resolve(entryName));
                }
                deleteTree(ready);
                deleteTree(replaced);
            } catch (IOException | RuntimeException undo) {
                e.addSuppressed(new IOException("could not undo the save; the next save or training run into "
                        + absolute + " finishes it from its hidden siblings", undo));
            }
            throw e;
        }
        deleteTree(ready);
        deleteTree(replaced);
    }

    private static final Pattern LEFTOVER = Pattern.compile("\\.(.+)\\.(writing|ready|old|inplace|replaced)-([0-9a-f]+)");

    /**
     * Brings a folder whose write was killed midway back to a complete state: a complete new folder
     * ({@code .NAME.ready-X}, {@code .NAME.inplace-X}) is put in place, the old folder's entries to
     * keep move into it, a folder renamed aside with nothing to replace it is renamed back, and
     * partial writes are deleted. Does nothing when no write was interrupted.
     *
     * @param target the folder
     * @param keep names of the old folder's entries that the interrupted write carried over
     * @throws IOException when a rename or deletion fails
     */
    public static void recover(Path target, Predicate<String> keep) throws IOException {
        Path absolute = target.toAbsolutePath().normalize();
        Path parent = absolute.getParent();
        if (parent == null || !Files.isDirectory(parent)) {
            return;
        }
        String name = absolute.getFileName().toString();
        List<Path> writing = new ArrayList<>();
        List<Path> ready = new ArrayList<>();
        List<Path> old = new ArrayList<>();
        List<Path> inplace = new ArrayList<>();
        List<Path> replaced = new ArrayList<>();
        try (Stream<Path> entries = Files.list(parent)) {
            for (Path p : entries.toList()) {
                Matcher m = LEFTOVER.matcher(p.getFileName().toString());
                if (!m.matches() || !m.group(1).equals(name)) {
                    continue;
                }
                switch (m.group(2)) {
                    case "writing" -> writing.add(p);
                    case "ready" -> ready.add(p);
                    case "old" -> old.add(p);
                    case "inplace" -> inplace.add(p);
                    default -> replaced.add(p);
                }
            }
        }
        if (writing.isEmpty() && ready.isEmpty() && old.isEmpty() && inplace.isEmpty() && replaced.isEmpty()) {
            return;
        }
        LOG.warn("an earlier write of {} was interrupted; restoring the folder from {}", absolute,
                concat(writing, ready, old, inplace, replaced));
        for (Path in : inplace) {
            Path aside = absolute.resolveSibling(in.getFileName().toString().replaceFirst("\\.inplace-", ".replaced-"));
            Files.createDirectories(aside);
            Files.createDirectories(absolute);
            try (Stream<Path> entries = Files.list(in)) {
                for (Path entry : entries.toList()) {
                    Path dest = absolute.resolve(entry.getFileName().toString());
                    Path setAside = aside.resolve(entry.getFileName().toString());
                    if (Files.exists(dest, LinkOption.NOFOLLOW_LINKS) && !Files.exists(setAside, LinkOption.NOFOLLOW_LINKS)) {
                        move(dest, setAside);
                    }
                    if (!Files.exists(dest, LinkOption.NOFOLLOW_LINKS)) {
                        move(entry, dest);
                    }
                }
            }
            deleteTree(in);
            if (!replaced.contains(aside)) {
                replaced.add(aside);
            }
        }
        for (Path r : replaced) {
            deleteTree(r);
        }
        // newest complete write wins (there is at most one unless recovery itself was killed)
        ready.sort(Comparator.comparing(AtomicDirectory::modified));
        for (int i = 0; i < ready.size(); i++) {
            Path r = ready.get(i);
            if (i < ready.size() - 1) {
                deleteTree(r);
                continue;
            }
            if (Files.exists(absolute, LinkOption.NOFOLLOW_LINKS)) {
                Path aside = absolute.resolveSibling(r.getFileName().toString().replaceFirst("\\.ready-", ".old-"));
                if (Files.exists(aside, LinkOption.NOFOLLOW_LINKS)) {
                    aside = sibling(absolute, "old", Long.toHexString(RANDOM.nextLong() & Long.MAX_VALUE));
                }
                move(absolute, aside);
                old.add(aside);
            }
            move(r, absolute);
        }
        old.sort(Comparator.comparing(AtomicDirectory::modified).reversed());
        if (!Files.exists(absolute, LinkOption.NOFOLLOW_LINKS) && !old.isEmpty()) {
            // renamed aside and never replaced: the previous folder comes back
            move(old.remove(0), absolute);
        }
        // what the interrupted write carried over (a run's log, events, checkpoints); a write of an
        // earlier version of Attune carried them into .NAME.writing-X before the swap
        for (Path from : concat(old, writing)) {
            if (Files.isDirectory(absolute) && Files.isDirectory(from)) {
                try (Stream<Path> entries = Files.list(from)) {
                    for (Path entry : entries.toList()) {
                        String entryName = entry.getFileName().toString();
                        if (keep.test(entryName) && !Files.exists(absolute.resolve(entryName), LinkOption.NOFOLLOW_LINKS)) {
                            move(entry, absolute.resolve(entryName));
                        }
                    }
                }
            }
            deleteTree(from);
        }
    }

    @SafeVarargs
    private static List<Path> concat(List<Path>... lists) {
        List<Path> out = new ArrayList<>();
        for (List<Path> l : lists) {
            out.addAll(l);
        }
        return out;
    }

    private static java.nio.file.attribute.FileTime modified(Path p) {
        try {
            return Files.getLastModifiedTime(p, LinkOption.NOFOLLOW_LINKS);
        } catch (IOException e) {
            return java.nio.file.attribute.FileTime.fromMillis(0);
        }
    }

    private static void move(Path from, Path to) throws IOException {
        try {
            Files.move(from, to, StandardCopyOption.ATOMIC_MOVE);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(from, to);
        }
    }

    private static void deleteQuietly(Path root, Throwable pending) {
        try {
            deleteTree(root);
        } catch (IOException | RuntimeException cleanup) {
            // a second failure (the same full disk) must not hide the first
            pending.addSuppressed(cleanup);
        }
    }

    /**
     * @param root a folder or file to delete recursively, never following links out of it; missing is fine
     * @throws IOException on failure
     */
    public static void deleteTree(Path root) throws IOException {
        if (!Files.exists(root, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        try (Stream<Path> walk = Files.walk(root)) {
            for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }
}
