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
            JsonNode article = data.get(a);
            String where = file + ": article " + a + " (" + article.path("title").asText("") + ")";
            JsonNode paragraphs = article.path("paragraphs");
            for (int p = 0; p < paragraphs.size(); p++) {
                JsonNode paragraph = paragraphs.get(p);
                String context = text(paragraph, "context", where + " paragraph " + p);
                JsonNode qas = paragraph.path("qas");
                for (int q = 0; q < qas.size(); q++) {
                    JsonNode qa = qas.get(q);
                    String location = where + " paragraph " + p + " question " + qa.path("id").asText("#" + q);
                    List<QaExample.Answer> answers = new ArrayList<>();
                    for (JsonNode ans : qa.path("answers")) {
                        String text = text(ans, "text", location);
                        int start = ans.path("answer_start").asInt(-1);
                        if (start < 0 || start + text.length() > context.length()) {
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

    private static String text(JsonNode node, String field, String location) {
        JsonNode v = node.get(field);
        if (v == null || !v.isTextual()) {
            throw new InvalidDataException(location + ": no text field '" + field + "'");
        }
        return v.asText();
    }
}
