package dev.attune.tasks.qa;

import dev.attune.task.Example;
import java.util.List;
import java.util.Objects;

/**
 * A question about a context, with its gold answers when labelled, as the question-answering task
 * reads or parses it.
 *
 * @param id the question's id ({@code input} for a user's input)
 * @param question the question
 * @param context the text that holds the answer
 * @param answers gold answers (the first one is trained on); empty for unlabelled input
 * @param location where it came from, for error messages
 */
public record QaExample(String id, String question, String context, List<Answer> answers, String location)
        implements Example {
    /** Validates and copies. */
    public QaExample {
        Objects.requireNonNull(id, "id");
        Objects.requireNonNull(question, "question");
        Objects.requireNonNull(context, "context");
        Objects.requireNonNull(location, "location");
        answers = List.copyOf(answers);
    }

    /**
     * One gold answer: a span of the context.
     *
     * @param text the answer text
     * @param start its first character in the context
     */
    public record Answer(String text, int start) {
        /** Validates. */
        public Answer {
            Objects.requireNonNull(text, "text");
        }

        /** @return the character after its last (exclusive) */
        public int end() {
            return start + text.length();
        }
    }
}
