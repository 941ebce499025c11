package dev.attune.formats.tfhub;

import org.apiguardian.api.API;

import dev.attune.model.ModelSource;
import dev.attune.model.SourceProvider;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.Optional;

/**
 * Source provider {@value #NAME}: a folder holding {@code saved_model.pb} and a {@code variables/}
 * folder is read as a TF Hub BERT encoder SavedModel ({@link TfHubSource}), so {@code
 * attune.load(folder)} and {@code attune fine-tune --model FOLDER} take TF Hub downloads as they are.
 */
@API(status = API.Status.INTERNAL, since = "0.1")
public final class TfHubSourceProvider implements SourceProvider {
    /** The provider's name. */
    public static final String NAME = "tfhub";

    /** Creates the provider (found with {@link java.util.ServiceLoader}). */
    public TfHubSourceProvider() {}

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public int rank() {
        return 50;
    }

    @Override
    public Optional<ModelSource> recognize(String location, Context context) {
        Path folder;
        try {
            folder = Path.of(location);
        } catch (InvalidPathException e) {
            return Optional.empty();
        }
        boolean savedModel = Files.isRegularFile(folder.resolve("saved_model.pb"))
                && Files.isDirectory(folder.resolve("variables"));
        return savedModel ? Optional.of(new TfHubSource(folder)) : Optional.empty();
    }
}
