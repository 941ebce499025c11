package dev.attune.engine.onnx;

import dev.attune.error.InvalidCheckpointException;
import dev.attune.model.WeightStore;
import dev.attune.ops.TensorData;
import java.util.Collections;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * The weights of an encoder-decoder export ({@value OnnxExporter#ENCODER_FILE} and {@value
 * OnnxExporter#DECODER_FILE}, as Optimum writes them): the initializers of both graphs by their
 * HuggingFace names, the encoder's first where both hold one (the shared token table).
 */
final class OnnxSeq2SeqWeights implements WeightStore {
    private final List<OnnxWeights> files;
    private final String origin;

    /** @param files the graphs' weights, encoder first */
    OnnxSeq2SeqWeights(List<OnnxWeights> files, String origin) {
        this.files = List.copyOf(files);
        this.origin = origin;
    }

    private OnnxWeights holder(String name) {
        for (OnnxWeights f : files) {
            if (f.names().contains(name)) {
                return f;
            }
        }
        throw new InvalidCheckpointException(origin + ": no weight named '" + name + "' in its encoder or decoder graph");
    }

    @Override
    public Set<String> names() {
        Set<String> all = new LinkedHashSet<>();
        files.forEach(f -> all.addAll(f.names()));
        return Collections.unmodifiableSet(all);
    }

    @Override
    public TensorInfo info(String name) {
        return holder(name).info(name);
    }

    @Override
    public TensorData read(String name) {
        return holder(name).read(name);
    }

    @Override
    public String origin() {
        return origin;
    }

    @Override
    public void close() {
        files.forEach(OnnxWeights::close);
    }
}
