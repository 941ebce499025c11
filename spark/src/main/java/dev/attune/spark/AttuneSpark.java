package dev.attune.spark;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.attune.Attune;
import dev.attune.PluginRegistry;
import dev.attune.core.tune.HyperparameterSearch;
import dev.attune.core.tune.HyperparameterSearch.Prepared;
import dev.attune.core.tune.HyperparameterSearch.Spec;
import dev.attune.core.tune.HyperparameterSearch.Trial;
import dev.attune.core.tune.HyperparameterSearch.TrialRunner;
import dev.attune.engine.EngineOptions.DeviceSpec;
import dev.attune.error.AttuneException;
import dev.attune.error.ConfigurationException;
import dev.attune.error.TrainingStoppedException;
import dev.attune.model.FineTunedModel;
import dev.attune.model.FineTunedModel.Predictor;
import dev.attune.model.ModelSource;
import dev.attune.task.Prediction;
import dev.attune.train.TrainingControl;
import java.io.IOException;
import java.io.Serializable;
import java.io.UncheckedIOException;
import java.lang.management.ManagementFactory;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.spark.SparkContext;
import org.apache.spark.TaskContext;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.api.java.function.MapPartitionsFunction;
import org.apache.spark.resource.ResourceProfile;
import org.apache.spark.resource.ResourceProfileBuilder;
import org.apache.spark.resource.TaskResourceRequests;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;
import org.apache.spark.util.LongAccumulator;
import org.apiguardian.api.API;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import scala.reflect.ClassTag$;
import scala.runtime.AbstractFunction2;
import scala.runtime.BoxedUnit;

/**
 * Attune on Apache Spark: a hyperparameter search whose trials are Spark tasks ({@link #tune}), and
 * batch prediction over a {@code Dataset<Row>} with one model per executor JVM ({@link #predict}).
 *
 * <p>Executors read the model folder and the data at the paths the driver names (a shared or
 * replicated file system); the trial settings travel with each task. Each trial is one task of the
 * rung's stage; Spark retries a task whose executor died, and the driver records each trial once,
 * as its result arrives.
 */
@API(status = API.Status.EXPERIMENTAL, since = "0.2")
public final class AttuneSpark {
    private static final Logger LOG = LoggerFactory.getLogger(AttuneSpark.class);
    private static final ObjectMapper JSON = new ObjectMapper();
    /** Models loaded in this JVM (an executor's), by folder and engine settings: each is loaded once. */
    private static final Map<String, Loaded> MODELS = new ConcurrentHashMap<>();
    /** The search data and Attune of this JVM (an executor's), by search settings and threads. */
    /** Model folders this JVM could not load, with why. */
    private static final Map<String, ConfigurationException> UNLOADABLE = new ConcurrentHashMap<>();
    private static final Map<String, Attuned> SEARCHES = new ConcurrentHashMap<>();

    private AttuneSpark() {}

    /**
     * @param master a Spark master URL: {@code local[N]}, {@code local-cluster[...]}, {@code
     *     spark://host:port}
     * @param threadsPerTask CPUs per task ({@code spark.task.cpus}), 0 for Spark's default (1)
     * @return the session for {@code master}: the active one when it has that master, else a new one
     */
    public static SparkSession session(String master, int threadsPerTask) {
        SparkSession.Builder b = SparkSession.builder().appName("attune").master(master)
                .config("spark.ui.enabled", "false")
                // executors find PyTorch's native library in the local cache, as the CLI does
                .config("spark.executor.extraJavaOptions", "-Dai.djl.offline=true");
        if (threadsPerTask > 0) {
            b.config("spark.task.cpus", String.valueOf(threadsPerTask));
        }
        return b.getOrCreate();
    }

    // ---------------------------------------------------------------------------------------------
    // hyperparameter search

    /**
     * Runs a search with its trials as Spark tasks of a session started for {@code master} (with
     * {@code spark.task.cpus} = the spec's threads) and stopped at the end.
     *
     * @param master Spark master URL
     * @param spec the search, as {@code attune tune} takes it
     * @param control stop requests (Ctrl-C): the running trials' job is cancelled
     * @return the summary also written to {@code best.json}
     * @throws Exception a trial's failure after Spark's retries, or a stop
     */
    public static Map<String, Object> tune(String master, Spec spec, TrainingControl control) throws Exception {
        SparkSession spark = session(master, spec.threads());
        try {
            return tune(spark, spec, TuneOptions.defaults(), control);
        } finally {
            spark.stop();
        }
    }

    /**
     * Runs a search with its trials as Spark tasks: each rung is one stage, one task per trial.
     *
     * @param spark the session
     * @param spec the search
     * @param options GPUs per trial
     * @param control stop requests
     * @return the summary also written to {@code best.json}
     * @throws Exception a trial's failure after Spark's retries, or a stop
     */
    public static Map<String, Object> tune(SparkSession spark, Spec spec, TuneOptions options, TrainingControl control)
            throws Exception {
        return HyperparameterSearch.run(spec, trialRunner(spark, options), control);
    }

    /**
     * Options of a distributed search.
     *
     * @param gpusPerTrial GPUs each trial's task asks for (a task resource profile; needs executors
     *     with GPU resources and a cluster manager with stage-level scheduling), 0 for none
     */
    public record TuneOptions(int gpusPerTrial) implements Serializable {
        /** @return no GPUs */
        public static TuneOptions defaults() {
            return new TuneOptions(0);
        }
    }

    /**
     * @param spark the session
     * @param options GPUs per trial
     * @return a runner that runs a rung's trials as the tasks of one Spark job
     */
    public static TrialRunner trialRunner(SparkSession spark, TuneOptions options) {
        return (spec, trials, control, onDone) -> {
            if (trials.isEmpty()) {
                return;
            }
            SparkContext sc = spark.sparkContext();
            int cpus = sc.getConf().getInt("spark.task.cpus", 1);
            JavaRDD<Trial> rdd = JavaSparkContext.fromSparkContext(sc).parallelize(trials, trials.size());
            if (options.gpusPerTrial() > 0) {
                ResourceProfile profile = new ResourceProfileBuilder().require(new TaskResourceRequests().cpus(cpus)
                        .resource("gpu", options.gpusPerTrial())).build();
                rdd = rdd.withResources(profile);
            }
            String group = "attune-tune-" + System.nanoTime();
            sc.setJobGroup(group, "attune tune: rung " + trials.get(0).rung() + ", " + trials.size() + " trial(s)", true);
            AtomicReference<RuntimeException> handlerFailure = new AtomicReference<>();
            Thread watcher = new Thread(() -> {
                while (!Thread.currentThread().isInterrupted()) {
                    if (control.isStopRequested()) {
                        sc.cancelJobGroup(group);
                        return;
                    }
                    try {
                        Thread.sleep(200);
                    } catch (InterruptedException e) {
                        return;
                    }
                }
            }, "attune-tune-stop");
            watcher.setDaemon(true);
            watcher.start();
            try {
                sc.runJob(rdd.rdd(), new RunTrial(spec, cpus), new AbstractFunction2<Object, String, BoxedUnit>() {
                    @Override
                    public BoxedUnit apply(Object partition, String recordJson) {
                        // on the driver, as each task's result arrives: one call per trial, whatever retries ran
                        try {
                            @SuppressWarnings("unchecked")
                            Map<String, Object> rec = JSON.readValue(recordJson, Map.class);
                            onDone.accept(rec);
                        } catch (IOException | RuntimeException e) {
                            handlerFailure.compareAndSet(null, new AttuneException("recording a trial: " + e, e));
                        }
                        return BoxedUnit.UNIT;
                    }
                }, ClassTag$.MODULE$.apply(String.class));
            } catch (RuntimeException e) {
                if (control.isStopRequested()) {
                    throw new TrainingStoppedException(control.stopReason() + ": Spark job cancelled", 0, null);
                }
                throw new AttuneException("the Spark job of rung " + trials.get(0).rung() + " failed: "
                        + rootMessage(e), e);
            } finally {
                watcher.interrupt();
                sc.clearJobGroup();
            }
            if (handlerFailure.get() != null) {
                throw handlerFailure.get();
            }
        };
    }

    /** A trial's task: runs on an executor, returns the trial's record as JSON. */
    static final class RunTrial extends AbstractFunction2<TaskContext, scala.collection.Iterator<Trial>, String>
            implements Serializable {
        private static final long serialVersionUID = 1L;
        private final Spec spec;
        private final int cpus;

        RunTrial(Spec spec, int cpus) {
            this.spec = spec;
            this.cpus = cpus;
        }

        @Override
        public String apply(TaskContext context, scala.collection.Iterator<Trial> trials) {
            Trial t = trials.next();
            String key;
            try {
                key = JSON.writeValueAsString(spec.settings()) + "#" + cpus;
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            Attuned a = SEARCHES.computeIfAbsent(key, k -> {
                Attune attune = spec.attuneBuilder(cpus).build();
                return new Attuned(attune, Prepared.read(spec, attune));
            });
            if (context.attemptNumber() > 0) {
                // an earlier attempt died with its executor: its partial trial folder goes, the trial runs afresh
                deleteTree(spec.output().resolve(String.format(java.util.Locale.ROOT, "trial-%03d", t.id())));
            }
            Map<String, Object> rec = HyperparameterSearch.runTrial(spec, a.attune(), a.data(), t, new TrainingControl());
            rec.put("executor", executorId());
            rec.put("attempt", context.attemptNumber());
            try {
                return JSON.writeValueAsString(rec);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
    }

    private record Attuned(Attune attune, Prepared data) {}

    // ---------------------------------------------------------------------------------------------
    // batch prediction

    /**
     * Options of {@link #predict}.
     *
     * @param inputs the task's input fields by the column that holds them ({@code text} from column
     *     {@code text} by default; {@code text_pair}, {@code question}, {@code context} as the task
     *     needs)
     * @param engine engine name, null for the one the model prefers or the default
     * @param threads intra-op threads per executor's model, 0 for the engine's default
     * @param batchSize rows per forward pass, formed within a partition
     * @param executorColumn whether to add an {@code executor} column ({@code pid@host} of the JVM
     *     that predicted the row)
     */
    public record PredictOptions(Map<String, String> inputs, String engine, int threads, int batchSize,
            boolean executorColumn) implements Serializable {
        /** Copies the inputs. */
        public PredictOptions {
            inputs = new LinkedHashMap<>(inputs);
            if (inputs.isEmpty()) {
                throw new ConfigurationException("PredictOptions: give at least one input column (text)");
            }
            if (batchSize < 1) {
                throw new ConfigurationException("PredictOptions: batch size " + batchSize + " must be at least 1");
            }
        }

        /** @return text from column {@code text}, default engine and threads, batches of 32 */
        public static PredictOptions defaults() {
            return new PredictOptions(Map.of("text", "text"), null, 0, FineTunedModel.PREDICT_BATCH_SIZE, false);
        }

        /**
         * @param column the column with the text
         * @return these options reading {@code text} from {@code column}
         */
        public PredictOptions withTextColumn(String column) {
            Map<String, String> m = new LinkedHashMap<>(inputs);
            m.put("text", column);
            return new PredictOptions(m, engine, threads, batchSize, executorColumn);
        }

        /**
         * @param field a task input field ({@code text_pair}, {@code question}, {@code context})
         * @param column the column that holds it
         * @return these options with that input
         */
        public PredictOptions withInput(String field, String column) {
            Map<String, String> m = new LinkedHashMap<>(inputs);
            m.put(field, column);
            return new PredictOptions(m, engine, threads, batchSize, executorColumn);
        }

        /**
         * @param name engine name
         * @return these options on that engine
         */
        public PredictOptions withEngine(String name) {
            return new PredictOptions(inputs, name, threads, batchSize, executorColumn);
        }

        /**
         * @param n intra-op threads
         * @return these options with n threads
         */
        public PredictOptions withThreads(int n) {
            return new PredictOptions(inputs, engine, n, batchSize, executorColumn);
        }

        /**
         * @param n rows per batch
         * @return these options with batches of n
         */
        public PredictOptions withBatchSize(int n) {
            return new PredictOptions(inputs, engine, threads, n, executorColumn);
        }

        /**
         * @param on whether to add the executor column
         * @return these options
         */
        public PredictOptions withExecutorColumn(boolean on) {
            return new PredictOptions(inputs, engine, threads, batchSize, on);
        }
    }

    /** Columns {@link #predict} adds. */
    public static final List<String> PREDICTION_COLUMNS = List.of("label", "score", "prediction", "error");

    /**
     * Predicts every row: the rows with {@code label} and {@code score} (where the task has them),
     * {@code prediction} (the task's whole answer as JSON: probabilities, entities, answer and
     * offsets, generated text) and {@code error} (why a row has no prediction: its text is null or
     * not a string). Lazy: runs when the result is written or collected. The model is loaded once
     * per executor JVM and shared by its tasks; rows are batched within each partition.
     *
     * @param rows the rows
     * @param modelFolder a folder written by fine-tune or export, readable by every executor at this path
     * @param options input columns, engine, threads, batch size
     * @return the rows with the prediction columns
     * @throws ConfigurationException when an input column is missing or the driver cannot read the
     *     model folder
     */
    public static Dataset<Row> predict(Dataset<Row> rows, Path modelFolder, PredictOptions options) {
        return predictCounting(rows, modelFolder, options).rows();
    }

    /**
     * What {@link #predictCounting} returns.
     *
     * @param rows the rows with the prediction columns (lazy)
     * @param rowsWithoutPrediction counts, as actions run, the rows that got an error instead
     */
    public record Predicted(Dataset<Row> rows, LongAccumulator rowsWithoutPrediction) {}

    /**
     * {@link #predict}, with a counter of the rows that got no prediction.
     *
     * @param rows the rows
     * @param modelFolder the model folder
     * @param options input columns, engine, threads, batch size
     * @return the rows with the prediction columns and the counter
     */
    public static Predicted predictCounting(Dataset<Row> rows, Path modelFolder, PredictOptions options) {
        StructType in = rows.schema();
        List<String> names = List.of(in.fieldNames());
        for (Map.Entry<String, String> e : options.inputs().entrySet()) {
            if (!names.contains(e.getValue())) {
                throw new ConfigurationException("input column '" + e.getValue() + "' (task field " + e.getKey()
                        + ") is not among the columns " + names + "; name the text column (--text-column)");
            }
        }
        for (String c : PREDICTION_COLUMNS) {
            if (names.contains(c)) {
                throw new ConfigurationException("the rows already have a column '" + c + "'; predict adds "
                        + PREDICTION_COLUMNS + ": rename or drop it first");
            }
        }
        if (!Files.isDirectory(modelFolder) && !Files.isRegularFile(modelFolder)) {
            throw new ConfigurationException(modelFolder + ": no such model folder on the driver (" + host() + ")");
        }
        StructType out = in.add("label", DataTypes.StringType).add("score", DataTypes.DoubleType)
                .add("prediction", DataTypes.StringType).add("error", DataTypes.StringType);
        if (options.executorColumn()) {
            out = out.add("executor", DataTypes.StringType);
        }
        Map<String, Integer> fieldIndex = new LinkedHashMap<>();
        Map<String, Boolean> isString = new LinkedHashMap<>();
        for (Map.Entry<String, String> e : options.inputs().entrySet()) {
            int i = in.fieldIndex(e.getValue());
            fieldIndex.put(e.getKey(), i);
            isString.put(e.getKey(), in.fields()[i].dataType().equals(DataTypes.StringType));
        }
        LongAccumulator errors = rows.sparkSession().sparkContext().longAccumulator("attune.predict.rows_without_prediction");
        String folder = modelFolder.toAbsolutePath().toString();
        PartitionPredictor fn = new PartitionPredictor(folder, options, fieldIndex, isString, errors);
        return new Predicted(rows.mapPartitions(fn, Encoders.row(out)), errors);
    }

    /** Predicts one partition in batches with this JVM's copy of the model. */
    static final class PartitionPredictor implements MapPartitionsFunction<Row, Row> {
        private static final long serialVersionUID = 1L;
        private final String folder;
        private final PredictOptions options;
        private final Map<String, Integer> fieldIndex;
        private final Map<String, Boolean> isString;
        private final LongAccumulator errors;

        PartitionPredictor(String folder, PredictOptions options, Map<String, Integer> fieldIndex,
                Map<String, Boolean> isString, LongAccumulator errors) {
            this.folder = folder;
            this.options = options;
            this.fieldIndex = new LinkedHashMap<>(fieldIndex);
            this.isString = new LinkedHashMap<>(isString);
            this.errors = errors;
        }

        @Override
        public Iterator<Row> call(Iterator<Row> rows) {
            Loaded model = model(folder, options);
            String executor = options.executorColumn() ? executorId() : null;
            return new Iterator<>() {
                private final List<Row> ready = new ArrayList<>();
                private int next;
                private long failed;

                @Override
                public boolean hasNext() {
                    if (next < ready.size()) {
                        return true;
                    }
                    ready.clear();
                    next = 0;
                    fill();
                    return !ready.isEmpty();
                }

                @Override
                public Row next() {
                    if (!hasNext()) {
                        throw new NoSuchElementException();
                    }
                    return ready.get(next++);
                }

                private void fill() {
                    List<Row> batch = new ArrayList<>();
                    List<Map<String, String>> inputs = new ArrayList<>();
                    List<String> why = new ArrayList<>();
                    while (rows.hasNext() && batch.size() < options.batchSize()) {
                        Row r = rows.next();
                        batch.add(r);
                        Map<String, String> input = new LinkedHashMap<>();
                        String problem = null;
                        for (Map.Entry<String, Integer> e : fieldIndex.entrySet()) {
                            String column = options.inputs().get(e.getKey());
                            Object v = r.get(e.getValue());
                            if (v == null) {
                                problem = "column " + column + " is null";
                            } else if (!isString.get(e.getKey()) || !(v instanceof String s)) {
                                problem = "column " + column + " is not a string (" + v.getClass().getSimpleName() + ")";
                            } else {
                                input.put(e.getKey(), s);
                            }
                            if (problem != null) {
                                break;
                            }
                        }
                        if (problem == null) {
                            try {
                                model.model().task().parseInput(input);
                            } catch (RuntimeException ex) {
                                problem = ex.getMessage();
                            }
                        }
                        why.add(problem);
                        inputs.add(problem == null ? input : null);
                    }
                    if (batch.isEmpty()) {
                        if (failed > 0) {
                            LOG.warn("attune predict: {} row(s) of partition {} had no text to predict (null or not a"
                                    + " string); their prediction is null and column error says why", failed,
                                    TaskContext.getPartitionId());
                        }
                        return;
                    }
                    List<Map<String, String>> good = new ArrayList<>();
                    for (Map<String, String> input : inputs) {
                        if (input != null) {
                            good.add(input);
                        }
                    }
                    List<Prediction> predictions = good.isEmpty() ? List.of() : model.predictor().predictAll(good);
                    int p = 0;
                    for (int i = 0; i < batch.size(); i++) {
                        Row r = batch.get(i);
                        Object[] values = new Object[r.size() + (executor == null ? 4 : 5)];
                        for (int c = 0; c < r.size(); c++) {
                            values[c] = r.get(c);
                        }
                        int at = r.size();
                        if (why.get(i) == null) {
                            Map<String, Object> m = predictions.get(p++).toMap();
                            values[at] = m.get("label") instanceof String s ? s : null;
                            values[at + 1] = m.get("score") instanceof Number n ? n.doubleValue() : null;
                            try {
                                values[at + 2] = JSON.writeValueAsString(m);
                            } catch (IOException e) {
                                throw new UncheckedIOException(e);
                            }
                        } else {
                            values[at + 3] = why.get(i);
                            failed++;
                            errors.add(1);
                        }
                        if (executor != null) {
                            values[at + 4] = executor;
                        }
                        ready.add(RowFactory.create(values));
                    }
                }
            };
        }
    }

    private record Loaded(Attune attune, FineTunedModel model, Predictor predictor) {}

    /** This JVM's copy of a model, loaded on first use; a folder it cannot read fails naming it and this host. */
    static Loaded model(String folder, PredictOptions options) {
        String key = folder + "#" + options.engine() + "#" + options.threads();
        ConfigurationException failed = UNLOADABLE.get(key);
        if (failed != null) {
            // Spark's retries of the task in this JVM fail at once, with the first attempt's message
            throw new ConfigurationException(failed.getMessage(), failed);
        }
        try {
            return load(key, folder, options);
        } catch (ConfigurationException e) {
            UNLOADABLE.put(key, e);
            throw e;
        }
    }

    private static Loaded load(String key, String folder, PredictOptions options) {
        return MODELS.computeIfAbsent(key, k -> {
            Path path = Path.of(folder);
            if (!Files.isReadable(path)) {
                throw new ConfigurationException("executor " + executorId() + " cannot read the model folder " + folder
                        + ": every executor must see it at this path (a shared file system, or copy it to each"
                        + " worker)");
            }
            try {
                PluginRegistry registry = PluginRegistry.discover();
                ModelSource source = registry.source(path);
                String engine = options.engine() != null ? options.engine() : source.preferredEngine().orElse(null);
                Attune attune = Attune.builder().registry(registry).engine(engine).device(DeviceSpec.parse("auto"))
                        .numThreads(options.threads()).build();
                FineTunedModel m = attune.open(source);
                LOG.info("attune predict: loaded {} on executor {}", folder, executorId());
                return new Loaded(attune, m, m.predictor());
            } catch (RuntimeException e) {
                throw new ConfigurationException("executor " + executorId() + " cannot load the model folder " + folder
                        + ": " + e.getMessage(), e);
            }
        });
    }

    /**
     * Predicts a table file into a parquet folder on a session started for {@code master}, logging the
     * rows and the rows without a prediction.
     *
     * @param master Spark master URL
     * @param model the model folder
     * @param input parquet (file or folder), csv or tsv with a header row, or jsonl/json
     * @param output the parquet folder to write; must not exist
     * @param options input columns, engine, threads
     * @return rows written and rows without a prediction
     * @throws ConfigurationException naming the input or output when it cannot be used
     */
    public static long[] predictFiles(String master, Path model, Path input, Path output, PredictOptions options) {
        if (!Files.exists(input)) {
            throw new ConfigurationException(input + ": no such file or folder");
        }
        if (Files.exists(output)) {
            throw new ConfigurationException(output + ": exists; predict --spark writes a new parquet folder: remove it"
                    + " or name another --output");
        }
        SparkSession spark = session(master, 0);
        try {
            Dataset<Row> rows = read(spark, input);
            Predicted p = predictCounting(rows, model, options);
            p.rows().write().parquet(output.toString());
            long n = spark.read().parquet(output.toString()).count();
            long bad = p.rowsWithoutPrediction().value();
            LOG.info("attune predict: {} rows to {}; {} without a prediction (column error says why)", n, output, bad);
            System.err.printf(java.util.Locale.ROOT, "predict --spark: %d rows written to %s, %d without a prediction%n",
                    n, output, bad);
            return new long[] {n, bad};
        } finally {
            spark.stop();
        }
    }

    /**
     * @param spark the session
     * @param input parquet (file or folder), csv/tsv with a header row, or jsonl/json
     * @return its rows
     */
    public static Dataset<Row> read(SparkSession spark, Path input) {
        String name = input.getFileName().toString().toLowerCase(java.util.Locale.ROOT);
        String path = input.toString();
        if (name.endsWith(".csv")) {
            return spark.read().option("header", "true").option("multiLine", "true").option("escape", "\"")
                    .csv(path);
        }
        if (name.endsWith(".tsv")) {
            return spark.read().option("header", "true").option("sep", "\t").csv(path);
        }
        if (name.endsWith(".jsonl") || name.endsWith(".json") || name.endsWith(".ndjson")) {
            return spark.read().json(path);
        }
        if (name.endsWith(".parquet") || Files.isDirectory(input)) {
            return spark.read().parquet(path);
        }
        throw new ConfigurationException(input + ": unknown table format; --input takes .parquet, .csv, .tsv or .jsonl");
    }

    // ---------------------------------------------------------------------------------------------

    /** @return {@code pid@host} of this JVM */
    public static String executorId() {
        return ProcessHandle.current().pid() + "@" + host();
    }

    private static String host() {
        try {
            return InetAddress.getLocalHost().getHostName();
        } catch (IOException e) {
            return ManagementFactory.getRuntimeMXBean().getName();
        }
    }

    private static String rootMessage(Throwable e) {
        Throwable t = e;
        while (t.getCause() != null && t.getCause() != t) {
            t = t.getCause();
        }
        return e.getMessage() + (t != e ? " (" + t + ")" : "");
    }

    private static void deleteTree(Path dir) {
        if (!Files.exists(dir)) {
            return;
        }
        try (var walk = Files.walk(dir)) {
            for (Path p : walk.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(dir + ": cannot remove the folder of a failed attempt", e);
        }
    }
}
