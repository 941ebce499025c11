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
 * <p>Executors read the model folder and the data at the local paths the driver names (a shared or
 * replicated file system), through Hadoop's FileSystem API where they are given as URIs ({@code
 * file:}, {@code hdfs:}, {@code s3a:}: one copy per executor JVM), or from the copy of a local model
 * folder the driver shipped with the job ({@code shipModel}); the trial settings travel with each task. Each trial is one task of the
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
     * Attempts per task ({@code spark.task.maxFailures}) in the sessions Attune starts: a trial whose
     * executor dies runs once more on another executor, while a trial that fails by itself (bad data,
     * an unknown objective) fails the search after two tries rather than Spark's default four.
     */
    public static final int DEFAULT_MAX_FAILURES = 2;

    /** Executors find PyTorch's native library in the local cache, as the CLI does. */
    static final String EXECUTOR_JAVA_OPTIONS = "-Dai.djl.offline=true";

    /**
     * @param master a Spark master URL: {@code local[N]}, {@code local-cluster[...]}, {@code
     *     spark://host:port}
     * @param threadsPerTask CPUs per task ({@code spark.task.cpus}), 0 for Spark's default (1)
     * @return the session for {@code master}: the active one when it has that master, else a new one
     *     with {@value #DEFAULT_MAX_FAILURES} attempts per task
     */
    public static SparkSession session(String master, int threadsPerTask) {
        return session(master, threadsPerTask, DEFAULT_MAX_FAILURES);
    }

    /**
     * @param master a Spark master URL
     * @param threadsPerTask CPUs per task ({@code spark.task.cpus}), 0 for Spark's default (1)
     * @param maxFailures attempts per task on a cluster ({@code spark.task.maxFailures}; an embedded
     *     {@code local[N]} master runs its tasks in this JVM, so no executor can die apart from it, and
     *     gives each task one attempt)
     * @return the session for {@code master}: the active one when it has that master, else a new one
     */
    public static SparkSession session(String master, int threadsPerTask, int maxFailures) {
        return sessionBuilder(master, threadsPerTask, maxFailures).getOrCreate();
    }

    /**
     * The settings of the sessions Attune starts, for callers that add their own (a cluster's class
     * path, executor memory) before {@code getOrCreate()}.
     *
     * @param master a Spark master URL
     * @param threadsPerTask CPUs per task, 0 for Spark's default (1)
     * @param maxFailures attempts per task, at least 1
     * @return the builder
     */
    public static SparkSession.Builder sessionBuilder(String master, int threadsPerTask, int maxFailures) {
        if (maxFailures < 1) {
            throw new ConfigurationException("spark.task.maxFailures " + maxFailures + " must be at least 1 (1: no retry)");
        }
        SparkSession.Builder b = SparkSession.builder().appName("attune").master(master)
                .config("spark.ui.enabled", "false")
                .config("spark.executor.extraJavaOptions", EXECUTOR_JAVA_OPTIONS)
                // a trial (or a prediction partition) whose executor died runs again on another one
                .config("spark.task.maxFailures", String.valueOf(maxFailures));
        if (threadsPerTask > 0) {
            b.config("spark.task.cpus", String.valueOf(threadsPerTask));
        }
        return b;
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
        return tune(master, spec, TuneOptions.defaults(), control);
    }

    /**
     * Runs a search on a session started for {@code master} with {@code spark.task.cpus} = the spec's
     * threads and {@code spark.task.maxFailures} = the options', stopped at the end.
     *
     * @param master Spark master URL
     * @param spec the search, as {@code attune tune} takes it
     * @param options GPUs per trial, attempts per trial, shipping the model
     * @param control stop requests (Ctrl-C): the running trials' job is cancelled
     * @return the summary also written to {@code best.json}
     * @throws Exception a trial's failure after Spark's retries, or a stop
     */
    public static Map<String, Object> tune(String master, Spec spec, TuneOptions options, TrainingControl control)
            throws Exception {
        // checked before a session starts: a GPU profile a master cannot schedule would leave the trials waiting
        TrialResources.check(master, options.gpusPerTrial(), null);
        SparkSession spark = session(master, spec.threads(), options.maxFailures());
        try {
            return tune(spark, spec, options, control);
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
        SparkContext sc = spark.sparkContext();
        TrialResources.check(sc.master(), options.gpusPerTrial(), sc.getConf());
        // Spark's default on a cluster is 4; a local master's executor is this JVM, so its retries do not matter
        int retries = sc.getConf().getInt("spark.task.maxFailures", 4);
        if (retries < 2 && !sc.isLocal()) {
            LOG.warn("attune tune: this session gives each task one attempt (spark.task.maxFailures={}, master {}): a trial"
                    + " whose executor dies fails the search; start it with AttuneSpark.session(master, threads,"
                    + " maxFailures) or set spark.task.maxFailures", retries, sc.master());
        }
        // the driver reads the data too (labels, the objective's direction): its own copies of URIs
        Staged train = Staged.onDriver(sc, spec.trainLocation(), "training data", false);
        Staged eval = Staged.onDriver(sc, spec.evalLocation(), "eval data", false);
        Spec onDriver = spec.withLocalCopies(null, train.local("training data"), eval.local("eval data"));
        return HyperparameterSearch.run(onDriver, trialRunner(spark, options), control);
    }

    /**
     * Options of a distributed search.
     *
     * @param gpusPerTrial GPUs each trial's task asks for (a task resource profile; needs executors
     *     with GPU resources and a cluster manager with stage-level scheduling), 0 for none
     * @param maxFailures attempts per trial in a session {@link #tune(String, Spec, TuneOptions,
     *     TrainingControl)} starts ({@code spark.task.maxFailures})
     * @param shipModel ship the (local) model folder with the job instead of having executors read
     *     its path
     */
    public record TuneOptions(int gpusPerTrial, int maxFailures, boolean shipModel) implements Serializable {
        /** Checks the numbers. */
        public TuneOptions {
            if (gpusPerTrial < 0) {
                throw new ConfigurationException("GPUs per trial " + gpusPerTrial + " must be 0 or more");
            }
            if (maxFailures < 1) {
                throw new ConfigurationException("attempts per trial (spark.task.maxFailures) " + maxFailures
                        + " must be at least 1");
            }
        }

        /** @return no GPUs, {@value AttuneSpark#DEFAULT_MAX_FAILURES} attempts, the model read at its path */
        public static TuneOptions defaults() {
            return new TuneOptions(0, DEFAULT_MAX_FAILURES, false);
        }

        /**
         * @param n GPUs per trial
         * @return these options with n GPUs per trial
         */
        public TuneOptions withGpusPerTrial(int n) {
            return new TuneOptions(n, maxFailures, shipModel);
        }

        /**
         * @param n attempts per trial
         * @return these options with n attempts
         */
        public TuneOptions withMaxFailures(int n) {
            return new TuneOptions(gpusPerTrial, n, shipModel);
        }

        /**
         * @param on whether to ship the model folder with the job
         * @return these options
         */
        public TuneOptions withShipModel(boolean on) {
            return new TuneOptions(gpusPerTrial, maxFailures, on);
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
            // what executors read: local paths in place, URIs through Hadoop's FileSystem, a shipped model from SparkFiles
            Staged model = Staged.onDriver(sc, spec.modelLocation(), "model folder", options.shipModel());
            Staged train = Staged.onDriver(sc, spec.trainLocation(), "training data", false);
            Staged eval = Staged.onDriver(sc, spec.evalLocation(), "eval data", false);
            JavaRDD<Trial> rdd = JavaSparkContext.fromSparkContext(sc).parallelize(trials, trials.size());
            ResourceProfile profile = TrialResources.profile(cpus, options.gpusPerTrial(), sc.getConf());
            if (profile != null) {
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
                sc.runJob(rdd.rdd(), new RunTrial(spec, cpus, model, train, eval), new AbstractFunction2<Object, String, BoxedUnit>() {
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
        private final Staged model;
        private final Staged train;
        private final Staged eval;

        RunTrial(Spec spec, int cpus, Staged model, Staged train, Staged eval) {
            this.spec = spec;
            this.cpus = cpus;
            this.model = model;
            this.train = train;
            this.eval = eval;
        }

        @Override
        public String apply(TaskContext context, scala.collection.Iterator<Trial> trials) {
            Trial t = trials.next();
            // this executor's copies of what the driver named (the driver's own copies mean nothing here)
            Spec local = spec.withLocalCopies(model.local("model folder"), train.local("training data"),
                    eval.local("eval data"));
            // the GPU Spark gave this task, where the trial asked for GPUs
            String device = TrialResources.device(context.resourcesJMap());
            String key;
            try {
                key = JSON.writeValueAsString(spec.settings()) + "#" + cpus + "#" + device;
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            Attuned a = SEARCHES.computeIfAbsent(key, k -> {
                Attune.Builder b = local.attuneBuilder(cpus);
                if (device != null) {
                    b.device(DeviceSpec.parse(device));
                }
                Attune attune = b.build();
                return new Attuned(attune, Prepared.read(local, attune));
            });
            if (context.attemptNumber() > 0) {
                // an earlier attempt died with its executor: its partial trial folder goes, the trial runs afresh
                deleteTree(spec.output().resolve(String.format(java.util.Locale.ROOT, "trial-%03d", t.id())));
            }
            Map<String, Object> rec = HyperparameterSearch.runTrial(local, a.attune(), a.data(), t, new TrainingControl());
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
     * @param threads intra-op threads per executor's model, 0 for the task's CPUs ({@code
     *     spark.task.cpus}, 1 unless set)
     * @param batchSize rows per forward pass, formed within a partition
     * @param executorColumn whether to add an {@code executor} column ({@code pid@host} of the JVM
     *     that predicted the row)
     * @param adapter a PEFT LoRA adapter folder (a path or a Hadoop URI) over the model folder, which
     *     is then its base; null for none
     * @param maxLength maximum tokens per input for an adapter over a plain checkpoint
     * @param shipModel ship the (local) model and adapter folders with the job ({@code
     *     SparkContext.addArchive}; executors find them with {@code SparkFiles.get}) instead of having
     *     executors read their paths
     */
    public record PredictOptions(Map<String, String> inputs, String engine, int threads, int batchSize,
            boolean executorColumn, String adapter, int maxLength, boolean shipModel) implements Serializable {
        /** Copies the inputs. */
        public PredictOptions {
            inputs = new LinkedHashMap<>(inputs);
            if (inputs.isEmpty()) {
                throw new ConfigurationException("PredictOptions: give at least one input column (text)");
            }
            if (batchSize < 1) {
                throw new ConfigurationException("PredictOptions: batch size " + batchSize + " must be at least 1");
            }
            if (maxLength < 1) {
                throw new ConfigurationException("PredictOptions: max length " + maxLength + " must be at least 1");
            }
        }

        /** @return text from column {@code text}, default engine and threads, batches of 32, no adapter */
        public static PredictOptions defaults() {
            return new PredictOptions(Map.of("text", "text"), null, 0, FineTunedModel.PREDICT_BATCH_SIZE, false, null,
                    128, false);
        }

        /**
         * @param column the column with the text
         * @return these options reading {@code text} from {@code column}
         */
        public PredictOptions withTextColumn(String column) {
            return withInput("text", column);
        }

        /**
         * @param field a task input field ({@code text_pair}, {@code question}, {@code context})
         * @param column the column that holds it
         * @return these options with that input
         */
        public PredictOptions withInput(String field, String column) {
            Map<String, String> m = new LinkedHashMap<>(inputs);
            m.put(field, column);
            return new PredictOptions(m, engine, threads, batchSize, executorColumn, adapter, maxLength, shipModel);
        }

        /**
         * @param name engine name
         * @return these options on that engine
         */
        public PredictOptions withEngine(String name) {
            return new PredictOptions(inputs, name, threads, batchSize, executorColumn, adapter, maxLength, shipModel);
        }

        /**
         * @param n intra-op threads
         * @return these options with n threads
         */
        public PredictOptions withThreads(int n) {
            return new PredictOptions(inputs, engine, n, batchSize, executorColumn, adapter, maxLength, shipModel);
        }

        /**
         * @param n rows per batch
         * @return these options with batches of n
         */
        public PredictOptions withBatchSize(int n) {
            return new PredictOptions(inputs, engine, threads, n, executorColumn, adapter, maxLength, shipModel);
        }

        /**
         * @param on whether to add the executor column
         * @return these options
         */
        public PredictOptions withExecutorColumn(boolean on) {
            return new PredictOptions(inputs, engine, threads, batchSize, on, adapter, maxLength, shipModel);
        }

        /**
         * @param folder a PEFT LoRA adapter folder (path or Hadoop URI) over the model folder, null for none
         * @return these options
         */
        public PredictOptions withAdapter(String folder) {
            return new PredictOptions(inputs, engine, threads, batchSize, executorColumn, folder, maxLength, shipModel);
        }

        /**
         * @param n maximum tokens per input (an adapter over a plain checkpoint)
         * @return these options
         */
        public PredictOptions withMaxLength(int n) {
            return new PredictOptions(inputs, engine, threads, batchSize, executorColumn, adapter, n, shipModel);
        }

        /**
         * @param on whether to ship the model (and adapter) folder with the job
         * @return these options
         */
        public PredictOptions withShipModel(boolean on) {
            return new PredictOptions(inputs, engine, threads, batchSize, executorColumn, adapter, maxLength, on);
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
     * {@link #predict(Dataset, Path, PredictOptions)} with the model folder given as a local path or
     * a Hadoop URI ({@code file:}, {@code hdfs:}, {@code s3a:}: any scheme with a FileSystem on the
     * class path, configured by the session's {@code spark.hadoop.*} settings); each executor copies
     * a URI's folder once.
     *
     * @param rows the rows
     * @param modelFolder the model folder's path or URI
     * @param options input columns, engine, threads, batch size, adapter, shipping
     * @return the rows with the prediction columns
     */
    public static Dataset<Row> predict(Dataset<Row> rows, String modelFolder, PredictOptions options) {
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
        return predictCounting(rows, modelFolder.toString(), options);
    }

    /**
     * {@link #predictCounting(Dataset, Path, PredictOptions)} with the model folder given as a local
     * path or a Hadoop URI.
     *
     * @param rows the rows
     * @param modelFolder the model folder's path or URI
     * @param options input columns, engine, threads, batch size, adapter, shipping
     * @return the rows with the prediction columns and the counter
     */
    public static Predicted predictCounting(Dataset<Row> rows, String modelFolder, PredictOptions options) {
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
        SparkContext sc = rows.sparkSession().sparkContext();
        Staged model = Staged.onDriver(sc, rows.sparkSession(), modelFolder, "model folder", options.shipModel());
        Staged adapter = options.adapter() == null ? null
                : Staged.onDriver(sc, rows.sparkSession(), options.adapter(), "adapter folder", options.shipModel());
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
        PartitionPredictor fn = new PartitionPredictor(model, adapter, options, fieldIndex, isString, errors);
        return new Predicted(rows.mapPartitions(fn, Encoders.row(out)), errors);
    }

    /** Predicts one partition in batches with this JVM's copy of the model. */
    static final class PartitionPredictor implements MapPartitionsFunction<Row, Row> {
        private static final long serialVersionUID = 1L;
        private final Staged folder;
        private final Staged adapter;
        private final PredictOptions options;
        private final Map<String, Integer> fieldIndex;
        private final Map<String, Boolean> isString;
        private final LongAccumulator errors;

        PartitionPredictor(Staged folder, Staged adapter, PredictOptions options, Map<String, Integer> fieldIndex,
                Map<String, Boolean> isString, LongAccumulator errors) {
            this.folder = folder;
            this.adapter = adapter;
            this.options = options;
            this.fieldIndex = new LinkedHashMap<>(fieldIndex);
            this.isString = new LinkedHashMap<>(isString);
            this.errors = errors;
        }

        @Override
        public Iterator<Row> call(Iterator<Row> rows) {
            Loaded model = model(folder, adapter, options);
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
    static Loaded model(Staged folder, Staged adapter, PredictOptions options) {
        // no thread count given: the task's CPUs (spark.task.cpus), not every core of the worker's host,
        // which the executor shares with the others on it
        TaskContext task = TaskContext.get();
        int threads = options.threads() > 0 ? options.threads() : task != null ? Math.max(1, task.cpus()) : 0;
        PredictOptions used = options.withThreads(threads);
        String key = folder.key() + "#" + (adapter == null ? "" : adapter.key()) + "#" + options.engine() + "#"
                + threads + "#" + options.maxLength();
        ConfigurationException failed = UNLOADABLE.get(key);
        if (failed != null) {
            // Spark's retries of the task in this JVM fail at once, with the first attempt's message
            throw new ConfigurationException(failed.getMessage(), failed);
        }
        try {
            return MODELS.computeIfAbsent(key, k -> load(folder, adapter, used));
        } catch (ConfigurationException e) {
            UNLOADABLE.put(key, e);
            throw e;
        }
    }

    private static Loaded load(Staged folder, Staged adapter, PredictOptions options) {
        Path path = folder.local("model folder");
        Path adapterPath = adapter == null ? null : adapter.local("adapter folder");
        try {
            PluginRegistry registry = PluginRegistry.discover();
            ModelSource source = registry.source(path);
            String engine = options.engine() != null ? options.engine() : source.preferredEngine().orElse(null);
            Attune attune = Attune.builder().registry(registry).engine(engine).device(DeviceSpec.parse("auto"))
                    .numThreads(options.threads()).build();
            FineTunedModel m = adapterPath == null ? attune.open(source)
                    : openAdapter(attune, attune.load(source, Map.of()), adapterPath, options.maxLength());
            LOG.info("attune predict: loaded {}{} on executor {}", folder.given(),
                    adapter == null ? "" : " with adapter " + adapter.given(), executorId());
            return new Loaded(attune, m, m.predictor());
        } catch (RuntimeException e) {
            throw new ConfigurationException("executor " + executorId() + " cannot load the model folder "
                    + folder.given() + (adapter == null ? "" : " with the adapter " + adapter.given()) + ": "
                    + e.getMessage(), e);
        }
    }

    /**
     * A LoRA adapter over its base, as {@code attune predict --adapter} opens it: with the task Attune
     * saved beside the adapter or in the base, else text classification with the base's head.
     */
    private static FineTunedModel openAdapter(Attune attune, dev.attune.model.PretrainedModel base, Path adapter,
            int maxLength) {
        if (!Files.isDirectory(adapter)) {
            throw new ConfigurationException("adapter " + adapter + " is not a folder; pass a PEFT adapter folder"
                    + " (adapter_config.json, adapter_model.safetensors)");
        }
        if (Files.isRegularFile(adapter.resolve("attune_adapter.json")) || base.config().has(FineTunedModel.CONFIG_KEY)) {
            return attune.open(base, adapter);
        }
        dev.attune.task.Task t = attune.taskFor(dev.attune.model.HeadSpec.HeadKind.of(base.config())
                .orElse(dev.attune.model.HeadSpec.HeadKind.SEQUENCE_CLASSIFICATION), base);
        return attune.open(base, t, maxLength, adapter);
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
        return predictFiles(master, model.toString(), input.toString(), output.toString(), options);
    }

    /**
     * {@link #predictFiles(String, Path, Path, Path, PredictOptions)} with each of model, input and
     * output given as a local path or a Hadoop URI ({@code hdfs://nn/rows.parquet}, {@code
     * s3a://bucket/out.parquet}).
     *
     * @param master Spark master URL
     * @param model the model folder's path or URI
     * @param input parquet (file or folder), csv or tsv with a header row, or jsonl/json
     * @param output the parquet folder to write; must not exist
     * @param options input columns, engine, threads, adapter, shipping
     * @return rows written and rows without a prediction
     * @throws ConfigurationException naming the input or output when it cannot be used
     */
    public static long[] predictFiles(String master, String model, String input, String output, PredictOptions options) {
        SparkSession spark = session(master, 0);
        try {
            org.apache.hadoop.conf.Configuration conf = spark.sparkContext().hadoopConfiguration();
            if (!exists(conf, input)) {
                throw new ConfigurationException(input + ": no such file or folder");
            }
            if (exists(conf, output)) {
                throw new ConfigurationException(output + ": exists; predict --spark writes a new parquet folder: remove"
                        + " it or name another --output");
            }
            Dataset<Row> rows = read(spark, input);
            Predicted p = predictCounting(rows, model, options);
            p.rows().write().parquet(output);
            long n = spark.read().parquet(output).count();
            long bad = p.rowsWithoutPrediction().value();
            LOG.info("attune predict: {} rows to {}; {} without a prediction (column error says why)", n, output, bad);
            System.err.printf(java.util.Locale.ROOT, "predict --spark: %d rows written to %s, %d without a prediction%n",
                    n, output, bad);
            return new long[] {n, bad};
        } finally {
            spark.stop();
        }
    }

    private static boolean exists(org.apache.hadoop.conf.Configuration conf, String location) {
        if (!Staged.isUri(location)) {
            return Files.exists(Path.of(location));
        }
        try {
            org.apache.hadoop.fs.Path p = new org.apache.hadoop.fs.Path(java.net.URI.create(location));
            return p.getFileSystem(conf).exists(p);
        } catch (IOException | RuntimeException e) {
            throw new ConfigurationException(location + ": cannot look it up through Hadoop's FileSystem (" + e.getMessage()
                    + "); a scheme needs its FileSystem on the class path (s3a: hadoop-aws) and its settings as"
                    + " spark.hadoop.* options", e);
        }
    }

    /**
     * @param spark the session
     * @param input parquet (file or folder), csv/tsv with a header row, or jsonl/json
     * @return its rows
     */
    public static Dataset<Row> read(SparkSession spark, Path input) {
        return read(spark, input.toString());
    }

    /**
     * @param spark the session
     * @param input a path or Hadoop URI of parquet (file or folder), csv/tsv with a header row, or jsonl/json
     * @return its rows
     */
    public static Dataset<Row> read(SparkSession spark, String input) {
        String path = input;
        String name = path.replaceAll("/+$", "");
        name = name.substring(name.lastIndexOf('/') + 1).toLowerCase(java.util.Locale.ROOT);
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
        if (name.endsWith(".parquet") || (!Staged.isUri(path) && Files.isDirectory(Path.of(path)))) {
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
