package dev.attune.testing;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.attune.model.HeadSpec.HeadKind;
import dev.attune.model.HeadSpec;
import dev.attune.model.ModelFamily;
import dev.attune.models.Bert;
import dev.attune.models.DistilBert;
import dev.attune.models.Gpt2;
import dev.attune.models.Llama;
import dev.attune.models.Roberta;
import dev.attune.models.T5;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.List;

/**
 * A HuggingFace reference checkpoint of {@code ../shared/fixtures/hf/<name>} (tiny, random weights,
 * real file layout) with the family and head that build it and the outputs its {@code
 * reference.json} holds. {@link #ALL} lists every encoder and encoder-decoder fixture of the
 * families Attune has, each declaring whether its family builds the head yet ({@link #headBuilt}).
 *
 * <p>The declaration is written here rather than read from {@link ModelFamily#supportedHeads()}, so
 * that nothing moves silently: a fixture declared not built must be refused by its family
 * ({@code HfFixtureTest}), and the day its head is written that test fails until the fixture is
 * flipped to built, which puts it in the family-fidelity suite of every engine.
 *
 * @param name the folder name
 * @param family the family that reads its config
 * @param head the head of the checkpoint
 * @param outputs the outputs compared with HuggingFace's
 * @param headBuilt whether the family builds the head (then every engine checks the fixture's
 *     outputs); false: the family refuses it with an {@link
 *     dev.attune.error.UnsupportedArchitectureException}
 */
public record HfFixture(String name, ModelFamily family, HeadSpec head, List<String> outputs, boolean headBuilt) {
    private static final ObjectMapper JSON = new ObjectMapper();

    /**
     * Every fixture of the families Attune has, head built or not (PEFT adapters belong to their
     * own suites).
     */
    public static final List<HfFixture> ALL = List.of(
            built("bert-seqcls", new Bert(), HeadKind.SEQUENCE_CLASSIFICATION, 2, "logits"),
            built("bert-tokcls", new Bert(), HeadKind.TOKEN_CLASSIFICATION, 5, "logits"),
            built("bert-qa", new Bert(), HeadKind.QUESTION_ANSWERING, 0, "start_logits", "end_logits"),
            built("bert-mlm", new Bert(), HeadKind.MASKED_LM, 0, "logits"),
            built("distilbert-seqcls", new DistilBert(), HeadKind.SEQUENCE_CLASSIFICATION, 2, "logits"),
            built("distilbert-tokcls", new DistilBert(), HeadKind.TOKEN_CLASSIFICATION, 5, "logits"),
            built("distilbert-qa", new DistilBert(), HeadKind.QUESTION_ANSWERING, 0, "start_logits", "end_logits"),
            built("roberta-seqcls", new Roberta(), HeadKind.SEQUENCE_CLASSIFICATION, 2, "logits"),
            built("roberta-tokcls", new Roberta(), HeadKind.TOKEN_CLASSIFICATION, 5, "logits"),
            built("roberta-qa", new Roberta(), HeadKind.QUESTION_ANSWERING, 0, "start_logits", "end_logits"),
            built("roberta-mlm", new Roberta(), HeadKind.MASKED_LM, 0, "logits"),
            built("bert-multiple-choice", new Bert(), HeadKind.MULTIPLE_CHOICE, 0, "logits"),
            built("gpt2-seqcls", new Gpt2(), HeadKind.SEQUENCE_CLASSIFICATION, 2, "logits"),
            built("gpt2-tokcls", new Gpt2(), HeadKind.TOKEN_CLASSIFICATION, 5, "logits"),
            built("gpt2-lm", new Gpt2(), HeadKind.CAUSAL_LM, 0, "logits"),
            built("t5-seq2seq", new T5(), HeadKind.SEQ2SEQ_LM, 0, "logits"),
            built("llama-lm", new Llama(), HeadKind.CAUSAL_LM, 0, "logits"),
            built("qwen2-lm", new Llama.Qwen2(), HeadKind.CAUSAL_LM, 0, "logits"),
            built("mistral-lm", new Llama.Mistral(), HeadKind.CAUSAL_LM, 0, "logits"),
            built("llama-seqcls", new Llama(), HeadKind.SEQUENCE_CLASSIFICATION, 3, "logits"));

    private static HfFixture built(String name, ModelFamily family, HeadKind head, int labels, String... outputs) {
        return new HfFixture(name, family, new HeadSpec(head, labels), List.of(outputs), true);
    }

    private static HfFixture notBuiltYet(String name, ModelFamily family, HeadKind head, int labels,
            String... outputs) {
        return new HfFixture(name, family, new HeadSpec(head, labels), List.of(outputs), false);
    }

    /**
     * @param name a fixture name of {@link #ALL}
     * @return that fixture
     */
    public static HfFixture named(String name) {
        return ALL.stream().filter(f -> f.name.equals(name)).findFirst()
                .orElseThrow(() -> new IllegalArgumentException("no fixture " + name));
    }

    /** @return whether this is an encoder-decoder fixture (inputs and targets) */
    public boolean isSeq2Seq() {
        return head.kind() == HeadKind.SEQ2SEQ_LM;
    }

    /**
     * @return whether this is a multiple-choice fixture: each case a context and its endings, the
     *     padded {@code [choices, tokens]} inputs of the (context, ending) pairs, one logit per ending
     */
    public boolean isMultipleChoice() {
        return head.kind() == HeadKind.MULTIPLE_CHOICE;
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
