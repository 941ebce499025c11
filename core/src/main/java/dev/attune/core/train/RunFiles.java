package dev.attune.core.train;

import org.apiguardian.api.API;

import dev.attune.error.ConfigurationException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Rules for the files a training run writes into its output folder (log, TensorBoard events): they
 * are never written through a symbolic link planted there, and a run that fails before it saved
 * anything takes its files back, so the previous run's log and events are as they were.
 */
@API(status = API.Status.INTERNAL, since = "0.2")
public final class RunFiles {
    private RunFiles() {}

    /** A callback whose files a failed run takes back. */
    public interface Undoable {
        /**
         * Called instead of nothing, before {@code close}, when the run failed (not when it was
         * stopped): removes what this run wrote and puts back what it replaced, unless the run wrote a
         * checkpoint (then its log describes that checkpoint and stays).
         */
        void undo();
    }

    /**
     * @param path a run file or folder in the output folder
     * @throws ConfigurationException when it is a symbolic link: Attune writes run files only as its own
     */
    public static void refuseLink(Path path) {
        if (Files.isSymbolicLink(path)) {
            throw new ConfigurationException(path + " is a symbolic link; Attune writes its run files only as"
                    + " plain files and folders and never through a link: remove the link (or use another --output)");
        }
    }
}
