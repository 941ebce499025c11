package dev.attune.tasks.seq2seq;

import dev.attune.task.Example;

/**
 * A source text and, for training and evaluation data, its target.
 *
 * @param source the input text (without the task prefix)
 * @param target the expected output, or null
 * @param location {@code file:line}
 */
public record Seq2SeqExample(String source, String target, String location) implements Example {}
