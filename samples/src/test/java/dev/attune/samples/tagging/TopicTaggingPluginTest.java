package dev.attune.samples.tagging;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.attune.PluginRegistry;
import dev.attune.cli.AttuneCli;
import dev.attune.testing.SharedFiles;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The sample task plugin, found only through this module's META-INF/services, trained by the
 * unchanged {@code attune fine-tune} command on generated multi-label data with a tiny BERT.
 */
class TopicTaggingPluginTest {
    /** Words that name each tag (single tokens of the fixture's vocabulary). */
    static final String[][] LEXICON = {
        {"match", "record", "count", "level", "point"},
        {"group", "module", "version", "process", "system"},
        {"python", "function", "string", "class", "method"}};
    static final String[] TAGS = {"sports", "politics", "tech"};
    static final String[] FILLER = {"the", "with", "from", "this", "that", "also", "when", "which"};

    @TempDir
    Path tmp;

    static String run(String... args) {
        PrintStream old = System.out;
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        System.setOut(new PrintStream(buf, true, StandardCharsets.UTF_8));
        int code;
        try {
            code = AttuneCli.execute(args);
        } finally {
            System.setOut(old);
        }
        assertThat(code).as("exit code of attune " + String.join(" ", args)).isZero();
        return buf.toString(StandardCharsets.UTF_8);
    }

    /** Texts of filler words and words of one or two topics, tagged with those topics. */
    static String data(Random r, int rows) {
        StringBuilder b = new StringBuilder("id\ttext\ttopics\n");
        for (int i = 0; i < rows; i++) {
            List<Integer> topics = new ArrayList<>(List.of(r.nextInt(3)));
            if (r.nextBoolean()) {
                int second = r.nextInt(3);
                if (second != topics.get(0)) {
                    topics.add(second);
                }
            }
            List<String> words = new ArrayList<>();
            for (int w = 0; w < 6; w++) {
                words.add(FILLER[r.nextInt(FILLER.length)]);
            }
            for (int t : topics) {
                for (int k = 0; k < 2; k++) {
                    words.add(r.nextInt(words.size() + 1), LEXICON[t][r.nextInt(LEXICON[t].length)]);
                }
            }
            List<String> tags = new ArrayList<>();
            for (int t : topics) {
                tags.add(TAGS[t]);
            }
            b.append(i).append('\t').append(String.join(" ", words)).append('\t').append(String.join("|", tags))
                    .append('\n');
        }
        return b.toString();
    }

    @Test
    void isDiscoveredThroughServiceLoader() {
        assertThat(PluginRegistry.discover().tasks()).containsKey(TopicTaggingTask.NAME);
    }

    @Test
    void trainsThroughTheUnchangedFineTuneCommandAndLearns() throws Exception {
        Random r = new Random(11);
        Path train = Files.writeString(tmp.resolve("train.tsv"), data(r, 192));
        Path eval = Files.writeString(tmp.resolve("eval.tsv"), data(r, 64));
        Path out = tmp.resolve("tagger");
        run("fine-tune", "--task", "topic-tagging", "--model", SharedFiles.path("fixtures/hf/bert-mlm").toString(),
                "--train", train.toString(), "--eval", eval.toString(), "--label-column", "topics",
                "--epochs", "6", "--batch-size", "16", "--learning-rate", "5e-3", "--max-length", "24",
                "--output", out.toString(), "--no-progress", "--device", "cpu",
                "--set", "hidden_dropout_prob=0", "--set", "attention_probs_dropout_prob=0");
        JsonNode metrics = new ObjectMapper().readTree(out.resolve("metrics.json").toFile());
        assertThat(metrics.get("labels")).hasSize(3);
        JsonNode history = metrics.get("eval_history");
        double firstF1 = history.get(0).get("eval_micro_f1").asDouble();
        double lastF1 = metrics.get("eval_micro_f1").asDouble();
        assertThat(lastF1).isGreaterThanOrEqualTo(0.8).isGreaterThan(firstF1);
        assertThat(metrics.get("eval_exact_match").asDouble()).isGreaterThanOrEqualTo(0.5);

        JsonNode p = new ObjectMapper().readTree(run("predict", "--model", out.toString(), "--text",
                "the python function with this string class"));
        assertThat(p.get("tags")).extracting(JsonNode::asText).contains("tech");
        assertThat(p.get("probabilities").get("tech").asDouble()).isGreaterThan(0.5);
    }
}
