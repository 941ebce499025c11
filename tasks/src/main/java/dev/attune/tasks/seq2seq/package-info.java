/**
 * The {@code seq2seq} task: text-to-text fine-tuning of encoder-decoder models (T5): source/target
 * pairs with a task prefix, teacher-forced training, and evaluation by generation with corpus BLEU
 * and ROUGE-L.
 */
package dev.attune.tasks.seq2seq;
