package dev.attune.internal.hf;

import dev.attune.model.ModelSource;
import dev.attune.model.PretrainedModel;
import java.nio.file.Path;
import java.util.Map;

/** Reads a HuggingFace model folder. */
public final class HuggingFaceFolderSource implements ModelSource {
    private final Path directory;

    /** @param directory the folder */
    public HuggingFaceFolderSource(Path directory) {
        this.directory = directory;
    }

    @Override
    public PretrainedModel open(Map<String, String> configOverrides) {
        throw new UnsupportedOperationException("being written");
    }

    @Override
    public String describe() {
        return directory.toString();
    }
}
