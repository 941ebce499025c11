package dev.attune.formats.hf;

import org.apiguardian.api.API;

import dev.attune.model.ModelSource;
import dev.attune.model.SourceProvider;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.Optional;

/**
 * Source provider {@value #NAME}: any existing folder is read as a HuggingFace model folder
 * ({@link HuggingFaceFolderSource}). It ranks after the providers of specific layouts (a TF Hub
 * SavedModel, an ONNX export), so it takes the folders they leave, and a folder that lacks
 * config.json fails when opened with a message saying what a HuggingFace folder needs.
 */
@API(status = API.Status.INTERNAL, since = "0.1")
public final class HfFolderSourceProvider implements SourceProvider {
    /** The provider's name. */
    public static final String NAME = "hf-folder";

    /** Creates the provider (found with {@link java.util.ServiceLoader}). */
    public HfFolderSourceProvider() {}

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public int rank() {
        return 100;
    }

    @Override
    public Optional<ModelSource> recognize(String location, Context context) {
        Path path;
        try {
            path = Path.of(location);
        } catch (InvalidPathException e) {
            return Optional.empty();
        }
        return Files.isDirectory(path) ? Optional.of(HfSources.folder(path)) : Optional.empty();
    }
}
