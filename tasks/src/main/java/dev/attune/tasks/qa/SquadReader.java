package dev.attune.tasks.qa;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.attune.error.InvalidDataException;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Reads the official SQuAD v1.1 JSON layout: {@code data[]} articles with a {@code title} and
 * {@code paragraphs[]}, each with a {@code context} and {@code qas[]} of {@code id}, {@code
 * question} and {@code answers[]} ({@code text}, {@code answer_start}).
 */
public final class SquadReader {
    private static final ObjectMapper JSON = new ObjectMapper();

    private SquadReader() {}

    /**
     * @param file the JSON file
     * @param articleStart index of the first article to read (from 0)
     * @param articleEnd index after the last article to read, or -1 for all remaining
     * @return one example per question of the selected articles, in file order
     * @throws InvalidDataException when the file is not SQuAD JSON, an answer lies outside its
     *     context, or the article range exceeds the file's articles
     */
    public static List<QaExample> read(Path file, int articleStart, int articleEnd) {
        JsonNode root;
        try {
            root = JSON.readTree(file.toFile());
        } catch (IOException e) {
            throw new InvalidDataException("could not read " + file + " as JSON: " + e.getMessage(), e);
        }
        JsonNode data = root == null ? null : root.get("data");
        if (data == null || !data.isArray()) {
            throw new InvalidDataException(file + ": no 'data' array; question answering reads the SQuAD v1.1 layout"
                    + " {\"data\": [{\"title\": ..., \"paragraphs\": [{\"context\": ..., \"qas\": [...]}]}]}");
        }
        int end = articleEnd < 0 ? data.size() : articleEnd;
        if (articleStart < 0 || articleStart > end || end > data.size()) {
            throw new InvalidDataException(file + " has " + data.size() + " articles; the selection ["
                    + articleStart + ", " + end + ") does not fit; choose article_start and article_end within it");
        }
        List<QaExample> out = new ArrayList<>();
        for (int a = articleStart; a < end; a++) {
            JsonNode article = object(data.get(a), file + ": article " + a);
            String where = file + ": article " + a + " (" + article.path("title").asText("") + ")";
            JsonNode paragraphs = array(article, "paragraphs", where);
            for (int p = 0; p < paragraphs.size(); p++) {
                JsonNode paragraph = object(paragraphs.get(p), where + " paragraph " + p);
                String context = text(paragraph, "context", where + " paragraph " + p);
                JsonNode qas = array(paragraph, "qas", where + " paragraph " + p);
                for (int q = 0; q < qas.size(); q++) {
                    JsonNode qa = object(qas.get(q), where + " paragraph " + p + " question #" + q);
                    String location = where + " paragraph " + p + " question " + qa.path("id").asText("#" + q);
                    List<QaExample.Answer> answers = new ArrayList<>();
                    JsonNode answerList = qa.has("answers") ? array(qa, "answers", location) : qa.path("answers");
                    for (JsonNode ans : answerList) {
                        ans = object(ans, location + " answer");
                        String text = text(ans, "text", location);
                        JsonNode startNode = ans.get("answer_start");
                        if (startNode == null || !startNode.isIntegralNumber() || !startNode.canConvertToInt()) {
                            throw new InvalidDataException(location + ": answer '" + text + "' needs an 'answer_start'"
                                    + " that is a character position (a whole number), found " + startNode);
                        }
                        int start = startNode.intValue();
                        // in long: a start near 2^31 plus the answer's length must not wrap round into range
                        if (start < 0 || (long) start + text.length() > context.length()) {
                            throw new InvalidDataException(location + ": answer '" + text + "' at " + start
                                    + " lies outside its context of " + context.length() + " characters");
                        }
                        answers.add(new QaExample.Answer(text, start));
                    }
                    out.add(new QaExample(qa.path("id").asText(""), text(qa, "question", location), context, answers,
                            location));
                }
            }
        }
        return out;
    }

    private static JsonNode object(JsonNode node, String location) {
        if (node == null || !node.isObject()) {
            throw new InvalidDataException(location + ": expected a JSON object, found "
                    + (node == null ? "nothing" : node.getNodeType().toString().toLowerCase(java.util.Locale.ROOT))
                    + " (SQuAD v1.1 layout)");
        }
        return node;
    }

    private static JsonNode array(JsonNode node, String field, String location) {
        JsonNode v = node.get(field);
        if (v == null || !v.isArray()) {
            throw new InvalidDataException(location + ": '" + field + "' must be a JSON array, found "
                    + (v == null ? "nothing" : v.getNodeType().toString().toLowerCase(java.util.Locale.ROOT))
                    + " (SQuAD v1.1 layout: {\"data\": [{\"paragraphs\": [{\"context\": ..., \"qas\": [...]}]}]})");
        }
        return v;
    }

    private static String text(JsonNode node, String field, String location) {
        JsonNode v = node.get(field);
        if (v == null || !v.isTextual()) {
            throw new InvalidDataException(location + ": no text field '" + field + "'");
        }
        return v.asText();
    }
}
