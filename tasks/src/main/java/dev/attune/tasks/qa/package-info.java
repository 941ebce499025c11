/**
 * The {@code question-answering} task: extractive question answering on SQuAD v1.1 data, with
 * long contexts split into overlapping windows and SQuAD's exact-match and F1 metrics.
 */
package dev.attune.tasks.qa;
