package dev.attune.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.attune.Attune;
import dev.attune.model.FineTunedModel;
import dev.attune.error.AttuneException;
import dev.attune.error.TrainingStoppedException;
import dev.attune.model.ModelSource;
import dev.attune.model.PretrainedModel;
import dev.attune.task.Dataset;
import dev.attune.task.Task;
import dev.attune.core.train.callbacks.ModelCardCallback;
import dev.attune.core.train.callbacks.PlotsCallback;
import dev.attune.train.TrainingConfig;
import dev.attune.train.TrainingConfig.EvalStrategy;
import dev.attune.train.TrainingControl;
import java.io.BufferedWriter;
import java.io.IOException;
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
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code attune tune}: hyperparameter search over learning rate, batch size, epochs, warmup ratio and
 * weight decay by grid, random sampling or successive halving, trials run in parallel within a thread
 * budget, every trial recorded in trials.jsonl, and a sensitivity report (table and one plot per
 * hyperparameter of the objective against its values).
 */
@Command(name = "tune", mixinStandardHelpOptions = true,
        description = "Search fine-tuning hyperparameters (grid, random, successive halving) on an eval metric.")
final class TuneCommand implements Callable<Integer> {
    @Option(names = "--model", required = true, description = "model folder to start from (HuggingFace, TF Hub SavedModel or ONNX export)") Path model;
    @Option(names = "--task", defaultValue = "text-classification") String task;
    @Option(names = "--train", required = true) Path train;
    @Option(names = "--eval", required = true, description = "data the objective is measured on") Path eval;
    @Mixin TaskOptionsMixin data;
    @Option(names = "--output", required = true, description = "folder for trials.jsonl, the report and plots") Path output;
    @Option(names = "--search", defaultValue = "random", description = "grid, random or halving (default: ${DEFAULT-VALUE})")
    String search;
    @Option(names = "--trials", defaultValue = "12", description = "random: trials; halving: trials in the first rung")
    int trials;
    @Option(names = "--halving-factor", defaultValue = "3", description = "halving: keep 1/eta each rung") int eta;
    @Option(names = "--objective", defaultValue = "eval_accuracy", description = "eval metric to optimise: the task's"
            + " own metric in the task's direction (perplexity is minimised), a loss minimised, others maximised")
    String objective;
    @Option(names = "--learning-rate", defaultValue = "1e-5:1e-3",
            description = "values a,b,c or a log-uniform range lo:hi") String learningRate;
    @Option(names = "--batch-size", defaultValue = "16,32") String batchSize;
    @Option(names = "--epochs", defaultValue = "1,2,3") String epochs;
    @Option(names = "--warmup-ratio", defaultValue = "0,0.1") String warmupRatio;
    @Option(names = "--weight-decay", defaultValue = "0,0.01") String weightDecay;
    @Option(names = "--max-length", defaultValue = "128") int maxLength;
    @Option(names = "--max-steps", defaultValue = "-1", description = "cap each trial's steps (quick searches)") long maxSteps;
    @Option(names = "--parallel", defaultValue = "2", description = "trials at once") int parallel;
    @Option(names = "--seed", defaultValue = "42") long seed;
    @Option(names = "--resume", description = "reuse the trials already recorded in <output>/trials.jsonl by a run"
            + " with the same settings and run only the rest (an interrupted search loses only its running trials)")
    boolean resume;
    @Option(names = "--gradient-checkpointing", description = "each trial recomputes its layers in the backward pass "
            + "(less memory, same gradients)") boolean gradientCheckpointing;
    @Option(names = "--auto-find-batch-size", description = "a trial that runs out of memory runs its steps in "
            + "passes of half the size instead of failing") boolean autoFindBatchSize;
    @Option(names = "--set", description = "config.json override key=value (repeatable)")
    Map<String, String> overrides = new LinkedHashMap<>();
    @Mixin EngineOptionsMixin engineOptions;

    static final List<String> PARAMS = List.of("learning_rate", "batch_size", "epochs", "warmup_ratio", "weight_decay");

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

    @Override
    public Integer call() throws Exception {
        // Ctrl-C stops the running trials after their current step; the finished ones stay recorded
        TrainingControl control = GracefulStop.newControl().checkpointOnStop(false);
        List<Space> spaces = List.of(Space.parse("learning_rate", learningRate), Space.parse("batch_size", batchSize),
                Space.parse("epochs", epochs), Space.parse("warmup_ratio", warmupRatio),
                Space.parse("weight_decay", weightDecay));
        String metric = objective.startsWith("eval_") ? objective.substring(5) : objective;
        boolean maximise = true; // decided with the task below
        Files.createDirectories(output);
        Map<String, String> options = data.options();
        int threads = engineOptions.threads > 0 ? engineOptions.threads : Runtime.getRuntime().availableProcessors();
        int perTrial = Math.max(1, threads / Math.max(1, parallel));
        Map<String, Object> settings = settings();
        Map<Integer, Map<String, Object>> recorded = resume ? recorded(settings) : Map.of();
        if (resume) {
            // keep every complete record (a cut-off last line is dropped); new trials are appended
            StringBuilder kept = new StringBuilder();
            for (Map<String, Object> rec : recorded.values()) {
                kept.append(JSON.writeValueAsString(rec)).append('\n');
            }
            Files.writeString(output.resolve(TRIALS_FILE), kept.toString(), StandardCharsets.UTF_8);
        }
        Files.writeString(output.resolve(SETTINGS_FILE), JSON.writerWithDefaultPrettyPrinter().writeValueAsString(settings)
                + "\n", StandardCharsets.UTF_8);
        List<Map<String, Object>> records = new ArrayList<>();
        try (Attune attune = engineOptions.builder().numThreads(perTrial).seed(seed).build();
                BufferedWriter log = Files.newBufferedWriter(output.resolve(TRIALS_FILE), StandardCharsets.UTF_8,
                        StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                        resume ? StandardOpenOption.APPEND : StandardOpenOption.TRUNCATE_EXISTING)) {
            ExecutorService pool = Executors.newFixedThreadPool(Math.max(1, parallel));
            try {
            Task t = attune.task(task, options);
            Dataset trainData = t.read(train);
            Dataset evalData = data.evalReader(attune, task, t).read(eval);
            Task labelled = t.withLabels(t.inferLabels(trainData));
            // as the trainer ranks checkpoints: the task's direction for its own metric, else lower is better for a loss
            maximise = TrainingConfig.builder().metricForBestModel(metric).build().greaterIsBetter(labelled);
            Random random = new Random(seed);
            List<Map<String, Double>> candidates = new ArrayList<>();
            switch (search.toLowerCase(Locale.ROOT)) {
                case "grid" -> candidates.addAll(grid(spaces));
                case "random", "halving" -> {
                    for (int i = 0; i < trials; i++) {
                        Map<String, Double> c = new LinkedHashMap<>();
                        for (Space s : spaces) {
                            c.put(s.name(), s.sample(random));
                        }
                        candidates.add(c);
                    }
                }
                default -> throw new AttuneException("--search must be grid, random or halving, not '" + search + "'");
            }
            int rungs = 1;
            if (search.equalsIgnoreCase("halving")) {
                while (Math.pow(eta, rungs) <= candidates.size()) {
                    rungs++;
                }
            }
            List<Map<String, Double>> alive = candidates;
            int trialId = 0;
            for (int rung = 0; rung < rungs; rung++) {
                // successive halving: early rungs train a 1/eta^k share of each candidate's epochs
                double budget = Math.pow(eta, rung - (rungs - 1));
                List<Future<Map<String, Object>>> futures = new ArrayList<>();
                for (Map<String, Double> c : alive) {
                    int id = trialId++;
                    int r = rung;
                    Map<String, Object> earlier = recorded.get(id);
                    if (earlier != null && !sameTrial(earlier, c, r)) {
                        throw new AttuneException(output.resolve(TRIALS_FILE) + ": trial " + id + " was recorded with "
                                + earlier.get("hyperparameters") + " in rung " + earlier.get("rung") + ", but this search"
                                + " gives it " + c + " in rung " + r + "; resume with the same options or use a new"
                                + " --output");
                    }
                    if (earlier != null) {
                        System.err.printf(Locale.ROOT, "trial %d (rung %d): recorded earlier, reused -> %s %.4f%n", id,
                                r, objective, (Double) earlier.get("objective"));
                        futures.add(java.util.concurrent.CompletableFuture.completedFuture(earlier));
                        continue;
                    }
                    futures.add(pool.submit(() -> trial(attune, labelled, trainData, evalData, c, budget, id, r, metric,
                            control)));
                }
                List<Map<String, Object>> done = new ArrayList<>();
                Exception failure = null;
                for (Future<Map<String, Object>> f : futures) {
                    Map<String, Object> rec;
                    try {
                        rec = f.get();
                    } catch (ExecutionException e) {
                        // the other trials stop after their current step; the finished ones are still recorded
                        Exception cause = e.getCause() instanceof Exception ex ? ex : e;
                        if (failure == null || (failure instanceof TrainingStoppedException
                                && !(cause instanceof TrainingStoppedException))) {
                            failure = cause; // a trial's own error outranks the stops it caused
                        }
                        control.requestStop("trial failed: " + cause.getMessage());
                        continue;
                    }
                    done.add(rec);
                    records.add(rec);
                    if (recorded.get(((Number) rec.get("trial")).intValue()) == rec) {
                        continue; // reused: its line is in the file already
                    }
                    log.write(JSON.writeValueAsString(rec));
                    log.newLine();
                    log.flush();
                }
                if (failure instanceof TrainingStoppedException) {
                    throw new TrainingStoppedException(control.stopReason() + ": the search stopped; " + records.size()
                            + " finished trial(s) are recorded in " + output.resolve(TRIALS_FILE) + ", the running ones"
                            + " are not; run the same command with --resume to run the rest", 0, null);
                }
                if (failure != null) {
                    throw failure;
                }
                Comparator<Map<String, Object>> byObjective = Comparator.comparingDouble(m -> (Double) m.get("objective"));
                if (maximise) {
                    byObjective = byObjective.reversed();
                }
                done.sort(byObjective);
                int keep = Math.max(1, done.size() / eta);
                List<Map<String, Double>> next = new ArrayList<>();
                for (Map<String, Object> d : done.subList(0, keep)) {
                    @SuppressWarnings("unchecked")
                    Map<String, Double> h = (Map<String, Double>) d.get("hyperparameters");
                    next.add(h);
                }
                alive = next;
            }
            } finally {
                // no trial may still be inside the engine when the try block closes it
                control.requestStop("the search ended");
                pool.shutdownNow();
                if (!pool.awaitTermination(10, java.util.concurrent.TimeUnit.MINUTES)) {
                    System.err.println("tune: trials still running after 10 minutes");
                }
            }
        }
        report(records, metric, maximise);
        return 0;
    }

    static final String TRIALS_FILE = "trials.jsonl";
    static final String SETTINGS_FILE = "tune_settings.json";
    private static final ObjectMapper JSON = new ObjectMapper();

    /** What decides a trial's outcome besides its hyperparameters: a resumed search must match it. */
    private Map<String, Object> settings() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("model", model.toString());
        m.put("task", task);
        m.put("train", train.toString());
        m.put("eval", eval.toString());
        m.putAll(data.describe());
        m.put("search", search.toLowerCase(Locale.ROOT));
        m.put("trials", trials);
        m.put("halving_factor", eta);
        m.put("objective", objective);
        m.put("learning_rate", learningRate);
        m.put("batch_size", batchSize);
        m.put("epochs", epochs);
        m.put("warmup_ratio", warmupRatio);
        m.put("weight_decay", weightDecay);
        m.put("max_length", maxLength);
        m.put("max_steps", maxSteps);
        m.put("seed", seed);
        m.put("set", new java.util.TreeMap<>(overrides));
        m.put("engine", engineOptions.engine);
        return m;
    }

    /**
     * The trials an earlier run recorded, by trial number, after checking that it ran with these
     * settings; a truncated last line (the run was killed while writing it) is dropped.
     */
    @SuppressWarnings("unchecked")
    private Map<Integer, Map<String, Object>> recorded(Map<String, Object> settings) throws IOException {
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

    private Map<String, Object> trial(Attune attune, Task labelled, Dataset trainData, Dataset evalData,
            Map<String, Double> h, double budget, int id, int rung, String metric, TrainingControl control) {
        if (control.isStopRequested()) {
            throw new TrainingStoppedException(control.stopReason() + ": trial " + id + " not started", 0, null);
        }
        Path dir = output.resolve(String.format(Locale.ROOT, "trial-%03d", id));
        TrainingConfig config = TrainingConfig.builder().outputDir(dir).learningRate(h.get("learning_rate"))
                .perDeviceTrainBatchSize((int) Math.round(h.get("batch_size")))
                .numTrainEpochs(Math.max(1e-3, h.get("epochs") * budget)).maxSteps(maxSteps)
                .warmupRatio(h.get("warmup_ratio")).weightDecay(h.get("weight_decay")).maxLength(maxLength)
                .seed(seed).loggingSteps(50).evalStrategy(EvalStrategy.EPOCH).disableTqdm(true).tensorboard(false)
                // a trial keeps its log; the search's report shows the trials instead of plots and cards
                .withoutDefault(PlotsCallback.class).withoutDefault(ModelCardCallback.class)
                .gradientCheckpointing(gradientCheckpointing).autoFindBatchSize(autoFindBatchSize)
                .build();
        long start = System.nanoTime();
        try (PretrainedModel base = attune.load(model, overrides)) {
            Attune.Result result = attune.fineTune(base, labelled, trainData, evalData, config, control);
            try (FineTunedModel m = result.model()) {
                Double value = result.training().evalMetrics().get(metric);
                if (value == null) {
                    throw new AttuneException("--objective " + objective + " is not among the eval metrics "
                            + result.training().evalMetrics().keySet());
                }
                Map<String, Object> rec = new LinkedHashMap<>();
                rec.put("trial", id);
                rec.put("rung", rung);
                rec.put("budget", budget);
                rec.put("hyperparameters", h);
                rec.put("objective", value);
                rec.put("eval_metrics", result.training().evalMetrics());
                rec.put("global_steps", result.training().globalSteps());
                rec.put("seconds", (System.nanoTime() - start) / 1e9);
                System.err.printf(Locale.ROOT, "trial %d (rung %d): %s -> %s %.4f%n", id, rung, h, objective, value);
                return rec;
            }
        }
    }

    @SuppressWarnings("unchecked")
    private void report(List<Map<String, Object>> records, String metric, boolean maximise) throws IOException {
        Comparator<Map<String, Object>> best = Comparator.comparingDouble(m -> (Double) m.get("objective"));
        Map<String, Object> top = maximise ? records.stream().max(best).orElseThrow() : records.stream().min(best).orElseThrow();
        StringBuilder md = new StringBuilder("# Hyperparameter search\n\n");
        md.append("Search ").append(search).append(", ").append(records.size()).append(" trials, objective eval_")
                .append(metric).append(maximise ? " (higher is better)" : " (lower is better)").append(".\n\n");
        md.append("Best: trial ").append(top.get("trial")).append(", ").append(top.get("hyperparameters"))
                .append(" -> ").append(String.format(Locale.ROOT, "%.4f", (Double) top.get("objective"))).append("\n\n");
        md.append("| trial | rung | ").append(String.join(" | ", PARAMS)).append(" | eval_").append(metric)
                .append(" | seconds |\n|").append("---|".repeat(PARAMS.size() + 4)).append('\n');
        for (Map<String, Object> r : records) {
            Map<String, Double> h = (Map<String, Double>) r.get("hyperparameters");
            md.append("| ").append(r.get("trial")).append(" | ").append(r.get("rung"));
            for (String p : PARAMS) {
                md.append(" | ").append(String.format(Locale.ROOT, "%.3g", h.get(p)));
            }
            md.append(String.format(Locale.ROOT, " | %.4f | %.1f |%n", (Double) r.get("objective"), (Double) r.get("seconds")));
        }
        md.append("\n## Sensitivity\n\nMean objective per value of each hyperparameter (spread = best mean - worst mean):\n\n");
        for (String p : PARAMS) {
            Map<Double, List<Double>> byValue = new java.util.TreeMap<>();
            for (Map<String, Object> r : records) {
                double v = ((Map<String, Double>) r.get("hyperparameters")).get(p);
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
                points.add(new double[] {((Map<String, Double>) r.get("hyperparameters")).get(p), (Double) r.get("objective")});
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
        String json = new ObjectMapper().writeValueAsString(summary);
        Files.writeString(output.resolve("best.json"), json + "\n", StandardCharsets.UTF_8);
        System.out.println(json);
    }
}
