package dev.attune.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.attune.Attune;
import dev.attune.PluginRegistry;
import dev.attune.model.ModelSource;
import dev.attune.model.FineTunedModel;
import dev.attune.model.FineTunedModel.Predictor;
import dev.attune.error.InvalidDataException;
import dev.attune.task.Prediction;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code attune predict}: text in, label and probabilities out. */
@Command(name = "predict", mixinStandardHelpOptions = true,
        description = "Predict with a model saved by fine-tune: one --text, or a JSONL file of inputs.")
final class PredictCommand implements Callable<Integer> {
    @Option(names = "--model", required = true, description = "folder written by fine-tune, or by export (an ONNX"
            + " export runs on the onnx engine unless --engine names another); with --spark also a Hadoop URI (hdfs:,"
            + " s3a:, file:)")
    String model;

    @Option(names = "--text", description = "the text to classify")
    String text;

    @Option(names = "--text-pair", description = "second text, for pair tasks")
    String textPair;

    @Option(names = "--question", description = "the question, for question answering (with --context)")
    String question;

    @Option(names = "--context", description = "the passage that holds the answer, for question answering")
    String context;

    @Option(names = "--input", description = "JSONL file of inputs, one object per line: {\"text\": ...} and for pair"
            + " tasks \"text_pair\"; {\"question\": ..., \"context\": ...} for question answering; with --spark a table"
            + " (path or Hadoop URI)")
    String input;

    @Mixin
    EngineOptionsMixin engineOptions;

    @Mixin
    PrecisionMixin precision;

    @Option(names = "--adapter", paramLabel = "FOLDER", description = "a PEFT LoRA adapter folder over --model (the"
            + " base model); with --spark loaded once per executor like the model, also from a Hadoop URI")
    String adapter;

    @Option(names = "--max-length", defaultValue = "128", description = "maximum tokens per input with --adapter over"
            + " a plain checkpoint (default: ${DEFAULT-VALUE})")
    int maxLength;

    @Option(names = "--spark", paramLabel = "MASTER", description = "predict the --input table on Spark (local[N],"
            + " spark://host:7077): --input is parquet, csv (with a header) or jsonl, --output a parquet folder; the"
            + " model is loaded once per executor")
    String spark;

    @Option(names = "--output", description = "with --spark: the parquet folder to write (the input's columns, then"
            + " label, score, prediction and error), a path or Hadoop URI")
    String output;

    @Option(names = "--spark-ship-model", description = "with --spark: ship the local --model (and --adapter) folder"
            + " with the job (SparkContext.addArchive, found with SparkFiles.get) for executors that cannot see the"
            + " driver's paths; without it executors read the folder at its path or URI")
    boolean shipModel;

    @Option(names = "--text-column", description = "with --spark: the column with the text (default: text)")
    String textColumn;

    @Option(names = "--text-pair-column", description = "with --spark: the column with the second text, for pair tasks")
    String textPairColumn;

    @Override
    public Integer call() throws IOException {
        if (spark != null) {
            return onSpark();
        }
        if (output != null || textColumn != null || textPairColumn != null || shipModel) {
            throw new InvalidDataException("--output, --text-column, --text-pair-column and --spark-ship-model go with"
                    + " --spark; without it predict prints one JSON line per input");
        }
        Path model = Path.of(this.model);
        Path input = this.input == null ? null : Path.of(this.input);
        List<Map<String, String>> inputs = new ArrayList<>();
        if (text != null) {
            Map<String, String> one = new LinkedHashMap<>();
            one.put("text", text);
            if (textPair != null) {
                one.put("text_pair", textPair);
            }
            inputs.add(one);
        }
        if (question != null || context != null) {
            Map<String, String> one = new LinkedHashMap<>();
            TaskOptionsMixin.putIfSet(one, "question", question);
            TaskOptionsMixin.putIfSet(one, "context", context);
            inputs.add(one);
        }
        List<JsonlRow> rows = input == null ? List.of() : readJsonl(input, null);
        rows.forEach(r -> inputs.add(r.fields()));
        if (inputs.isEmpty()) {
            throw new InvalidDataException("nothing to predict: give --text, --question and --context, or --input");
        }
        ObjectMapper json = new ObjectMapper();
        PluginRegistry registry = PluginRegistry.discover();
        ModelSource source = registry.source(model);
        try (Attune attune = engineOptions.builder(registry, source).build();
                FineTunedModel m = adapter == null ? attune.open(source)
                        : PeftOptionsMixin.open(attune, attune.load(source, Map.of()), Path.of(adapter), null, maxLength)) {
            precision.applyTo(m.lowered());
            // every input is checked against the model's task before anything runs, naming its line
            int fromFile = inputs.size() - rows.size();
            for (int i = 0; i < inputs.size(); i++) {
                try {
                    m.task().parseInput(inputs.get(i));
                } catch (InvalidDataException e) {
                    String where = i < fromFile ? "the command line's input" : input + ":" + rows.get(i - fromFile).line();
                    throw new InvalidDataException(where + ": " + e.getMessage() + " (task " + m.task().name() + ")", e);
                }
            }
            Predictor predictor = m.predictor();
            // one batch per call, each printed as soon as it is ready; Ctrl-C stops between them
            int chunk = FineTunedModel.PREDICT_BATCH_SIZE;
            for (int from = 0; from < inputs.size(); from += chunk) {
                GracefulStop.checkInterrupted();
                for (Prediction p : predictor.predictAll(inputs.subList(from, Math.min(inputs.size(), from + chunk)))) {
                    System.out.println(json.writeValueAsString(p.toMap()));
                }
                System.out.flush();
            }
        }
        return 0;
    }

    private int onSpark() {
        if (input == null || output == null) {
            throw new InvalidDataException("predict --spark needs --input (parquet, csv or jsonl) and --output (a parquet"
                    + " folder)");
        }
        if (text != null || question != null || context != null) {
            throw new InvalidDataException("predict --spark reads its rows from --input only (not --text, --question"
                    + " or --context)");
        }
        dev.attune.spark.AttuneSpark.PredictOptions options = dev.attune.spark.AttuneSpark.PredictOptions.defaults()
                .withTextColumn(textColumn == null ? "text" : textColumn).withEngine(engineOptions.engine)
                .withThreads(engineOptions.threads).withAdapter(adapter).withMaxLength(maxLength)
                .withShipModel(shipModel);
        if (textPairColumn != null) {
            options = options.withInput("text_pair", textPairColumn);
        }
        dev.attune.spark.AttuneSpark.predictFiles(spark, model, input, output, options);
        return 0;
    }

    /**
     * One object of a JSONL file.
     *
     * @param line its line number, from 1
     * @param fields its fields as strings (nulls left out)
     */
    record JsonlRow(int line, Map<String, String> fields) {}



    /**
     * @param file JSONL, one object per line (blank lines skipped)
     * @param requiredText a field every object must hold as a string, or null
     * @return the objects in file order
     * @throws InvalidDataException naming the file and line of a line that is not such an object
     */
    static List<JsonlRow> readJsonl(Path file, String requiredText) throws IOException {
        if (Files.isDirectory(file)) {
            throw new InvalidDataException(file + ": is a folder; --input takes a JSONL file, one object per line");
        }
        if (!Files.exists(file)) {
            throw new InvalidDataException(file + ": no such file");
        }
        if (!Files.isRegularFile(file)) {
            // a pipe may never end and a device such as /dev/zero never does: read files only
            throw new InvalidDataException(file + ": is not a regular file (a pipe, socket or device); --input reads"
                    + " a JSONL file: save the input to a file and pass that");
        }
        ObjectMapper json = new ObjectMapper();
        List<JsonlRow> out = new ArrayList<>();
        // decoded line by line so that bytes which are not UTF-8 are named by their own line
        byte[] bytes = Files.readAllBytes(file);
        java.nio.charset.CharsetDecoder utf8 = StandardCharsets.UTF_8.newDecoder();
        int n = 0;
        for (int from = 0; from < bytes.length; ) {
            int to = from;
            while (to < bytes.length && bytes[to] != '\n') {
                to++;
            }
            n++;
            String line;
            try {
                line = utf8.decode(java.nio.ByteBuffer.wrap(bytes, from, to - from)).toString();
            } catch (java.nio.charset.CharacterCodingException e) {
                throw new InvalidDataException(file + ":" + n + ": not valid UTF-8 (" + e.getMessage()
                        + " in the line that starts at byte " + from + "); save the file as UTF-8");
            }
            from = to + 1;
            if (line.endsWith("\r")) {
                line = line.substring(0, line.length() - 1);
            }
            if (line.isBlank()) {
                continue;
            }
            JsonNode node;
            try {
                node = json.readTree(line);
            } catch (IOException e) {
                throw new InvalidDataException(file + ":" + n + ": not valid JSON: " + e.getMessage());
            }
            if (node == null || !node.isObject()) {
                throw new InvalidDataException(file + ":" + n + ": expected a JSON object, one per line");
            }
            if (requiredText != null && !node.path(requiredText).isTextual()) {
                throw new InvalidDataException(file + ":" + n + ": expected an object with a string \""
                        + requiredText + "\"");
            }
            Map<String, String> row = new LinkedHashMap<>();
            node.fields().forEachRemaining(e -> {
                if (!e.getValue().isNull()) {
                    row.put(e.getKey(), e.getValue().asText());
                }
            });
            out.add(new JsonlRow(n, row));
        }
        return out;
    }
}
