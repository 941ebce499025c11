package dev.attune.formats.hf;

import org.apiguardian.api.API;

import dev.attune.formats.hf.ModelNotFoundException;
import dev.attune.formats.hf.HubOptions;
import dev.attune.model.ModelSource;
import dev.attune.model.PretrainedModel;
import java.nio.file.Path;
import java.util.Map;
import java.util.Objects;

/**
 * A model on the HuggingFace Hub: downloads its files into the cache with {@link HubClient} (or
 * finds them there) and reads the cached folder like any HuggingFace folder.
 */
@API(status = API.Status.INTERNAL, since = "0.1")
public final class HubSource implements ModelSource {
    /** The revision used when none is named. */
    public static final String DEFAULT_REVISION = "main";
    /** Prefix of a Hub location: {@code hf://org/name@revision}. */
    public static final String SCHEME = "hf://";

    private final String id;
    private final String revision;
    private final HubOptions options;
    private final String localFallbackName;

    /**
     * @param id model id, {@code org/name}
     * @param revision branch, tag or commit
     * @param options endpoint, cache, token, offline mode
     * @param localFallbackName when the id came from a string that could also have been a local
     *     folder: that string (named in a not-found message), else null
     */
    public HubSource(String id, String revision, HubOptions options, String localFallbackName) {
        this.id = Objects.requireNonNull(id, "id");
        this.revision = revision == null || revision.isBlank() ? DEFAULT_REVISION : revision;
        this.options = Objects.requireNonNull(options, "options");
        this.localFallbackName = localFallbackName;
    }

    /**
     * Parses {@code hf://org/name[@revision]} or {@code org/name[@revision]}.
     *
     * @param location the location
     * @param options Hub settings
     * @param localFallbackName see the constructor
     * @return the source
     */
    public static HubSource parse(String location, HubOptions options, String localFallbackName) {
        String rest = location.startsWith(SCHEME) ? location.substring(SCHEME.length()) : location;
        int at = rest.lastIndexOf('@');
        return at < 0 ? new HubSource(rest, DEFAULT_REVISION, options, localFallbackName)
                : new HubSource(rest.substring(0, at), rest.substring(at + 1), options, localFallbackName);
    }

    /**
     * @param location a string
     * @return whether it reads as {@code org/name[@revision]}
     */
    public static boolean looksLikeId(String location) {
        int at = location.lastIndexOf('@');
        return HubClient.isModelId(at < 0 ? location : location.substring(0, at));
    }

    /**
     * Downloads what the cache lacks.
     *
     * @return the cached folder holding the model's files
     */
    public Path download() {
        try {
            return new HubClient(options).download(id, revision);
        } catch (ModelNotFoundException e) {
            if (localFallbackName == null) {
                throw e;
            }
            ModelNotFoundException wrapped = new ModelNotFoundException("no local folder '" + localFallbackName
                    + "' exists, so it was taken as a Hub model id: " + e.getMessage());
            wrapped.initCause(e);
            throw wrapped;
        }
    }

    @Override
    public PretrainedModel open(Map<String, String> configOverrides) {
        return new HuggingFaceFolderSource(download()).open(configOverrides);
    }

    @Override
    public String describe() {
        return SCHEME + id + "@" + revision;
    }
}
