package dev.attune.task;

import dev.attune.model.HeadSpec;
import dev.attune.model.ModelDefinition.InputSpec;
import dev.attune.model.TextTokenizer;
import dev.attune.ops.Ops;
import dev.attune.ops.Tensor;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.apiguardian.api.API;

/**
 * A fine-tuning task: how to read its data, which head it needs, how examples become model inputs,
 * its loss, metrics and predictions. Immutable: {@link #withLabels} returns a configured copy.
 *
 * <p>A task without a label set (language modelling, sequence to sequence) implements none of
 * {@link #labels()}, {@link #withLabels} and {@link #inferLabels}: their defaults say it has no
 * labels.
 *
 * <p><b>Threads.</b> The runtime calls {@link #encode} and {@link #decode} concurrently, from
 * several threads at once, on the one task instance (a predictor serving requests, data encoded in
 * parallel). Implementations must be stateless or thread-safe: keep no mutable state in fields that
 * these methods write, and use only thread-safe collaborators there (the tokenizer handed in is
 * thread-safe). The built-in tasks are immutable and hold no per-call state.
 */
@API(status = API.Status.STABLE, since = "0.1")
public interface Task {
    /** @return the task's name */
    String name();

    /** @return the options it was created with (saved with the model) */
    TaskOptions options();

    /**
     * @return label names by id; empty when the task has no label set or labels are not fixed yet.
     *     The default (a task without labels) is empty
     */
    default List<String> labels() {
        return List.of();
    }

    /**
     * @param labels label names by id (from the training data or a saved model's config)
     * @return a copy using these labels. The default (a task without labels) returns this task
     *     unchanged: labels such as the {@code LABEL_0, LABEL_1} that many HuggingFace configs carry
     *     in {@code id2label} mean nothing to it
     */
    default Task withLabels(List<String> labels) {
        return this;
    }

    /**
     * @param train training data
     * @return the label set the data implies, sorted, for {@link #withLabels}; the default (a task
     *     without labels) is empty
     */
    default List<String> inferLabels(Dataset train) {
        return List.of();
    }

    /**
     * Fixes the settings a task derives from its training data beyond the labels, such as class
     * weights balanced against label frequencies, and records them in its {@link #options()} so a
     * saved model states what it was trained with. Called by {@code Attune.fineTune} after the
     * labels are fixed; the default has nothing to derive and returns this task.
     *
     * @param train the training data
     * @return a task with those settings fixed (this one when there are none)
     * @throws dev.attune.error.InvalidDataException when the data cannot give them (a label that
     *     never occurs cannot be balanced)
     */
    default Task fitToTrainingData(Dataset train) {
        return this;
    }

    /**
     * Checks a data set against this task's fixed labels before any training or evaluation starts,
     * so that an evaluation file with a label the model does not have fails at once, naming the
     * file and line, rather than at the first evaluation. The default accepts everything.
     *
     * @param data a data set read by this task
     * @throws dev.attune.error.InvalidDataException naming the file, line and value at fault
     */
    default void validate(Dataset data) {}

    /** @return the head to put on the model (labels must be fixed) */
    HeadSpec head();

    /**
     * @param file a data file (format from the extension or the task options)
     * @return its examples
     * @throws dev.attune.error.InvalidDataException naming the file and line on a bad row
     */
    Dataset read(Path file);

    /**
     * @param input fields of one input as a user gives them ({@code text}, {@code text_pair})
     * @return the example
     */
    Example parseInput(Map<String, String> input);

    /**
     * Turns one example into model inputs. Called concurrently from several threads (see the class
     * documentation): it must not change the task's state.
     *
     * @param example an example
     * @param exampleIndex its index in its data set
     * @param tokenizer the model's tokenizer
     * @param maxLength maximum tokens
     * @return its model inputs (with labels when the example has an answer): integer fields, and
     *     float fields for float inputs such as a regression target ({@link Features#floatFields()})
     */
    List<Features> encode(Example example, int exampleIndex, TextTokenizer tokenizer, int maxLength);

    /**
     * @param tokenizer the model's tokenizer
     * @return sequence fields and the value that pads them; fields not listed are fixed-size
     */
    Map<String, Long> padding(TextTokenizer tokenizer);

    /**
     * How many rows a feature's sequence fields hold, for heads whose inputs have an axis between the
     * batch and the tokens: a multiple-choice feature holds one (context, ending) pair per row, each
     * sequence field the rows one after another, all of one length, and a batch of such features is
     * {@code [batch, rows, tokens]} (every feature of a batch must have the same number of rows).
     * The default, 1, gives {@code [batch, tokens]}.
     *
     * @param features a feature this task encoded
     * @return its rows, at least 1
     */
    default int sequenceRows(Features features) {
        return 1;
    }

    /**
     * @return the label inputs the loss reads, with their element type: {@code INT64} for class ids
     *     ({@link Features#fields()}), {@code FLOAT32} for regression targets or multi-hot vectors
     *     ({@link Features#floatFields()})
     */
    List<InputSpec> labelInputs();

    /**
     * @param ops the engine's ops
     * @param outputs the outputs {@link #outputs} derived from the head's (by default the head's own)
     * @param inputs model inputs, including labels
     * @return scalar loss
     */
    Tensor loss(Ops ops, Map<String, Tensor> outputs, Map<String, Tensor> inputs);

    /**
     * Derives, inside the model's forward pass, the outputs that the loss, the evaluator and {@link
     * #decode} read from the head's outputs. Language-model tasks use it to reduce vocabulary-sized
     * logits to one value per token (its log-likelihood) on the engine, so that evaluation does not
     * copy {@code [batch, tokens, vocabulary]} floats to the host. The default keeps the head's
     * outputs unchanged.
     *
     * @param ops the engine's ops
     * @param headOutputs the head's outputs ({@code logits}, ...)
     * @param inputs model inputs, including labels when present
     * @return the outputs the model returns (besides {@code loss})
     */
    default Map<String, Tensor> outputs(Ops ops, Map<String, Tensor> headOutputs, Map<String, Tensor> inputs) {
        return headOutputs;
    }

    /**
     * @param headOutputs the names of the head's outputs
     * @return the names {@link #outputs} returns when labels are present; the default keeps them
     */
    default List<String> outputNames(List<String> headOutputs) {
        return headOutputs;
    }

    /**
     * @param data the evaluation set
     * @return a fresh evaluator
     */
    Evaluator evaluator(Dataset data);

    /**
     * Turns the model's outputs for one input into the task's answer. Called concurrently from
     * several threads (see the class documentation): it must not change the task's state.
     *
     * @param example the input
     * @param features its features
     * @param outputs model outputs per feature
     * @return the answer
     */
    Prediction decode(Example example, List<Features> features, List<Map<String, float[]>> outputs);

    /**
     * Entries the task sets at the top level of a saved model's {@code config.json}, under
     * HuggingFace's names, so that {@code transformers} treats the folder as the task does: a
     * sequence classifier states its {@code problem_type} ({@code regression}, {@code
     * single_label_classification}, {@code multi_label_classification}), which chooses the loss of
     * {@code AutoModelForSequenceClassification}. The default sets none.
     *
     * @return config keys and JSON-ready values (strings, numbers, lists, maps)
     */
    default Map<String, Object> configEntries() {
        return Map.of();
    }

    /**
     * The tokenizer a model prepared for this task keeps, uses and saves with its weights. A task
     * that renders its examples with something the checkpoint does not ship (the {@code chat}
     * task's {@code chat_template} option) returns a tokenizer that carries it, so the saved folder
     * ({@code chat_template.jinja}, as transformers 5 writes it) chats and tokenises as training did.
     * The default is a copy of {@code base}.
     *
     * @param base the checkpoint's tokenizer (the caller keeps owning it)
     * @return a tokenizer the caller owns and closes
     */
    @API(status = API.Status.EXPERIMENTAL, since = "0.2")
    default TextTokenizer tokenizerFor(TextTokenizer base) {
        return base.copy();
    }

    /**
     * @return the metric that decides the best checkpoint and early stopping unless the training
     *     settings name another ({@code f1}, {@code accuracy}, {@code perplexity}, {@code mse}): a
     *     name the task's {@link #evaluator} reports, its direction given by {@link
     *     #greaterIsBetter()}
     */
    default String primaryMetric() {
        return "accuracy";
    }

    /**
     * @return whether a larger {@link #primaryMetric()} is better (HuggingFace's {@code
     *     greater_is_better}): true for accuracy, F1 or BLEU, false for a perplexity or a loss
     */
    default boolean greaterIsBetter() {
        return true;
    }
}
