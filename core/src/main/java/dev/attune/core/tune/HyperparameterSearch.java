package dev.attune.core.tune;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.attune.Attune;
import dev.attune.core.train.callbacks.ModelCardCallback;
import dev.attune.core.train.callbacks.PlotsCallback;
import dev.attune.engine.EngineOptions.DeviceSpec;
import dev.attune.error.AttuneException;
import dev.attune.error.TrainingStoppedException;
import dev.attune.model.FineTunedModel;
import dev.attune.ops.DType;
import dev.attune.model.PretrainedModel;
import dev.attune.task.Dataset;
import dev.attune.task.Task;
import dev.attune.train.TrainingConfig;
import dev.attune.train.TrainingConfig.EvalStrategy;
import dev.attune.train.TrainingControl;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.Serializable;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.Consumer;
import org.apiguardian.api.API;

/**
 * Hyperparameter search over learning rate, batch size, epochs, warmup ratio and weight decay by
 * grid, random sampling or successive halving: every finished trial recorded in {@code trials.jsonl}
 * as it ends, {@code --resume} reusing them, and a sensitivity report ({@code tune_report.md}, one plot
 * per hyperparameter, {@code best.json}). Where the trials of a rung run is a {@link TrialRunner}: a
 * thread pool in this JVM ({@link #local}, what {@code attune tune} uses) or the tasks of a Spark
 * stage (attune-spark); the search, its records and its report are the same for both.
 */
@API(status = API.Status.EXPERIMENTAL, since = "0.2")
public final class HyperparameterSearch {
    /** The hyperparameters searched, in report order. */
    public static final List<String> PARAMS = List.of("learning_rate", "batch_size", "epochs", "warmup_ratio",
            "weight_decay");
    /** Where each finished trial is recorded, one JSON object a line. */
    public static final String TRIALS_FILE = "trials.jsonl";
    /** The settings a resumed search must match. */
    public static final String SETTINGS_FILE = "tune_settings.json";
    private static final ObjectMapper JSON = new ObjectMapper();

    private HyperparameterSearch() {}

    /**
     * One trial to run: its number, rung, share of its epochs and hyperparameters.
     *
     * @param id trial number, from 0, across rungs
     * @param rung successive-halving rung, 0 for grid and random search
     * @param budget share of the candidate's epochs this rung trains (1 in the last rung)
     * @param hyperparameters values by name ({@link #PARAMS})
     */
    public record Trial(int id, int rung, double budget, Map<String, Double> hyperparameters) implements Serializable {}

    /**
     * Runs the trials of one rung.
     */
    @FunctionalInterface
    public interface TrialRunner {
        /**
         * @param spec the search
         * @param trials the trials of one rung that are not recorded yet
         * @param control stop requests (Ctrl-C); a runner stops its trials when one is made
         * @param onDone called once per finished trial with its record, from one thread at a time
         * @throws Exception a trial's failure, after the other trials finished or stopped
         */
        void run(Spec spec, List<Trial> trials, TrainingControl control, Consumer<Map<String, Object>> onDone)
                throws Exception;
    }

    /**
     * The data of a search read once: the task with its labels, train and eval data, and the
     * objective's direction.
     *
     * @param labelled the task with the labels of the training data
     * @param train training data
     * @param eval evaluation data
     * @param maximise whether a higher objective is better
     */
    public record Prepared(Task labelled, Dataset train, Dataset eval, boolean maximise) {
        /**
         * @param spec the search
         * @param attune the Attune that reads it
         * @return the data read with the search's task options
         */
        public static Prepared read(Spec spec, Attune attune) {
            Task t = attune.task(spec.task, spec.taskOptions);
            Dataset trainData = t.read(spec.localPath(spec.train, spec.localTrain));
            Task evalReader = t;
            if (!spec.evalTaskOptions.isEmpty()) {
                Map<String, String> merged = new LinkedHashMap<>(spec.taskOptions);
                merged.putAll(spec.evalTaskOptions);
                evalReader = attune.task(spec.task, merged);
            }
            Dataset evalData = evalReader.read(spec.localPath(spec.eval, spec.localEval));
            Task labelled = t.withLabels(t.inferLabels(trainData));
            boolean maximise = TrainingConfig.builder().metricForBestModel(spec.metric()).build().greaterIsBetter(labelled);
            return new Prepared(labelled, trainData, evalData, maximise);
        }
    }

    /**
     * @param parallel trials at once
     * @return the runner of {@code attune tune}: a pool of {@code parallel} threads sharing one
     *     Attune (each trial gets threads / parallel intra-op threads) and the data read once
     */
    public static TrialRunner local(int parallel) {
        return (spec, trials, control, onDone) -> {
            try (Attune attune = spec.attuneBuilder(spec.threadsPerTrial(parallel)).build()) {
                Prepared data = Prepared.read(spec, attune);
                ExecutorService pool = Executors.newFixedThreadPool(Math.max(1, parallel));
                try {
                    List<Future<Map<String, Object>>> futures = new ArrayList<>();
                    for (Trial t : trials) {
                        futures.add(pool.submit(() -> runTrial(spec, attune, data, t, control)));
                    }
                    Exception failure = null;
                    for (Future<Map<String, Object>> f : futures) {
                        try {
                            onDone.accept(f.get());
                        } catch (ExecutionException e) {
                            // the other trials stop after their current step; the finished ones are still recorded
                            Exception cause = e.getCause() instanceof Exception ex ? ex : e;
                            if (failure == null || (failure instanceof TrainingStoppedException
                                    && !(cause instanceof TrainingStoppedException))) {
                                failure = cause; // a trial's own error outranks the stops it caused
                            }
                            control.requestStop("trial failed: " + cause.getMessage());
                        }
                    }
                    if (failure != null) {
                        throw failure;
                    }
                } finally {
                    // no trial may still be inside the engine when the try block closes it
                    if (!trials.isEmpty()) {
                        pool.shutdownNow();
                    }
                    pool.shutdown();
                    if (!pool.awaitTermination(10, java.util.concurrent.TimeUnit.MINUTES)) {
                        System.err.println("tune: trials still running after 10 minutes");
                    }
                }
            }
        };
    }

    /**
     * Runs the search: every rung's unrecorded trials through {@code runner}, each finished trial
     * appended to {@code trials.jsonl} as the runner reports it, then the report.
     *
     * @param spec the search
     * @param runner where the trials run
     * @param control stop requests
     * @return the summary also written to {@code best.json}
     * @throws Exception a trial's failure; a stop throws {@link TrainingStoppedException} naming
     *     how many trials are recorded
     */
    public static Map<String, Object> run(Spec spec, TrialRunner runner, TrainingControl control) throws Exception {
        Path output = Path.of(spec.output);
        List<Space> spaces = List.of(Space.parse("learning_rate", spec.learningRate),
                Space.parse("batch_size", spec.batchSize), Space.parse("epochs", spec.epochs),
                Space.parse("warmup_ratio", spec.warmupRatio), Space.parse("weight_decay", spec.weightDecay));
        String search = spec.search.toLowerCase(Locale.ROOT);
        if (!List.of("grid", "random", "halving").contains(search)) {
            throw new AttuneException("--search must be grid, random or halving, not '" + spec.search + "'");
        }
        Files.createDirectories(output);
        Map<String, Object> settings = spec.settings();
        Map<Integer, Map<String, Object>> recorded = spec.resume ? recorded(output, settings) : Map.of();
        if (spec.resume) {
            // keep every complete record (a cut-off last line is dropped); new trials are appended
            StringBuilder kept = new StringBuilder();
            for (Map<String, Object> rec : recorded.values()) {
                kept.append(JSON.writeValueAsString(rec)).append('\n');
            }
            Files.writeString(output.resolve(TRIALS_FILE), kept.toString(), StandardCharsets.UTF_8);
        }
        Files.writeString(output.resolve(SETTINGS_FILE), JSON.writerWithDefaultPrettyPrinter().writeValueAsString(settings)
                + "\n", StandardCharsets.UTF_8);
        // the objective's direction, as the trainer ranks checkpoints: the task's own metric in its direction,
        // else lower is better for a loss
        boolean maximise;
        try (Attune attune = spec.attuneBuilder(1).build()) {
            maximise = Prepared.read(spec, attune).maximise();
        }
        List<Map<String, Object>> records = new ArrayList<>();
        try (BufferedWriter log = Files.newBufferedWriter(output.resolve(TRIALS_FILE), StandardCharsets.UTF_8,
                StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                spec.resume ? StandardOpenOption.APPEND : StandardOpenOption.TRUNCATE_EXISTING)) {
            Random random = new Random(spec.seed);
            List<Map<String, Double>> candidates = new ArrayList<>();
            if (search.equals("grid")) {
                candidates.addAll(grid(spaces));
            } else {
                for (int i = 0; i < spec.trials; i++) {
                    Map<String, Double> c = new LinkedHashMap<>();
                    for (Space s : spaces) {
                        c.put(s.name(), s.sample(random));
                    }
                    candidates.add(c);
                }
            }
            int eta = spec.halvingFactor;
            int rungs = 1;
            if (search.equals("halving")) {
                while (Math.pow(eta, rungs) <= candidates.size()) {
                    rungs++;
                }
            }
            List<Map<String, Double>> alive = candidates;
            int trialId = 0;
            for (int rung = 0; rung < rungs; rung++) {
                // successive halving: early rungs train a 1/eta^k share of each candidate's epochs
                double budget = Math.pow(eta, rung - (rungs - 1));
                List<Trial> toRun = new ArrayList<>();
                List<Map<String, Object>> done = new ArrayList<>();
                for (Map<String, Double> c : alive) {
                    int id = trialId++;
                    Map<String, Object> earlier = recorded.get(id);
                    if (earlier != null && !sameTrial(earlier, c, rung)) {
                        throw new AttuneException(output.resolve(TRIALS_FILE) + ": trial " + id + " was recorded with "
                                + earlier.get("hyperparameters") + " in rung " + earlier.get("rung") + ", but this search"
                                + " gives it " + c + " in rung " + rung + "; resume with the same options or use a new"
                                + " --output");
                    }
                    if (earlier != null) {
                        System.err.printf(Locale.ROOT, "trial %d (rung %d): recorded earlier, reused -> %s %.4f%n", id,
                                rung, spec.objective, (Double) earlier.get("objective"));
                        done.add(earlier);
                        records.add(earlier);
                        continue;
                    }
                    toRun.add(new Trial(id, rung, budget, c));
                }
                Consumer<Map<String, Object>> onDone = rec -> {
                    synchronized (records) {
                        done.add(rec);
                        records.add(rec);
                        try {
                            log.write(JSON.writeValueAsString(rec));
                            log.newLine();
                            log.flush();
                        } catch (IOException e) {
                            throw new java.io.UncheckedIOException(e);
                        }
                    }
                };
                try {
                    if (control.isStopRequested()) {
                        throw new TrainingStoppedException(control.stopReason() + ": rung " + rung + " not started", 0,
                                null);
                    }
                    runner.run(spec, toRun, control, onDone);
                } catch (TrainingStoppedException e) {
                    throw new TrainingStoppedException(control.stopReason() + ": the search stopped; " + records.size()
                            + " finished trial(s) are recorded in " + output.resolve(TRIALS_FILE) + ", the running ones"
                            + " are not; run the same command with --resume to run the rest", 0, null);
                }
                Comparator<Map<String, Object>> byObjective = Comparator.comparingDouble(m -> (Double) m.get("objective"));
                if (maximise) {
                    byObjective = byObjective.reversed();
                }
                // ties keep trial order, whatever order the trials finished in
                done.sort(Comparator.comparingInt((Map<String, Object> m) -> ((Number) m.get("trial")).intValue()));
                done.sort(byObjective);
                int keep = Math.max(1, done.size() / eta);
                List<Map<String, Double>> next = new ArrayList<>();
                for (Map<String, Object> d : done.subList(0, keep)) {
                    next.add(hyperparameters(d));
                }
                alive = next;
            }
        } finally {
            control.requestStop("the search ended");
        }
        records.sort(Comparator.comparingInt((Map<String, Object> m) -> ((Number) m.get("trial")).intValue()));
        return report(output, spec.search, records, spec.metric(), maximise);
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Double> hyperparameters(Map<String, Object> rec) {
        Map<String, Double> h = new LinkedHashMap<>();
        ((Map<String, Object>) rec.get("hyperparameters")).forEach((k, v) -> h.put(k, ((Number) v).doubleValue()));
        return h;
    }

    /**
     * Runs one trial: fine-tunes the search's model with the trial's hyperparameters and scores it.
     *
     * @param spec the search
     * @param attune the Attune to train with
     * @param data the search's data
     * @param t the trial
     * @param control stop requests
     * @return the trial's record (a line of {@code trials.jsonl})
     */
    public static Map<String, Object> runTrial(Spec spec, Attune attune, Prepared data, Trial t, TrainingControl control) {
        if (control.isStopRequested()) {
            throw new TrainingStoppedException(control.stopReason() + ": trial " + t.id() + " not started", 0, null);
        }
        Map<String, Double> h = t.hyperparameters();
        Path dir = Path.of(spec.output).resolve(String.format(Locale.ROOT, "trial-%03d", t.id()));
        TrainingConfig config = TrainingConfig.builder().outputDir(dir).learningRate(h.get("learning_rate"))
                .perDeviceTrainBatchSize((int) Math.round(h.get("batch_size")))
                .numTrainEpochs(Math.max(1e-3, h.get("epochs") * t.budget())).maxSteps(spec.maxSteps)
                .warmupRatio(h.get("warmup_ratio")).weightDecay(h.get("weight_decay")).maxLength(spec.maxLength)
                .seed(spec.seed).loggingSteps(50).evalStrategy(EvalStrategy.EPOCH).disableTqdm(true).tensorboard(false)
                // a trial keeps its log; the search's report shows the trials instead of plots and cards
                .withoutDefault(PlotsCallback.class).withoutDefault(ModelCardCallback.class)
                .mixedPrecision(spec.mixedPrecision)
                .gradientCheckpointing(spec.gradientCheckpointing).autoFindBatchSize(spec.autoFindBatchSize)
                .build();
        long start = System.nanoTime();
        try (PretrainedModel base = attune.load(spec.localPath(spec.model, spec.localModel), spec.overrides)) {
            Attune.Result result = attune.fineTune(base, data.labelled(), data.train(), data.eval(), config, control);
            try (FineTunedModel m = result.model()) {
                Double value = result.training().evalMetrics().get(spec.metric());
                if (value == null) {
                    throw new AttuneException("--objective " + spec.objective + " is not among the eval metrics "
                            + result.training().evalMetrics().keySet());
                }
                Map<String, Object> rec = new LinkedHashMap<>();
                rec.put("trial", t.id());
                rec.put("rung", t.rung());
                rec.put("budget", t.budget());
                rec.put("hyperparameters", h);
                rec.put("objective", value);
                rec.put("eval_metrics", result.training().evalMetrics());
                rec.put("global_steps", result.training().globalSteps());
                rec.put("seconds", (System.nanoTime() - start) / 1e9);
                System.err.printf(Locale.ROOT, "trial %d (rung %d): %s -> %s %.4f%n", t.id(), t.rung(), h,
                        spec.objective, value);
                return rec;
            }
        }
    }

    /** One hyperparameter's values: a list, or a log-uniform range. */
    record Space(String name, List<Double> values, double lo, double hi) {
        static Space parse(String name, String spec) {
            if (spec.contains(":")) {
                String[] p = spec.split(":");
                double lo = Double.parseDouble(p[0]);
                double hi = Double.parseDouble(p[1]);
                if (!(lo > 0 && hi >= lo)) {
                    throw new AttuneException("--" + name.replace('_', '-') + " range " + spec + " must be lo:hi with 0 < lo <= hi");
                }
                return new Space(name, List.of(), lo, hi);
            }
            List<Double> v = new ArrayList<>();
            for (String s : spec.split(",")) {
                try {
                    v.add(Double.parseDouble(s.trim()));
                } catch (NumberFormatException e) {
                    throw new AttuneException("--" + name.replace('_', '-') + ": '" + s + "' is not a number");
                }
            }
            return new Space(name, v, 0, 0);
        }

        double sample(Random r) {
            return values.isEmpty() ? Math.exp(Math.log(lo) + r.nextDouble() * (Math.log(hi) - Math.log(lo)))
                    : values.get(r.nextInt(values.size()));
        }

        List<Double> grid() {
            if (values.isEmpty()) {
                // a range on a grid: lo, the geometric middle and hi
                return List.of(lo, Math.sqrt(lo * hi), hi);
            }
            return values;
        }
    }

    /**
     * The trials an earlier run recorded, by trial number, after checking that it ran with these
     * settings; a truncated last line (the run was killed while writing it) is dropped.
     */
    @SuppressWarnings("unchecked")
    private static Map<Integer, Map<String, Object>> recorded(Path output, Map<String, Object> settings) throws IOException {
        Path log = output.resolve(TRIALS_FILE);
        if (!Files.exists(log)) {
            System.err.println("tune --resume: no " + log + " yet; starting afresh");
            return Map.of();
        }
        Path saved = output.resolve(SETTINGS_FILE);
        if (Files.exists(saved)) {
            Map<String, Object> before = JSON.readValue(saved.toFile(), Map.class);
            Map<String, Object> now = JSON.readValue(JSON.writeValueAsString(settings), Map.class);
            if (!before.equals(now)) {
                List<String> differ = new ArrayList<>();
                for (String k : now.keySet()) {
                    if (!java.util.Objects.equals(before.get(k), now.get(k))) {
                        differ.add(k + " (" + before.get(k) + " then, " + now.get(k) + " now)");
                    }
                }
                throw new AttuneException(saved + ": the recorded trials were run with other settings: "
                        + String.join(", ", differ) + "; resume with the same options or use a new --output");
            }
        } else {
            System.err.println("tune --resume: " + saved + " is missing (a run of an older version); the recorded"
                    + " trials are reused where trial number, rung and hyperparameters match");
        }
        Map<Integer, Map<String, Object>> out = new LinkedHashMap<>();
        List<String> lines = Files.readAllLines(log, StandardCharsets.UTF_8);
        for (int i = 0; i < lines.size(); i++) {
            String line = lines.get(i).strip();
            if (line.isEmpty()) {
                continue;
            }
            try {
                Map<String, Object> rec = JSON.readValue(line, Map.class);
                out.put(((Number) rec.get("trial")).intValue(), rec);
            } catch (IOException | RuntimeException e) {
                if (i == lines.size() - 1) {
                    System.err.println("tune --resume: " + log + " line " + (i + 1) + " is incomplete; that trial runs again");
                    continue;
                }
                throw new AttuneException(log + " line " + (i + 1) + " is not a trial record (" + e.getMessage()
                        + "); repair or remove the line, or use a new --output");
            }
        }
        return out;
    }

    /** Whether a recorded trial is the one about to run: same rung and the same hyperparameter values. */
    @SuppressWarnings("unchecked")
    static boolean sameTrial(Map<String, Object> rec, Map<String, Double> candidate, int rung) {
        if (!(rec.get("rung") instanceof Number n) || n.intValue() != rung
                || !(rec.get("hyperparameters") instanceof Map<?, ?> h) || !(rec.get("objective") instanceof Number)) {
            return false;
        }
        for (Map.Entry<String, Double> e : candidate.entrySet()) {
            Object v = ((Map<String, Object>) h).get(e.getKey());
            if (!(v instanceof Number num) || num.doubleValue() != e.getValue()) {
                return false;
            }
        }
        return true;
    }

    static List<Map<String, Double>> grid(List<Space> spaces) {
        List<Map<String, Double>> out = new ArrayList<>();
        out.add(new LinkedHashMap<>());
        for (Space s : spaces) {
            List<Map<String, Double>> next = new ArrayList<>();
            for (Map<String, Double> partial : out) {
                for (double v : s.grid()) {
                    Map<String, Double> m = new LinkedHashMap<>(partial);
                    m.put(s.name(), v);
                    next.add(m);
                }
            }
            out = next;
        }
        return out;
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> report(Path output, String search, List<Map<String, Object>> records,
            String metric, boolean maximise) throws IOException {
        Comparator<Map<String, Object>> best = Comparator.comparingDouble(m -> ((Number) m.get("objective")).doubleValue());
        // the first of equal bests in trial order, however the trials were scheduled
        Map<String, Object> top = records.get(0);
        for (Map<String, Object> r : records) {
            int c = best.compare(r, top);
            if (maximise ? c > 0 : c < 0) {
                top = r;
            }
        }
        StringBuilder md = new StringBuilder("# Hyperparameter search\n\n");
        md.append("Search ").append(search).append(", ").append(records.size()).append(" trials, objective eval_")
                .append(metric).append(maximise ? " (higher is better)" : " (lower is better)").append(".\n\n");
        md.append("Best: trial ").append(top.get("trial")).append(", ").append(top.get("hyperparameters"))
                .append(" -> ").append(String.format(Locale.ROOT, "%.4f", (Double) top.get("objective"))).append("\n\n");
        md.append("| trial | rung | ").append(String.join(" | ", PARAMS)).append(" | eval_").append(metric)
                .append(" | seconds |\n|").append("---|".repeat(PARAMS.size() + 4)).append('\n');
        for (Map<String, Object> r : records) {
            Map<String, Double> h = hyperparameters(r);
            md.append("| ").append(r.get("trial")).append(" | ").append(r.get("rung"));
            for (String p : PARAMS) {
                md.append(" | ").append(String.format(Locale.ROOT, "%.3g", h.get(p)));
            }
            md.append(String.format(Locale.ROOT, " | %.4f | %.1f |%n", (Double) r.get("objective"), (Double) r.get("seconds")));
        }
        md.append("\n## Sensitivity\n\nMean objective per value of each hyperparameter (spread = best mean - worst mean):\n\n");
        for (String p : PARAMS) {
            Map<Double, List<Double>> byValue = new TreeMap<>();
            for (Map<String, Object> r : records) {
                double v = hyperparameters(r).get(p);
                // continuous values (log-uniform learning rates) are binned by their order of magnitude / 4
                double key = p.equals("learning_rate") ? Math.pow(10, Math.round(Math.log10(v) * 4) / 4.0) : v;
                byValue.computeIfAbsent(key, k -> new ArrayList<>()).add((Double) r.get("objective"));
            }
            double hi = Double.NEGATIVE_INFINITY;
            double lo = Double.POSITIVE_INFINITY;
            StringBuilder row = new StringBuilder();
            List<double[]> points = new ArrayList<>();
            for (Map.Entry<Double, List<Double>> e : byValue.entrySet()) {
                double mean = e.getValue().stream().mapToDouble(Double::doubleValue).average().orElse(Double.NaN);
                hi = Math.max(hi, mean);
                lo = Math.min(lo, mean);
                row.append(String.format(Locale.ROOT, " %.3g: %.4f (n=%d);", e.getKey(), mean, e.getValue().size()));
            }
            for (Map<String, Object> r : records) {
                points.add(new double[] {hyperparameters(r).get(p), (Double) r.get("objective")});
            }
            points.sort(Comparator.comparingDouble(x -> x[0]));
            md.append(String.format(Locale.ROOT, "- **%s** spread %.4f:%s%n", p, hi - lo, row));
            Path png = output.resolve("sensitivity_" + p + ".png");
            PlotsCallback.chart(png, "eval_" + metric + " vs " + p, p, Map.of("trials", points));
            md.append("\n![").append(p).append("](").append(png.getFileName()).append(")\n\n");
        }
        Files.writeString(output.resolve("tune_report.md"), md.toString(), StandardCharsets.UTF_8);
        Map<String, Object> summary = new LinkedHashMap<>();
        summary.put("best_trial", top.get("trial"));
        summary.put("best_hyperparameters", top.get("hyperparameters"));
        summary.put("best_objective", top.get("objective"));
        summary.put("trials", records.size());
        String json = JSON.writeValueAsString(summary);
        Files.writeString(output.resolve("best.json"), json + "\n", StandardCharsets.UTF_8);
        System.out.println(json);
        return summary;
    }

    /**
     * A search's settings, as {@code attune tune} takes them (same names, same defaults).
     * Serializable, so a cluster's executors get it with each trial.
     */
    public static final class Spec implements Serializable {
        private static final long serialVersionUID = 1L;
        String model;
        String task = "text-classification";
        String train;
        String eval;
        Map<String, String> taskOptions = new LinkedHashMap<>();
        Map<String, String> evalTaskOptions = new LinkedHashMap<>();
        LinkedHashMap<String, Object> dataDescription;
        String output;
        String search = "random";
        int trials = 12;
        int halvingFactor = 3;
        String objective = "eval_accuracy";
        String learningRate = "1e-5:1e-3";
        String batchSize = "16,32";
        String epochs = "1,2,3";
        String warmupRatio = "0,0.1";
        String weightDecay = "0,0.01";
        int maxLength = 128;
        long maxSteps = -1;
        long seed = 42;
        boolean resume;
        Map<String, String> overrides = new LinkedHashMap<>();
        String engine;
        String device = "auto";
        int threads;
        DType mixedPrecision = DType.FLOAT32;
        boolean gradientCheckpointing;
        boolean autoFindBatchSize;
        /** Where this JVM reads model, train and eval when they were given as locations it cannot open itself (null: as given). */
        String localModel;
        String localTrain;
        String localEval;

        private Spec() {}

        /**
         * A builder from locations as given: local paths, or URIs such as {@code hdfs://nn/data/train.tsv}
         * that a distributed runner copies to its JVMs before it reads them ({@link #withLocalCopies}).
         *
         * @param model model folder (or its location) to start from
         * @param train training data (or its location)
         * @param eval data the objective is measured on (or its location)
         * @param output folder for trials.jsonl, the report and plots
         * @return a builder with {@code attune tune}'s defaults
         */
        public static Builder builder(String model, String train, String eval, Path output) {
            Builder b = new Builder();
            b.s.model = model;
            b.s.train = train;
            b.s.eval = eval;
            b.s.output = output.toString();
            return b;
        }

        /** @return the model folder as given (a path or a URI) */
        public String modelLocation() {
            return model;
        }

        /** @return the training data as given (a path or a URI) */
        public String trainLocation() {
            return train;
        }

        /** @return the eval data as given (a path or a URI) */
        public String evalLocation() {
            return eval;
        }

        /**
         * The same search reading its inputs from local copies; its {@link #settings()} (and so
         * {@code --resume}) still name the locations as given.
         *
         * @param model local copy of the model folder, null to read it as given
         * @param train local copy of the training data, null to read it as given
         * @param eval local copy of the eval data, null to read it as given
         * @return a copy of this search
         */
        public Spec withLocalCopies(Path model, Path train, Path eval) {
            Spec out = copy();
            out.localModel = model == null ? null : model.toString();
            out.localTrain = train == null ? null : train.toString();
            out.localEval = eval == null ? null : eval.toString();
            return out;
        }

        private Spec copy() {
            Spec out = new Spec();
            out.model = this.model;
            out.task = this.task;
            out.train = this.train;
            out.eval = this.eval;
            out.taskOptions = new LinkedHashMap<>(this.taskOptions);
            out.evalTaskOptions = new LinkedHashMap<>(this.evalTaskOptions);
            out.dataDescription = this.dataDescription == null ? null : new LinkedHashMap<>(this.dataDescription);
            out.output = this.output;
            out.search = this.search;
            out.trials = this.trials;
            out.halvingFactor = this.halvingFactor;
            out.objective = this.objective;
            out.learningRate = this.learningRate;
            out.batchSize = this.batchSize;
            out.epochs = this.epochs;
            out.warmupRatio = this.warmupRatio;
            out.weightDecay = this.weightDecay;
            out.maxLength = this.maxLength;
            out.maxSteps = this.maxSteps;
            out.seed = this.seed;
            out.resume = this.resume;
            out.overrides = new LinkedHashMap<>(this.overrides);
            out.engine = this.engine;
            out.device = this.device;
            out.threads = this.threads;
            out.mixedPrecision = this.mixedPrecision;
            out.gradientCheckpointing = this.gradientCheckpointing;
            out.autoFindBatchSize = this.autoFindBatchSize;
            out.localModel = this.localModel;
            out.localTrain = this.localTrain;
            out.localEval = this.localEval;
            return out;
        }

        Path localPath(String given, String local) {
            return Path.of(local != null ? local : given);
        }

        /**
         * @param model model folder to start from
         * @param train training data
         * @param eval data the objective is measured on
         * @param output folder for trials.jsonl, the report and plots
         * @return a builder with {@code attune tune}'s defaults
         */
        public static Builder builder(Path model, Path train, Path eval, Path output) {
            Builder b = new Builder();
            b.s.model = model.toString();
            b.s.train = train.toString();
            b.s.eval = eval.toString();
            b.s.output = output.toString();
            return b;
        }

        /** @return the folder the search writes */
        public Path output() {
            return Path.of(output);
        }

        /** @return the eval metric's name without {@code eval_} */
        public String metric() {
            return objective.startsWith("eval_") ? objective.substring(5) : objective;
        }

        /** @return the intra-op threads given ({@code --threads}), 0 for the engine's default */
        public int threads() {
            return threads;
        }

        /**
         * @param parallel trials at once in one JVM
         * @return threads per trial: the thread budget (the cores where none is given) shared out
         */
        public int threadsPerTrial(int parallel) {
            int total = threads > 0 ? threads : Runtime.getRuntime().availableProcessors();
            return Math.max(1, total / Math.max(1, parallel));
        }

        /**
         * @param threadsPerTrial intra-op threads
         * @return a builder for the Attune that runs trials: engine, device, threads and seed
         */
        public Attune.Builder attuneBuilder(int threadsPerTrial) {
            return Attune.builder().engine(engine).device(DeviceSpec.parse(device)).numThreads(threadsPerTrial)
                    .seed(seed);
        }

        /** @return what decides a trial's outcome besides its hyperparameters: a resumed search must match it */
        public Map<String, Object> settings() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("model", model);
            m.put("task", task);
            m.put("train", train);
            m.put("eval", eval);
            if (dataDescription != null) {
                m.putAll(dataDescription);
            } else {
                m.put("task_options", new TreeMap<>(taskOptions));
                if (!evalTaskOptions.isEmpty()) {
                    m.put("eval_task_options", new TreeMap<>(evalTaskOptions));
                }
            }
            m.put("search", search.toLowerCase(Locale.ROOT));
            m.put("trials", trials);
            m.put("halving_factor", halvingFactor);
            m.put("objective", objective);
            m.put("learning_rate", learningRate);
            m.put("batch_size", batchSize);
            m.put("epochs", epochs);
            m.put("warmup_ratio", warmupRatio);
            m.put("weight_decay", weightDecay);
            m.put("max_length", maxLength);
            m.put("max_steps", maxSteps);
            m.put("seed", seed);
            m.put("set", new TreeMap<>(overrides));
            m.put("engine", engine);
            if (mixedPrecision != DType.FLOAT32) {
                m.put("mixed_precision", mixedPrecision.name()); // absent for float32: earlier searches still resume
            }
            return m;
        }

        /** Builds a {@link Spec}; every setter is the {@code attune tune} option of the same name. */
        public static final class Builder {
            private final Spec s = new Spec();

            private Builder() {}

            /**
             * @param v task name
             * @return this
             */
            public Builder task(String v) { s.task = v; return this; }
            /**
             * @param v task options (text_column, label_column, ...)
             * @return this
             */
            public Builder taskOptions(Map<String, String> v) { s.taskOptions = new LinkedHashMap<>(v); return this; }
            /**
             * @param v task options for reading the eval file only
             * @return this
             */
            public Builder evalTaskOptions(Map<String, String> v) { s.evalTaskOptions = new LinkedHashMap<>(v); return this; }
            /**
             * @param v how the data options are recorded in {@value HyperparameterSearch#SETTINGS_FILE} (the CLI's own
             *     layout, so its earlier folders resume)
             * @return this
             */
            public Builder dataDescription(Map<String, Object> v) { s.dataDescription = new LinkedHashMap<>(v); return this; }
            /**
             * @param v grid, random or halving
             * @return this
             */
            public Builder search(String v) { s.search = v; return this; }
            /**
             * @param v random: trials; halving: trials in the first rung
             * @return this
             */
            public Builder trials(int v) { s.trials = v; return this; }
            /**
             * @param v halving: keep 1/v each rung
             * @return this
             */
            public Builder halvingFactor(int v) { s.halvingFactor = v; return this; }
            /**
             * @param v eval metric to optimise
             * @return this
             */
            public Builder objective(String v) { s.objective = v; return this; }
            /**
             * @param v values a,b,c or a log-uniform range lo:hi
             * @return this
             */
            public Builder learningRate(String v) { s.learningRate = v; return this; }
            /**
             * @param v values
             * @return this
             */
            public Builder batchSize(String v) { s.batchSize = v; return this; }
            /**
             * @param v values
             * @return this
             */
            public Builder epochs(String v) { s.epochs = v; return this; }
            /**
             * @param v values
             * @return this
             */
            public Builder warmupRatio(String v) { s.warmupRatio = v; return this; }
            /**
             * @param v values
             * @return this
             */
            public Builder weightDecay(String v) { s.weightDecay = v; return this; }
            /**
             * @param v tokens per example
             * @return this
             */
            public Builder maxLength(int v) { s.maxLength = v; return this; }
            /**
             * @param v cap on each trial's steps, -1 for none
             * @return this
             */
            public Builder maxSteps(long v) { s.maxSteps = v; return this; }
            /**
             * @param v seed of sampling and of every trial
             * @return this
             */
            public Builder seed(long v) { s.seed = v; return this; }
            /**
             * @param v reuse the trials recorded by a run with the same settings
             * @return this
             */
            public Builder resume(boolean v) { s.resume = v; return this; }
            /**
             * @param v config.json overrides
             * @return this
             */
            public Builder overrides(Map<String, String> v) { s.overrides = new LinkedHashMap<>(v); return this; }
            /**
             * @param v engine name, null for the default
             * @return this
             */
            public Builder engine(String v) { s.engine = v; return this; }
            /**
             * @param v auto, cpu, gpu or gpu:N
             * @return this
             */
            public Builder device(String v) { s.device = v; return this; }
            /**
             * @param v intra-op thread budget, 0 for all cores
             * @return this
             */
            public Builder threads(int v) { s.threads = v; return this; }
            /**
             * @param v {@code --bf16}/{@code --fp16}: BFLOAT16 or FLOAT16 trains every trial in that mixed
             *     precision, FLOAT32 (the default) in full precision
             * @return this
             */
            public Builder mixedPrecision(DType v) { s.mixedPrecision = v == null ? DType.FLOAT32 : v; return this; }
            /**
             * @param v {@code --gradient-checkpointing}: every trial recomputes its layers in the backward pass
             * @return this
             */
            public Builder gradientCheckpointing(boolean v) { s.gradientCheckpointing = v; return this; }
            /**
             * @param v {@code --auto-find-batch-size}: a trial that runs out of memory runs its steps in
             *     passes of half the size
             * @return this
             */
            public Builder autoFindBatchSize(boolean v) { s.autoFindBatchSize = v; return this; }

            /** @return the settings */
            public Spec build() {
                return s.copy();
            }
        }
    }
}
