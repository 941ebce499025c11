/**
 * The sequence classification tasks {@code text-classification} (one text: sentiment, spam) and
 * {@code text-pair-classification} (two texts: paraphrase, entailment), found through {@link
 * dev.attune.task.TaskProvider}.
 */
package dev.attune.tasks.classification;
