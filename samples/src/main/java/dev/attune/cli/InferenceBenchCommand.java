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
 * last line with each engine's speed relative to the first.
 */
@Command(name = "bench-inference", mixinStandardHelpOptions = true,
        description = "Inference samples/s of the same classifier on several engines (default: pytorch vs onnx).")
final class InferenceBenchCommand implements Callable<Integer> {
    @Option(names = "--model", defaultValue = "../shared/models/bert-mini-uncased-mlm",
            description = "checkpoint folder (default: ${DEFAULT-VALUE})")
    Path model;

    @Option(names = "--engines", defaultValue = "pytorch,onnx", split = ",",
            description = "engines to compare, the first is the baseline (default: ${DEFAULT-VALUE})")
    List<String> engines;

    @Option(names = "--batch", defaultValue = "32") int batch;
    @Option(names = "--seq", defaultValue = "64") int seq;
    @Option(names = "--steps", defaultValue = "30") int steps;
    @Option(names = "--warmup", defaultValue = "5") int warmup;
    @Option(names = "--threads", defaultValue = "2", description = "intra-op CPU threads (default: ${DEFAULT-VALUE})")
    int threads;

    @Override
    public Integer call() throws Exception {
        ObjectMapper json = new ObjectMapper();
        Map<String, Double> speeds = new LinkedHashMap<>();
        for (String engine : engines) {
            try (Attune attune = Attune.builder().engine(engine).numThreads(threads).seed(0).build();
                    PretrainedModel base = attune.load(model);
                    FineTunedModel m = attune.prepare(base,
                            attune.task("text-classification", Map.of()).withLabels(List.of("0", "1")), seq)) {
                Batch inputs = randomTokens(base.config().requireInt("vocab_size"));
                List<Double> times = new ArrayList<>();
                for (int i = 0; i < warmup + steps; i++) {
                    GracefulStop.checkInterrupted();
                    long t = System.nanoTime();
                    m.lowered().predict(inputs);
                    if (i >= warmup) {
                        times.add((System.nanoTime() - t) / 1e9);
                    }
                }
                double median = BenchCommand.median(times);
                double perSecond = batch / median;
                speeds.put(engine, perSecond);
                Map<String, Object> out = new LinkedHashMap<>();
                out.put("impl", "attune/" + attune.engine().describe());
                out.put("engine", engine);
                out.put("batch", batch);
                out.put("seq", seq);
                out.put("threads", threads);
                out.put("infer_ms", Math.round(median * 1e5) / 100.0);
                out.put("infer_samples_per_s", Math.round(perSecond * 10) / 10.0);
                System.out.println(json.writeValueAsString(out));
            }
        }
        double baseline = speeds.values().iterator().next();
        Map<String, Object> ratio = new LinkedHashMap<>();
        speeds.forEach((k, v) -> ratio.put(k, Math.round(v / baseline * 100) / 100.0));
        System.out.println(json.writeValueAsString(Map.of("speedup_vs_" + engines.get(0), ratio)));
        return 0;
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
