package dev.attune.tasks.ner;

import dev.attune.task.Prediction;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The answer of the token-classification task for one text.
 *
 * @param entities the entities found, in text order
 * @param words the words of the input
 * @param tags the predicted tag of each word ({@code O} for words cut off by the maximum length)
 */
public record TokenClassificationPrediction(List<NamedEntity> entities, List<String> words, List<String> tags)
        implements Prediction {
    /** Copies the lists. */
    public TokenClassificationPrediction {
        entities = List.copyOf(entities);
        words = List.copyOf(words);
        tags = List.copyOf(tags);
    }

    /** @return {@code entities} (each a map, see {@link NamedEntity#toMap}), {@code words} and {@code tags} */
    @Override
    public Map<String, Object> toMap() {
        List<Map<String, Object>> list = new ArrayList<>();
        for (NamedEntity e : entities) {
            list.add(e.toMap());
        }
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("entities", list);
        m.put("words", words);
        m.put("tags", tags);
        return m;
    }
}
