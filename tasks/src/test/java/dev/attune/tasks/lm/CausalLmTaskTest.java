package dev.attune.tasks.lm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import dev.attune.error.ConfigurationException;
import dev.attune.error.InvalidDataException;
import dev.attune.formats.hf.HfTokenizer;
import dev.attune.model.HeadSpec.HeadKind;
import dev.attune.task.Dataset;
import dev.attune.task.Evaluator;
import dev.attune.task.Features;
import dev.attune.task.TaskOptions;
import dev.attune.tasks.testing.SharedData;
import dev.attune.testing.SharedFiles;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The causal-LM task's reading, template, label masking and perplexity, with the real GPT tokenizer. */
class CausalLmTaskTest {
    static HfTokenizer gpt;

    @TempDir
    Path tmp;

    @BeforeAll
    static void load() {
        gpt = HfTokenizer.load(SharedFiles.path("models/gpt-small-bpe-clm"));
    }

    @AfterAll
    static void close() {
        gpt.close();
    }

    static CausalLmTask task(String... kv) {
        Map<String, String> m = new java.util.LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) {
            m.put(kv[i], kv[i + 1]);
        }
        return new CausalLmTask(new TaskOptions(m));
    }

    static final String DIALOGUE = "{\"turns\": [{\"speaker\": \"USER\", \"text\": \"Find me a table in Oakland.\"},"
            + " {\"speaker\": \"SYSTEM\", \"text\": \"What time would you like?\"},"
            + " {\"speaker\": \"USER\", \"text\": \"7 pm, please.\"},"
            + " {\"speaker\": \"SYSTEM\", \"text\": \"Booked: Nido at 7 pm.\"}]}";

    Path write(String name, String content) throws Exception {
        return Files.writeString(tmp.resolve(name), content);
    }

    @Test
    void rendersSpeakerLinesThenEndOfText() throws Exception {
        Dataset d = task().read(write("d.jsonl", DIALOGUE + "\n\n" + DIALOGUE + "\n"));
        assertThat(d.size()).isEqualTo(2);
        LmExample e = (LmExample) d.examples().get(0);
        assertThat(e.text()).isEqualTo("USER: Find me a table in Oakland.\nSYSTEM: What time would you like?\n"
                + "USER: 7 pm, please.\nSYSTEM: Booked: Nido at 7 pm.\n<|endoftext|>");
        assertThat(e.responses()).extracting(s -> e.text().substring(s.start(), s.end()))
                .containsExactly(" What time would you like?\n", " Booked: Nido at 7 pm.\n");
        assertThat(e.location()).endsWith("d.jsonl:1");
        assertThat(d.examples().get(1).location()).endsWith("d.jsonl:3");
        assertThat(task().head().kind()).isEqualTo(HeadKind.CAUSAL_LM);
    }

    @Test
    void lossOnResponsesMasksEverythingElseWithMinus100() throws Exception {
        LmExample e = (LmExample) task().read(write("d.jsonl", DIALOGUE)).examples().get(0);
        Features f = task().encode(e, 0, gpt, 256).get(0);
        long[] ids = f.fields().get("input_ids");
        long[] next = f.fields().get("next_ids");
        long[] labels = f.fields().get("labels");
        assertThat(gpt.decode(ids, false)).isEqualTo(e.text());
        List<Long> learned = new ArrayList<>();
        for (int i = 0; i < ids.length; i++) {
            if (i + 1 < ids.length) {
                assertThat(next[i]).isEqualTo(ids[i + 1]);
            }
            if (labels[i] != -100) {
                assertThat(labels[i]).isEqualTo(next[i]);
                learned.add(labels[i]);
            }
        }
        assertThat(labels[ids.length - 1]).isEqualTo(-100);
        // exactly the two replies (with their newlines) are learned, nothing of the user or the speaker names
        assertThat(gpt.decode(learned.stream().mapToLong(Long::longValue).toArray(), false))
                .isEqualTo(" What time would you like?\n Booked: Nido at 7 pm.\n");
        boolean[] response = (boolean[]) f.context();
        for (int i = 0; i + 1 < ids.length; i++) {
            assertThat(labels[i] != -100).as("position %d", i).isEqualTo(response[i + 1]);
        }
    }

    @Test
    void lossOnAllLearnsEveryNextToken() throws Exception {
        LmExample e = (LmExample) task("loss_on", "all").read(write("d.jsonl", DIALOGUE)).examples().get(0);
        Features f = task("loss_on", "all").encode(e, 0, gpt, 256).get(0);
        long[] labels = f.fields().get("labels");
        long[] next = f.fields().get("next_ids");
        assertThat(Arrays.copyOf(labels, labels.length - 1)).isEqualTo(Arrays.copyOf(next, next.length - 1));
        assertThat(labels[labels.length - 1]).isEqualTo(-100);
        assertThat(gpt.tokenToId("<|endoftext|>")).isEqualTo(f.fields().get("input_ids")[labels.length - 1]);
    }

    @Test
    void truncatesToTheMaximumLength() throws Exception {
        LmExample e = (LmExample) task().read(write("d.jsonl", DIALOGUE)).examples().get(0);
        Features f = task().encode(e, 0, gpt, 12).get(0);
        assertThat(f.fields().get("input_ids")).hasSize(12);
        assertThat(f.fields().get("labels")).hasSize(12);
    }

    @Test
    void malformedDialoguesNameTheLine() throws Exception {
        Path bad = write("bad.jsonl", DIALOGUE + "\n{\"turns\": [{\"speaker\": \"USER\"}]}\n");
        assertThatThrownBy(() -> task().read(bad)).isInstanceOf(InvalidDataException.class)
                .hasMessageContaining("bad.jsonl:2").hasMessageContaining("turn 1").hasMessageContaining("'text'");
        Path notJson = write("nj.jsonl", DIALOGUE + "\n" + DIALOGUE + "\n{\"turns\": [\n");
        assertThatThrownBy(() -> task().read(notJson)).isInstanceOf(InvalidDataException.class)
                .hasMessageContaining("nj.jsonl:3");
        Path notArray = write("na.jsonl", "{\"turns\": \"USER: hi\"}\n");
        assertThatThrownBy(() -> task().read(notArray)).isInstanceOf(InvalidDataException.class)
                .hasMessageContaining("na.jsonl:1").hasMessageContaining("not a JSON array");
        Path empty = write("e.jsonl", "{\"turns\": []}\n");
        assertThatThrownBy(() -> task().read(empty)).hasMessageContaining("e.jsonl:1").hasMessageContaining("no turns");
        Path noTurns = write("nt.jsonl", "{\"text\": \"hello\"}\n");
        assertThatThrownBy(() -> task().read(noTurns)).isInstanceOf(InvalidDataException.class)
                .hasMessageContaining("turns");
        Path number = write("num.jsonl", "{\"turns\": [{\"speaker\": \"USER\", \"text\": 5}]}\n");
        assertThatThrownBy(() -> task().read(number)).hasMessageContaining("num.jsonl:1").hasMessageContaining("not a string");
        // skipping bad rows keeps the good ones
        assertThat(task("on_bad_row", "skip").read(bad).size()).isEqualTo(1);
    }

    @Test
    void dialoguesWithoutTheResponseSpeakerAreRejectedUnderResponseLoss() throws Exception {
        Path file = write("d.jsonl", DIALOGUE);
        Dataset d = task("response_speaker", "AGENT").read(file);
        assertThatThrownBy(() -> task("response_speaker", "AGENT").validate(d))
                .isInstanceOf(InvalidDataException.class).hasMessageContaining("AGENT");
        task().validate(task().read(file));
    }

    @Test
    void plainTextFromTxtAndFromAJsonlColumn() throws Exception {
        Dataset txt = task().read(write("docs.txt", "first document\n\nsecond one\n"));
        assertThat(txt.examples()).extracting(e -> ((LmExample) e).text())
                .containsExactly("first document<|endoftext|>", "second one<|endoftext|>");
        assertThat(txt.examples().get(1).location()).endsWith("docs.txt:3");
        Dataset jsonl = task("text_column", "body").read(write("docs.jsonl", "{\"body\": \"hello world\"}\n"));
        LmExample e = (LmExample) jsonl.examples().get(0);
        assertThat(e.text()).isEqualTo("hello world<|endoftext|>");
        long[] labels = task("text_column", "body").encode(e, 0, gpt, 64).get(0).fields().get("labels");
        assertThat(Arrays.stream(labels).filter(l -> l == -100).count()).isEqualTo(1); // only the last position
        assertThat(task("limit", "1").read(write("more.txt", "a\nb\nc\n")).size()).isEqualTo(1);
    }

    @Test
    void optionsAreChecked() {
        assertThatThrownBy(() -> task("loss_on", "users")).isInstanceOf(ConfigurationException.class)
                .hasMessageContaining("loss_on");
        assertThatThrownBy(() -> task("input", "chat")).isInstanceOf(ConfigurationException.class);
        assertThatThrownBy(() -> task("label_column", "x")).isInstanceOf(ConfigurationException.class)
                .hasMessageContaining("label_column");
        assertThatThrownBy(() -> task("limit", "0")).isInstanceOf(ConfigurationException.class);
    }

    @Test
    void perplexityOverAllTokensAndOverResponses() {
        Evaluator ev = task().evaluator(null);
        // 4 tokens; predictions of tokens 1..3 with losses 1, 2, 3; tokens 2 and 3 are a response
        Features f = new Features(0, Map.of("input_ids", new long[] {5, 6, 7, 8}),
                new boolean[] {false, false, true, true});
        ev.accept(f, Map.of("token_nll", new float[] {1, 2, 3, 9, 9})); // padded batch: extra positions ignored
        Map<String, Double> m = ev.metrics();
        assertThat(m.get("perplexity")).isCloseTo(Math.exp(2.0), within(1e-9));
        assertThat(m.get("response_perplexity")).isCloseTo(Math.exp(2.5), within(1e-9));
        assertThat(m.get("tokens")).isEqualTo(3.0);
        assertThat(m.get("response_tokens")).isEqualTo(2.0);
    }

    @Test
    void readsTheSharedDialogues() {
        Dataset dev = task().read(SharedData.data("dialogue/dev.jsonl"));
        assertThat(dev.size()).isEqualTo(500);
        LmExample first = (LmExample) dev.examples().get(0);
        assertThat(first.text()).startsWith("USER: ").endsWith("\n<|endoftext|>");
        assertThat(first.responses()).isNotEmpty();
        Features f = task().encode(first, 0, gpt, 256).get(0);
        assertThat(f.length()).isLessThanOrEqualTo(256);
        assertThat(Arrays.stream(f.fields().get("labels")).filter(l -> l != -100).count()).isPositive();
    }
}
