package dev.attune.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.attune.Attune;
import dev.attune.model.FineTunedModel;
import dev.attune.engine.Batch;
import dev.attune.model.PretrainedModel;
import dev.attune.ops.TensorData;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code attune bench-inference}: inference throughput of one sequence classifier on several
 * engines in one run (the same weights, the same random tokens), one JSON line per engine and a
 * last line with each engine's speed relative to the first. Besides engine names, {@code
 * onnx-int8}, {@code onnx-plain} and {@code onnx-int8-plain} run the model exported with {@code
 * --quantize int8}, {@code --onnx-ops plain} or both (written to a temporary folder, served from the file by the {@code onnx}
 * engine); plain {@code onnx} runs the default export (ONNX Runtime's fused kernels) in memory.
 */
@Command(name = "bench-inference", mixinStandardHelpOptions = true,
        description = "Inference samples/s of the same classifier on several engines (default: pytorch vs onnx).")
final class InferenceBenchCommand implements Callable<Integer> {
    @Option(names = "--model", defaultValue = "../shared/models/bert-mini-uncased-mlm",
            description = "checkpoint folder (default: ${DEFAULT-VALUE})")
    Path model;

    @Option(names = "--engines", defaultValue = "pytorch,onnx", split = ",",
            description = "engines to compare, the first is the baseline (default: ${DEFAULT-VALUE}); onnx-int8,"
                    + " onnx-plain, onnx-int8-plain: the export with --quantize int8, --onnx-ops plain or both, on the onnx"
                    + " engine")
    List<String> engines;

    @Option(names = "--batch", defaultValue = "32") int batch;
    @Option(names = "--seq", defaultValue = "64") int seq;
    @Option(names = "--steps", defaultValue = "30") int steps;
    @Option(names = "--warmup", defaultValue = "5") int warmup;
    @Option(names = "--threads", defaultValue = "2", description = "intra-op CPU threads (default: ${DEFAULT-VALUE})")
    int threads;

    @Option(names = "--rounds", defaultValue = "1", description = "run the engines this many times, alternating"
            + " (A B C A B C ...), and report each engine's median over all rounds: fairer on a loaded machine"
            + " (default: ${DEFAULT-VALUE})")
    int rounds;

    /** Export options of the engine names that stand for an ONNX export: {@code onnx-int8}, {@code onnx-plain}. */
    static Map<String, String> exportOptionsOf(String engine) {
        return switch (engine) {
            case "onnx-int8" -> Map.of("quantize", "int8");
            case "onnx-plain" -> Map.of("ops", "plain");
            case "onnx-int8-plain" -> Map.of("quantize", "int8", "ops", "plain");
            default -> null;
        };
    }

    @Override
    public Integer call() throws Exception {
        ObjectMapper json = new ObjectMapper();
        Map<String, Double> speeds = new LinkedHashMap<>();
        Map<String, List<Double>> times = new LinkedHashMap<>();
        Map<String, String> described = new LinkedHashMap<>();
        java.nio.file.Path exports = java.nio.file.Files.createTempDirectory("attune-bench-inference");
        try {
            for (int round = 0; round < Math.max(1, rounds); round++) {
                for (String engine : engines) {
                    List<Double> t = times.computeIfAbsent(engine, k -> new ArrayList<>());
                    described.put(engine, measure(engine, exports.resolve(engine + "-" + round), t));
                }
            }
        } finally {
            deleteTree(exports);
        }
        for (String engine : engines) {
            double median = BenchCommand.median(times.get(engine));
            double perSecond = batch / median;
            speeds.put(engine, perSecond);
            Map<String, Object> out = new LinkedHashMap<>();
            out.put("impl", described.get(engine));
            out.put("engine", engine);
            out.put("batch", batch);
            out.put("seq", seq);
            out.put("threads", threads);
            out.put("rounds", Math.max(1, rounds));
            out.put("infer_ms", Math.round(median * 1e5) / 100.0);
            out.put("infer_samples_per_s", Math.round(perSecond * 10) / 10.0);
            System.out.println(json.writeValueAsString(out));
        }
        double baseline = speeds.values().iterator().next();
        Map<String, Object> ratio = new LinkedHashMap<>();
        speeds.forEach((k, v) -> ratio.put(k, Math.round(v / baseline * 100) / 100.0));
        System.out.println(json.writeValueAsString(Map.of("speedup_vs_" + engines.get(0), ratio)));
        return 0;
    }

    /** Times {@code steps} predictions of one engine (after {@code warmup}) into {@code times}; @return its description */
    private String measure(String engine, java.nio.file.Path exportFolder, List<Double> times) throws Exception {
        Map<String, String> export = exportOptionsOf(engine);
        String engineName = export != null ? "onnx" : engine;
        try (Attune attune = Attune.builder().engine(engineName).numThreads(threads).seed(0).build();
                PretrainedModel base = attune.load(model);
                FineTunedModel prepared = attune.prepare(base,
                        attune.task("text-classification", Map.of()).withLabels(List.of("0", "1")), seq)) {
            FineTunedModel m = prepared;
            if (export != null) {
                prepared.export("onnx", exportFolder, export);
                m = attune.open(exportFolder);
            }
            try {
                Batch inputs = randomTokens(base.config().requireInt("vocab_size"));
                for (int i = 0; i < warmup + steps; i++) {
                    GracefulStop.checkInterrupted();
                    long t = System.nanoTime();
                    m.lowered().predict(inputs);
                    if (i >= warmup) {
                        times.add((System.nanoTime() - t) / 1e9);
                    }
                }
            } finally {
                if (m != prepared) {
                    m.close();
                }
            }
            return "attune/" + attune.engine().describe() + (export != null ? " " + export : "");
        }
    }

    private static void deleteTree(java.nio.file.Path root) throws java.io.IOException {
        if (!java.nio.file.Files.exists(root)) {
            return;
        }
        try (var walk = java.nio.file.Files.walk(root)) {
            for (java.nio.file.Path p : walk.sorted(java.util.Comparator.reverseOrder()).toList()) {
                java.nio.file.Files.deleteIfExists(p);
            }
        }
    }

    /** Random token ids (the same seed for every engine), as {@code hf_reference.py} feeds. */
    private Batch randomTokens(int vocab) {
        Random rnd = new Random(1);
        long[] ids = new long[batch * seq];
        int low = Math.min(1000, vocab / 2);
        for (int i = 0; i < ids.length; i++) {
            ids[i] = low + rnd.nextInt(vocab - low);
        }
        Map<String, TensorData> inputs = new LinkedHashMap<>();
        inputs.put("input_ids", TensorData.ofLongs(new long[] {batch, seq}, ids));
        return new Batch(inputs, batch);
    }
}
