package dev.attune.core.train;

import org.apiguardian.api.API;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Sorts a model's parameters into layer groups from the bottom up, by their HuggingFace names: group
 * 0 holds the embeddings, groups 1..L the transformer layers ({@code encoder.layer.N},
 * {@code transformer.layer.N}, {@code h.N}, ...), and group L+1 everything above (pooler, final
 * norm, task head). Freezing, layer-wise learning-rate decay and gradual unfreezing all work on these
 * groups, so they apply to every family whose parameters follow HuggingFace's naming.
 */
@API(status = API.Status.INTERNAL, since = "0.1")
public final class LayerGroups {
    private static final Pattern LAYER = Pattern.compile("(?:^|\\.)(?:layer|layers|h|block|blocks)\\.(\\d+)\\.");
    private static final Pattern EMBEDDING = Pattern.compile("(?:^|\\.)(?:embeddings|wte|wpe|embed_tokens|embed_positions)\\.");

    private final Map<String, Integer> groupOf = new LinkedHashMap<>();
    private final Set<String> body = new LinkedHashSet<>();
    private final int groups;

    /** @param names every parameter name of the model */
    public LayerGroups(List<String> names) {
        int maxLayer = -1;
        String bodyPrefix = null;
        Map<String, Integer> layerOf = new LinkedHashMap<>();
        for (String n : names) {
            Matcher m = LAYER.matcher(n);
            if (m.find()) {
                int layer = Integer.parseInt(m.group(1));
                layerOf.put(n, layer);
                maxLayer = Math.max(maxLayer, layer);
            }
            if (bodyPrefix == null && EMBEDDING.matcher(n).find() && n.indexOf('.') > 0) {
                bodyPrefix = n.substring(0, n.indexOf('.') + 1);
            }
        }
        groups = maxLayer + 3;
        for (String n : names) {
            int g;
            if (layerOf.containsKey(n)) {
                g = layerOf.get(n) + 1;
            } else if (EMBEDDING.matcher(n).find()) {
                g = 0;
            } else {
                g = groups - 1;
            }
            groupOf.put(n, g);
            if (g < groups - 1 || (bodyPrefix != null && n.startsWith(bodyPrefix))) {
                body.add(n);
            }
        }
    }

    /** @return number of groups: embeddings, each layer, and the top */
    public int count() {
        return groups;
    }

    /**
     * @param name a parameter name
     * @return its group, 0 (embeddings) to {@code count() - 1} (head)
     */
    public int group(String name) {
        Integer g = groupOf.get(name);
        if (g == null) {
            throw new IllegalArgumentException("unknown parameter " + name);
        }
        return g;
    }

    /**
     * @param below groups {@code 0..below-1} are returned
     * @return names of parameters in the lowest groups
     */
    public Set<String> lowest(int below) {
        Set<String> out = new LinkedHashSet<>();
        groupOf.forEach((n, g) -> {
            if (g < below) {
                out.add(n);
            }
        });
        return out;
    }

    /** @return parameters of the pretrained body (everything but the task head) */
    public Set<String> body() {
        return body;
    }

    /**
     * Layer-wise learning-rate decay: the top group at 1, each group below at {@code decay} times the
     * one above.
     *
     * @param decay factor per group, in (0, 1]
     * @return learning-rate factors by parameter name
     */
    public Map<String, Double> decayedScales(double decay) {
        Map<String, Double> out = new LinkedHashMap<>();
        groupOf.forEach((n, g) -> out.put(n, Math.pow(decay, groups - 1 - g)));
        return out;
    }

    /** @return group index of each parameter, in declaration order */
    public List<Integer> groups() {
        return new ArrayList<>(groupOf.values());
    }
}
