package dev.attune.tasks.qa;

import static org.assertj.core.api.Assertions.assertThat;

import dev.attune.formats.hf.HfTokenizer;
import dev.attune.task.Dataset;
import dev.attune.task.Features;
import dev.attune.task.Task;
import dev.attune.task.TaskOptions;
import dev.attune.tasks.testing.SharedData;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Windows of the real SQuAD split with the real bert-mini WordPiece tokenizer. The HuggingFace
 * reference reports 8761 features for these 8582 questions; that count comes from tokenizers
 * 0.23.2, whose overflow with {@code truncation="only_second"} gives at most two windows per
 * question and ends the second at context token 384 (checked in Python: counting 1 window when the
 * context fits and 2 otherwise reproduces 8761), so the tails of 31 questions' contexts are never
 * seen. Attune covers every context to its end, which gives 31 more windows.
 */
class SquadRealTokenizerTest {
    @Test
    void firstThirtyEightArticlesCoverEveryContextToItsEnd() throws Exception {
        Path squad = SharedData.data("squad/dev-v1.1.json");
        Path model = squad.getParent().getParent().getParent().resolve("models/bert-mini-uncased-mlm");
        Task t = new QuestionAnsweringTask(new TaskOptions(Map.of("article_end", "38")));
        Dataset train = t.read(squad);
        int features = 0;
        int answered = 0;
        try (HfTokenizer tk = HfTokenizer.load(model)) {
            for (int i = 0; i < train.size(); i++) {
                for (Features f : t.encode(train.examples().get(i), i, tk, 384)) {
                    features++;
                    if (f.fields().get("start_positions")[0] > 0) {
                        answered++;
                    }
                }
            }
        }
        assertThat(features).isEqualTo(8761 + 31);
        assertThat(answered).isGreaterThanOrEqualTo(train.size());
    }
}
