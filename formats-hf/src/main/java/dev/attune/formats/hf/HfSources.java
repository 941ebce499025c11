package dev.attune.formats.hf;

import org.apiguardian.api.API;

import dev.attune.model.ModelSource;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;

/**
 * Sources of HuggingFace checkpoints: a model folder, or a model on the Hub. {@code
 * attune.load(location)} reads locations through the source providers instead ({@link
 * HfFolderSourceProvider}, {@link HfHubSourceProvider} and those of other formats), which also
 * refuse a local-looking path that does not exist rather than asking the Hub for it.
 */
@API(status = API.Status.STABLE, since = "0.1")
public final class HfSources {
    private HfSources() {}

    /**
     * @param directory a folder with config.json, model.safetensors (or a sharded index) and
     *     tokenizer.json or vocab.txt
     * @return a source reading it
     */
    public static ModelSource folder(Path directory) {
        return new HuggingFaceFolderSource(directory);
    }

    /**
     * A model on the HuggingFace Hub, fetched into the cache on first use (settings from the
     * environment: {@link HubOptions#fromEnvironment()}).
     *
     * @param id model id, {@code org/name}
     * @param revision branch, tag or commit; null for {@code main}
     * @return a source downloading it
     */
    public static ModelSource hub(String id, String revision) {
        return hub(id, revision, HubOptions.fromEnvironment());
    }

    /**
     * @param id model id, {@code org/name}
     * @param revision branch, tag or commit; null for {@code main}
     * @param options endpoint, cache folder, token, offline mode
     * @return a source downloading it
     */
    public static ModelSource hub(String id, String revision, HubOptions options) {
        return new HubSource(id, revision, options, null);
    }

    /**
     * Reads a location as a user types it: {@code hf://org/name[@revision]} is a Hub model; an
     * existing path is a local folder; {@code org/name[@revision]} (or {@code name}) with no local
     * folder of that name is a Hub model; anything else is a folder (whose absence is reported).
     *
     * @param location a folder or a Hub model
     * @return the source
     */
    public static ModelSource of(String location) {
        return of(location, HubOptions.fromEnvironment());
    }

    /**
     * As {@link #of(String)} with explicit Hub settings.
     *
     * @param location a folder or a Hub model
     * @param options Hub settings, used when the location is a Hub model
     * @return the source
     */
    public static ModelSource of(String location, HubOptions options) {
        if (location.startsWith(HubSource.SCHEME)) {
            return HubSource.parse(location, options, null);
        }
        Path path;
        try {
            path = Path.of(location);
        } catch (InvalidPathException e) {
            path = null;
        }
        if (path != null && Files.exists(path)) {
            return folder(path);
        }
        if (HubSource.looksLikeId(location)) {
            return HubSource.parse(location, options, location);
        }
        if (path == null) {
            throw new dev.attune.error.ConfigurationException("'" + location + "' is neither a valid folder path nor a "
                    + "HuggingFace model id (org/name or hf://org/name@revision)");
        }
        return folder(path);
    }
}
