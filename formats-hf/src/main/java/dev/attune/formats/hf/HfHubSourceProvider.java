package dev.attune.formats.hf;

import org.apiguardian.api.API;

import dev.attune.model.ModelSource;
import dev.attune.model.SourceProvider;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.Optional;

/**
 * Source provider {@value #NAME}: a model on the HuggingFace Hub, named {@code
 * hf://org/name[@revision]}, or {@code org/name[@revision]} (or a bare {@code name}) when nothing of
 * that name exists locally. Hub settings come from the environment ({@link
 * HubOptions#fromEnvironment()}). Ranked last: any local reading comes first.
 */
@API(status = API.Status.INTERNAL, since = "0.1")
public final class HfHubSourceProvider implements SourceProvider {
    /** The provider's name. */
    public static final String NAME = "hf-hub";

    /** Creates the provider (found with {@link java.util.ServiceLoader}). */
    public HfHubSourceProvider() {}

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public int rank() {
        return 1000;
    }

    @Override
    public Optional<ModelSource> recognize(String location, Context context) {
        if (location.startsWith(HubSource.SCHEME)) {
            return Optional.of(HubSource.parse(location, HubOptions.fromEnvironment(), null));
        }
        if (!HubSource.looksLikeId(location) || existsLocally(location)) {
            return Optional.empty();
        }
        return Optional.of(HubSource.parse(location, HubOptions.fromEnvironment(), location));
    }

    private static boolean existsLocally(String location) {
        try {
            return Files.exists(Path.of(location));
        } catch (InvalidPathException e) {
            return false;
        }
    }
}
