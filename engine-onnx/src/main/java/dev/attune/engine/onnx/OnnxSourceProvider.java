package dev.attune.engine.onnx;

import dev.attune.error.InvalidCheckpointException;
import dev.attune.model.ModelConfig;
import dev.attune.model.ModelSource;
import dev.attune.model.PretrainedModel;
import dev.attune.model.SourceProvider;
import dev.attune.model.TextTokenizer;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * Source provider {@value #NAME}: an {@code .onnx} file, or a folder holding {@value
 * OnnxExporter#MODEL_FILE} and no HuggingFace weights (what {@code attune export --format onnx}
 * writes), opened as a checkpoint: its config from the file's metadata (or config.json beside it),
 * its tokenizer from the folder, its weights from the initializers. Its sources prefer the {@code
 * onnx} engine, which serves the file's own graph ({@link OnnxModels} explains the two parts).
 *
 * <p>An encoder-decoder export (a folder with {@value OnnxExporter#ENCODER_FILE} and {@value
 * OnnxExporter#DECODER_FILE}, as {@code attune export} and Optimum write T5) opens with the weights of
 * both graphs and config.json; the {@code onnx} engine runs it as encoder and decoder graphs again.
 */
public final class OnnxSourceProvider implements SourceProvider {
    /** The provider's name. */
    public static final String NAME = "onnx";

    /** Creates the provider (found with {@link java.util.ServiceLoader}). */
    public OnnxSourceProvider() {}

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
        Path path;
        try {
            path = Path.of(location);
        } catch (InvalidPathException e) {
            return Optional.empty();
        }
        if (Files.isRegularFile(path) && path.getFileName().toString().toLowerCase(Locale.ROOT).endsWith(".onnx")) {
            return Optional.of(new Source(path, context));
        }
        if (Files.isDirectory(path) && Files.isRegularFile(path.resolve(OnnxExporter.MODEL_FILE))
                && !hasHuggingFaceWeights(path)) {
            return Optional.of(new Source(path.resolve(OnnxExporter.MODEL_FILE), context));
        }
        if (Files.isDirectory(path) && Files.isRegularFile(path.resolve(OnnxExporter.ENCODER_FILE))
                && Files.isRegularFile(path.resolve(OnnxExporter.DECODER_FILE)) && !hasHuggingFaceWeights(path)) {
            return Optional.of(new Seq2SeqSource(path, context));
        }
        return Optional.empty();
    }

    /** An encoder-decoder export folder as a checkpoint: config.json (or the decoder's metadata), both graphs' weights. */
    private static final class Seq2SeqSource implements ModelSource {
        private final Path folder;
        private final Context context;

        Seq2SeqSource(Path folder, Context context) {
            this.folder = folder;
            this.context = context;
        }

        @Override
        public PretrainedModel open(Map<String, String> configOverrides) {
            Path decoder = folder.resolve(OnnxExporter.DECODER_FILE);
            ModelConfig config = OnnxModels.config(decoder)
                    .withOverrides(configOverrides == null ? Map.of() : configOverrides);
            TextTokenizer tokenizer = context.tokenizer(folder.toAbsolutePath());
            OnnxSeq2SeqWeights weights = new OnnxSeq2SeqWeights(List.of(
                    new OnnxWeights(folder.resolve(OnnxExporter.ENCODER_FILE)), new OnnxWeights(decoder)),
                    folder.toString());
            return new PretrainedModel(config, weights, tokenizer, folder.toString());
        }

        @Override
        public String describe() {
            return folder + " (ONNX encoder and decoder)";
        }

        @Override
        public Optional<String> preferredEngine() {
            return Optional.of(NAME);
        }
    }

    /** A HuggingFace folder that also carries an ONNX file is read as a HuggingFace folder. */
    private static boolean hasHuggingFaceWeights(Path folder) {
        return Files.exists(folder.resolve("model.safetensors")) || Files.exists(folder.resolve("model.safetensors.index.json"))
                || Files.exists(folder.resolve("pytorch_model.bin"));
    }

    /** An ONNX file as a checkpoint. */
    private static final class Source implements ModelSource {
        private final Path file;
        private final Context context;

        Source(Path file, Context context) {
            this.file = file;
            this.context = context;
        }

        @Override
        public PretrainedModel open(Map<String, String> configOverrides) {
            if (!Files.isRegularFile(file)) {
                throw new InvalidCheckpointException(file + ": no such ONNX file; pass an .onnx file or a folder written"
                        + " by `attune export --format onnx`");
            }
            ModelConfig config = OnnxModels.config(file).withOverrides(configOverrides == null ? Map.of() : configOverrides);
            TextTokenizer tokenizer = context.tokenizer(file.toAbsolutePath().getParent());
            return new PretrainedModel(config, new OnnxWeights(file), tokenizer, file.toString());
        }

        @Override
        public String describe() {
            return file + " (ONNX)";
        }

        @Override
        public Optional<String> preferredEngine() {
            return Optional.of(NAME);
        }
    }
}
