/**
 * Language-modelling tasks: {@link dev.attune.tasks.lm.CausalLmTask} ({@code causal-lm}, dialogue
 * and text fine-tuning of GPT-2 for chatbots) and {@link dev.attune.tasks.lm.MaskedLmTask} ({@code
 * masked-lm}, continued pretraining of BERT on a user's text). Both reduce vocabulary logits to
 * per-token scores on the engine ({@link dev.attune.task.Task#outputs}).
 */
package dev.attune.tasks.lm;
