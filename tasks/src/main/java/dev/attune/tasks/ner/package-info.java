/**
 * The {@code token-classification} task: named-entity recognition and other word tagging from
 * CoNLL-style files, scored at entity level as seqeval does.
 */
package dev.attune.tasks.ner;
