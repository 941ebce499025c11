package dev.attune.cli;

import dev.attune.Attune;
import dev.attune.engine.LoweredModel;
import dev.attune.generate.GenerationConfig.BeamSearchConfig;
import dev.attune.generate.GenerationConfig;
import dev.attune.core.generate.Seq2SeqGenerator;
import dev.attune.model.HeadSpec.HeadKind;
import dev.attune.model.HeadSpec;
import dev.attune.model.PretrainedModel;
import java.io.PrintWriter;
import java.util.Arrays;
import java.util.stream.Collectors;

/**
 * The encoder-decoder side of {@code attune generate} (T5): encodes the prompt (task prefix
 * included, for example {@code "translate English to German: ..."}) and prints the decoder's output,
 * generated greedily, by sampling or by beam search.
 */
final class Seq2SeqGenerate {
    private Seq2SeqGenerate() {}

    /** @return whether the checkpoint is an encoder-decoder model ({@code is_encoder_decoder}) */
    static boolean applies(PretrainedModel base) {
        return base.config().getBoolean("is_encoder_decoder", false);
    }

    /**
     * @param beams beam settings, or null for greedy/sampling per {@code config}
     * @return the decoder ids printed
     */
    static long[] run(Attune attune, PretrainedModel base, String prompt, GenerationConfig config,
            BeamSearchConfig beams, boolean printIds, PrintWriter out) {
        try (LoweredModel model = attune.lower(base, new HeadSpec(HeadKind.SEQ2SEQ_LM, 0))) {
            long[] source = base.tokenizer().encode(prompt, null, base.config().getInt("n_positions", 512)).ids();
            Seq2SeqGenerator generator = new Seq2SeqGenerator(model);
            long[] ids = beams == null || beams.numBeams() == 1
                    ? generator.generate(source, config)
                    : generator.beamSearch(source, config, beams);
            out.println(base.tokenizer().decode(ids, true));
            if (printIds) {
                out.println(Arrays.stream(ids).mapToObj(Long::toString).collect(Collectors.joining(", ", "[", "]")));
            }
            out.flush();
            return ids;
        }
    }
}
