/**
 * Evaluation metrics of the task plugins: classification metrics from a confusion matrix, with
 * scikit-learn's conventions so that results compare with the HuggingFace Trainer's.
 */
package dev.attune.tasks.metrics;
