package dev.attune.core.generate;

import org.apiguardian.api.API;

import dev.attune.model.TextTokenizer;
import java.util.List;

/**
 * Stop strings for {@link Generator} (HuggingFace's {@code stop_strings}, the {@code stop} of chat
 * APIs): generation ends as soon as the decoded new text contains one of them, wherever token
 * boundaries fall, and {@link #cut} drops the text from the first one on. A chatbot prompted with
 * {@code "USER: ...\nSYSTEM:"} stops at {@code "\n"} to get one reply instead of a made-up
 * continuation of the dialogue. Immutable.
 */
@API(status = API.Status.EXPERIMENTAL, since = "0.1")
public final class StopStrings implements Generator.StoppingCriterion {
    private final TextTokenizer tokenizer;
    private final List<String> stops;

    /**
     * @param tokenizer decodes the new tokens (special tokens skipped)
     * @param stops the stop strings; none stops nothing
     * @throws IllegalArgumentException when one is null or empty (it would stop at once)
     */
    public StopStrings(TextTokenizer tokenizer, List<String> stops) {
        for (String s : stops) {
            if (s == null || s.isEmpty()) {
                throw new IllegalArgumentException("a stop string must not be empty; give the text to stop at");
            }
        }
        this.tokenizer = tokenizer;
        this.stops = List.copyOf(stops);
    }

    @Override
    public boolean shouldStop(long[] newTokens) {
        return !stops.isEmpty() && first(tokenizer.decode(newTokens, true), 0) >= 0;
    }

    /**
     * @param text generated text
     * @param from where to start looking (the prompt's length when {@code text} starts with it, so
     *     that a stop string in the prompt does not count)
     * @return {@code text} up to the first stop string at or after {@code from}, or all of it
     */
    public String cut(String text, int from) {
        int at = first(text, from);
        return at < 0 ? text : text.substring(0, at);
    }

    private int first(String text, int from) {
        int best = -1;
        for (String s : stops) {
            int at = text.indexOf(s, from);
            if (at >= 0 && (best < 0 || at < best)) {
                best = at;
            }
        }
        return best;
    }
}
