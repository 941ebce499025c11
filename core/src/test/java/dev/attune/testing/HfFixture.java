package dev.attune.testing;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.attune.model.HeadSpec.HeadKind;
import dev.attune.model.HeadSpec;
import dev.attune.model.ModelFamily;
import dev.attune.models.Bert;
import dev.attune.models.DistilBert;
import dev.attune.models.Gpt2;
import dev.attune.models.Roberta;
import dev.attune.models.T5;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/**
 * A HuggingFace reference checkpoint of {@code ../shared/fixtures/hf/<name>} (tiny, random weights,
 * real file layout) with the family and head that build it and the outputs its {@code
 * reference.json} holds. {@link #ALL} lists every encoder and encoder-decoder fixture of the
 * families Attune has; {@link #supported()} tells whether the family builds the fixture's head yet,
 * so a fixture joins the fidelity suite on every engine the day its head is written.
 *
 * @param name the folder name
 * @param family the family that reads its config
 * @param head the head of the checkpoint
 * @param outputs the outputs compared with HuggingFace's
 */
public record HfFixture(String name, ModelFamily family, HeadSpec head, List<String> outputs) {
    private static final ObjectMapper JSON = new ObjectMapper();

    /**
     * Every fixture of the families Attune has, supported head or not (decoder LLMs and PEFT
     * adapters belong to their own suites).
     */
    public static final List<HfFixture> ALL = List.of(
            of("bert-seqcls", new Bert(), HeadKind.SEQUENCE_CLASSIFICATION, 2, "logits"),
            of("bert-tokcls", new Bert(), HeadKind.TOKEN_CLASSIFICATION, 5, "logits"),
            of("bert-qa", new Bert(), HeadKind.QUESTION_ANSWERING, 0, "start_logits", "end_logits"),
            of("bert-mlm", new Bert(), HeadKind.MASKED_LM, 0, "logits"),
            of("distilbert-seqcls", new DistilBert(), HeadKind.SEQUENCE_CLASSIFICATION, 2, "logits"),
            of("distilbert-tokcls", new DistilBert(), HeadKind.TOKEN_CLASSIFICATION, 5, "logits"),
            of("distilbert-qa", new DistilBert(), HeadKind.QUESTION_ANSWERING, 0, "start_logits", "end_logits"),
            of("roberta-seqcls", new Roberta(), HeadKind.SEQUENCE_CLASSIFICATION, 2, "logits"),
            of("roberta-tokcls", new Roberta(), HeadKind.TOKEN_CLASSIFICATION, 5, "logits"),
            of("roberta-qa", new Roberta(), HeadKind.QUESTION_ANSWERING, 0, "start_logits", "end_logits"),
            of("roberta-mlm", new Roberta(), HeadKind.MASKED_LM, 0, "logits"),
            of("gpt2-seqcls", new Gpt2(), HeadKind.SEQUENCE_CLASSIFICATION, 2, "logits"),
            of("gpt2-tokcls", new Gpt2(), HeadKind.TOKEN_CLASSIFICATION, 5, "logits"),
            of("gpt2-lm", new Gpt2(), HeadKind.CAUSAL_LM, 0, "logits"),
            of("t5-seq2seq", new T5(), HeadKind.SEQ2SEQ_LM, 0, "logits"));

    private static HfFixture of(String name, ModelFamily family, HeadKind head, int labels, String... outputs) {
        return new HfFixture(name, family, new HeadSpec(head, labels), List.of(outputs));
    }

    /**
     * @param name a fixture name of {@link #ALL}
     * @return that fixture
     */
    public static HfFixture named(String name) {
        return ALL.stream().filter(f -> f.name.equals(name)).findFirst()
                .orElseThrow(() -> new IllegalArgumentException("no fixture " + name));
    }

    /** @return whether the family builds this head */
    public boolean supported() {
        return family.supportedHeads().contains(head.kind());
    }

    /** @return why the fixture does not run yet, for a skipped test's report */
    public String unsupportedReason() {
        return family.modelType() + " has no " + head.kind().name().toLowerCase(Locale.ROOT)
                + " head yet; " + name + " runs on every engine once " + family.getClass().getSimpleName()
                + " builds it";
    }

    /** @return whether this is an encoder-decoder fixture (inputs and targets) */
    public boolean isSeq2Seq() {
        return head.kind() == HeadKind.SEQ2SEQ_LM;
    }

    /** @return the folder, which exists */
    public Path path() {
        return SharedFiles.path("fixtures/hf/" + name);
    }

    /** @return the parsed reference.json */
    public JsonNode reference() {
        try {
            return JSON.readTree(path().resolve("reference.json").toFile());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Override
    public String toString() {
        return name;
    }
}
