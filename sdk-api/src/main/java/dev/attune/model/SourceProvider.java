package dev.attune.model;

import java.nio.file.Path;
import java.util.Optional;
import org.apiguardian.api.API;

/**
 * SPI of a checkpoint format, found with {@link java.util.ServiceLoader} (list the class in {@code
 * META-INF/services/dev.attune.model.SourceProvider}) like engines: it recognises a location as a
 * user types it ({@code attune.load(location)}, {@code attune fine-tune --model LOCATION}) and
 * returns the {@link ModelSource} that reads it. The runtime asks the providers in {@link #rank()}
 * order (lowest first) and takes the first answer, logging which provider took the location.
 *
 * <p>Before asking, the runtime expands a leading {@code ~} to the user's home, and refuses a
 * location that looks like a local path (it starts with {@code /}, {@code ./}, {@code ../} or
 * {@code ~}, holds a backslash, ends in a file extension, or its first folder exists) when nothing
 * exists there, so a mistyped folder is an error naming it rather than a request to a model hub.
 */
@API(status = API.Status.EXPERIMENTAL, since = "0.1")
public interface SourceProvider {
    /** @return the provider's name, for logs and messages ({@code hf-folder}, {@code hf-hub}, {@code onnx}) */
    String name();

    /**
     * @return preference when several providers could read a location: the lowest is asked first.
     *     Providers of specific layouts (a SavedModel, an ONNX file) rank before catch-alls (any
     *     folder, any model id).
     */
    int rank();

    /**
     * Recognises a location. Implementations look only at its form and at which files exist; they
     * neither read weights nor contact the network (the returned source does that when opened).
     *
     * @param location the location as typed, with a leading {@code ~} expanded
     * @param context what the runtime lends providers
     * @return the source reading it, or empty when this provider does not read such a location
     */
    Optional<ModelSource> recognize(String location, Context context);

    /** What the runtime lends a provider: readers that live in other modules. */
    @API(status = API.Status.EXPERIMENTAL, since = "0.1")
    interface Context {
        /**
         * Loads the HuggingFace tokenizer of a folder (tokenizer.json, or a BERT vocab.txt), for
         * formats that keep one beside their own files (an exported ONNX folder).
         *
         * @param folder the folder
         * @return the tokenizer; the caller closes it
         * @throws dev.attune.error.InvalidCheckpointException when the folder has no readable tokenizer
         */
        TextTokenizer tokenizer(Path folder);
    }
}
