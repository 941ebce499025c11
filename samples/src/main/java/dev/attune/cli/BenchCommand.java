package dev.attune.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.attune.Attune;
import dev.attune.core.train.AdamW;
import dev.attune.core.train.GradScaler;
import dev.attune.core.train.OptimizerSettings;
import dev.attune.model.FineTunedModel;
import dev.attune.engine.Batch;
import dev.attune.ops.DType;
import dev.attune.engine.pytorch.PyTorchEngineProvider;
import dev.attune.error.ConfigurationException;
import dev.attune.model.PretrainedModel;
import dev.attune.ops.TensorData;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.Callable;
import dev.attune.core.lora.LoraDefinition;
import dev.attune.train.TrainingConfig.LoraConfig;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code attune bench}: training and inference throughput of a sequence classifier on random tokens,
 * measured the way {@code shared/bench/hf_reference.py} measures HuggingFace transformers (full
 * AdamW steps with clipping; median step time after warmup), so the two print comparable JSON.
 */
@Command(name = "bench", mixinStandardHelpOptions = true,
        description = "Training and inference samples/s on random tokens (same shape as hf_reference.py).")
final class BenchCommand implements Callable<Integer> {
    @Option(names = "--model", defaultValue = "../shared/models/bert-mini-uncased-mlm",
            description = "checkpoint folder (default: ${DEFAULT-VALUE})")
    Path model;

    @Option(names = "--batch", defaultValue = "32") int batch;
    @Option(names = "--seq", defaultValue = "64") int seq;
    @Option(names = "--steps", defaultValue = "20") int steps;
    @Option(names = "--warmup", defaultValue = "3") int warmup;
    @Option(names = "--labels", defaultValue = "2") int labels;
    @Option(names = "--task", defaultValue = "text-classification", description = "text-classification (a sequence"
            + " classifier, the default) or causal-lm (a language model, labels = the input ids, as hf_reference.py"
            + " --task causal-lm)")
    String task;
    @Option(names = "--engines", split = ",",
            description = "measure several engines one after the other in this run (e.g. pytorch,tensorflow) and "
                    + "print each one's step time relative to the first; overrides --engine")
    List<String> engines;

    @Option(names = "--compare-fused-attention",
            description = "PyTorch engine: alternate inference batches between libtorch's fused attention and the "
                    + "composite of the ops contract, in this one process, and print both throughputs and their ratio")
    boolean compareFusedAttention;

    @Option(names = "--vs-hf", paramLabel = "PYTHON",
            description = "also time HuggingFace transformers: run --hf-script with this Python (one that has torch and "
                    + "transformers) on the same model, shape, threads and steps, alternating with Attune for --rounds "
                    + "rounds, and print each round's ratios and their medians")
    String hfPython;

    @Option(names = "--hf-script", defaultValue = "../shared/bench/hf_reference.py",
            description = "the HuggingFace reference script for --vs-hf (default: ${DEFAULT-VALUE})")
    Path hfScript;

    @Option(names = "--rounds", description = "with --vs-hf: alternating rounds (default: 5)")
    Integer rounds;

    @Option(names = "--use-peft", description = "train a LoRA adapter (the model frozen) instead of every weight")
    boolean usePeft;

    @Option(names = "--lora-r", defaultValue = "8", description = "with --use-peft: LoRA rank (default: ${DEFAULT-VALUE})")
    int loraR;

    @Option(names = "--lora-alpha", defaultValue = "16", description = "with --use-peft: LoRA alpha (default: ${DEFAULT-VALUE})")
    double loraAlpha;

    @Option(names = "--lora-target-modules", split = ",", defaultValue = "all-linear", paramLabel = "NAME",
            description = "with --use-peft: the adapted layers (default: ${DEFAULT-VALUE}, as hf_reference.py --lora-r)")
    List<String> loraTargets;

    @Option(names = "--gradient-checkpointing",
            description = "recompute each layer in the backward pass (HuggingFace's gradient_checkpointing); not with "
                    + "--vs-hf, whose reference script keeps every activation")
    boolean gradientCheckpointing;

    @Mixin
    EngineOptionsMixin engineOptions;

    @Option(names = "--bf16", description = "mixed precision: matrix products and attention in bfloat16 (torch.autocast);"
            + " also measures float32 in the same run and prints the ratios")
    boolean bf16;

    @Option(names = "--fp16", description = "mixed precision in float16 with dynamic loss scaling (GradScaler);"
            + " also measures float32 in the same run and prints the ratios")
    boolean fp16;

    /** @return the compute type of --bf16/--fp16 (FLOAT32 without either) */
    DType precision() {
        return TrainingOptionsMixin.precision(bf16, fp16);
    }

    /** @return the LoRA settings of --use-peft (dropout 0, as hf_reference.py), or null */
    private LoraConfig lora() {
        return !usePeft ? null : LoraConfig.builder().r(loraR).loraAlpha(loraAlpha).targetModules(loraTargets).build();
    }

    /** @return whether {@code --task causal-lm} (else a sequence classifier) */
    private boolean causalLm() {
        return switch (task) {
            case "causal-lm" -> true;
            case "text-classification" -> false;
            default -> throw new ConfigurationException("--task " + task + " is not benchmarked; use text-classification"
                    + " or causal-lm (the tasks hf_reference.py times)");
        };
    }

    @Override
    public Integer call() throws IOException {
        causalLm(); // refuses an unknown --task before any work
        if (engineOptions.threads == 0) {
            engineOptions.threads = 2;
        }
        if (rounds != null && hfPython == null) {
            throw new ConfigurationException("--rounds counts the alternating rounds of --vs-hf; add --vs-hf PYTHON");
        }
        if (hfPython != null) {
            if (gradientCheckpointing) {
                throw new ConfigurationException("--gradient-checkpointing cannot be compared with --vs-hf: the reference"
                        + " script keeps every activation; run bench with and without --gradient-checkpointing instead");
            }
            if (engines != null && !engines.isEmpty()) {
                throw new ConfigurationException("--vs-hf compares one engine with HuggingFace; use --engine, not --engines");
            }
            return versusHuggingFace(new HfReference(hfPython, hfScript), rounds == null ? 5 : rounds);
        }
        if (engines == null || engines.isEmpty()) {
            ObjectMapper json = new ObjectMapper();
            if (precision() == DType.FLOAT32) {
                System.out.println(json.writeValueAsString(measure(engineOptions.builder())));
                return 0;
            }
            Map<String, Object> low = measure(engineOptions.builder(), precision());
            System.out.println(json.writeValueAsString(low));
            Map<String, Object> full = measure(engineOptions.builder(), DType.FLOAT32);
            System.out.println(json.writeValueAsString(full));
            System.out.println(json.writeValueAsString(lowVsFull(List.of(low), List.of(full))));
            return 0;
        }
        if (precision() != DType.FLOAT32) {
            throw new ConfigurationException("--bf16/--fp16 measure one engine against float32; use --engine, not --engines");
        }
        ObjectMapper json = new ObjectMapper();
        List<String> names = engines.stream().map(String::trim).toList();
        Map<String, Double> stepMs = new LinkedHashMap<>();
        for (String name : names) {
            Map<String, Object> r = measure(engineOptions.builder().engine(name));
            r.put("engine", name);
            System.out.println(json.writeValueAsString(r));
            stepMs.put(name, (Double) r.get("step_ms"));
        }
        double first = stepMs.get(names.get(0));
        Map<String, Double> ratios = new LinkedHashMap<>();
        stepMs.forEach((k, v) -> ratios.put(k, round3(v / first)));
        System.out.println(json.writeValueAsString(Map.of("train_step_time_ratio_vs_" + names.get(0), ratios)));
        return 0;
    }

    /**
     * Attune and the HuggingFace reference in alternating rounds (who goes first alternates too, so
     * neither always meets the other's leftovers), each round's throughput ratios, and their medians:
     * on a shared machine one pair of runs can differ by more than the gap being measured.
     */
    private int versusHuggingFace(HfReference reference, int n) throws IOException {
        if (n < 1) {
            throw new ConfigurationException("--rounds must be at least 1, got " + n);
        }
        List<String> args = new ArrayList<>(List.of("--model", model.toString(), "--batch", Integer.toString(batch),
                "--seq", Integer.toString(seq), "--steps", Integer.toString(steps), "--warmup", Integer.toString(warmup),
                "--threads", Integer.toString(engineOptions.threads), "--labels", Integer.toString(labels)));
        if (causalLm()) {
            args.addAll(List.of("--task", "causal-lm"));
        }
        if (usePeft) {
            if (!loraTargets.equals(List.of(LoraConfig.ALL_LINEAR))) {
                throw new ConfigurationException("--vs-hf with --use-peft compares LoRA on every linear layer (what"
                        + " hf_reference.py --lora-r does): leave --lora-target-modules at all-linear");
            }
            args.addAll(List.of("--lora-r", Integer.toString(loraR), "--lora-alpha", Double.toString(loraAlpha)));
        }
        DType compute = precision();
        if (compute == DType.FLOAT16) {
            throw new ConfigurationException("--vs-hf compares bf16 (hf_reference.py --bf16) or float32; the reference has"
                    + " no fp16 on CPU: use --bf16, or --fp16 without --vs-hf");
        }
        if (compute == DType.BFLOAT16) {
            args.add("--bf16");
        }
        ObjectMapper json = new ObjectMapper();
        List<Double> trainRatios = new ArrayList<>();
        List<Double> inferRatios = new ArrayList<>();
        List<Map<String, Object>> lows = new ArrayList<>();
        List<Map<String, Object>> fulls = new ArrayList<>();
        String hfImpl = null;
        for (int round = 1; round <= n; round++) {
            Map<String, Object> ours = null;
            JsonNode theirs = null;
            for (int turn = 0; turn < 2; turn++) {
                GracefulStop.checkInterrupted();
                // the reference goes first in round 1, so a Python that cannot run it fails before Attune's work
                if ((turn == 0) == (round % 2 == 0)) {
                    System.err.printf("attune bench: round %d/%d, Attune%n", round, n);
                    ours = measure(engineOptions.builder(), compute);
                    ours.put("round", round);
                    System.out.println(json.writeValueAsString(ours));
                    if (compute != DType.FLOAT32) {
                        // Attune in float32 in the same round, for the mixed-precision speed-up
                        Map<String, Object> full = measure(engineOptions.builder(), DType.FLOAT32);
                        full.put("round", round);
                        System.out.println(json.writeValueAsString(full));
                        lows.add(ours);
                        fulls.add(full);
                    }
                } else {
                    System.err.printf("attune bench: round %d/%d, HuggingFace (%s)%n", round, n, hfPython);
                    theirs = reference.run(args);
                    ((ObjectNode) theirs).put("round", round);
                    System.out.println(json.writeValueAsString(theirs));
                }
            }
            hfImpl = theirs.path("impl").asText("huggingface");
            // from the step times (printed to 0.01 ms), not the samples/s (rounded to 0.1, which reads 0.2 vs
            // 0.2 for a 19.6 s step against a 23.0 s one)
            trainRatios.add(theirs.hasNonNull("step_ms")
                    ? ratio(theirs.get("step_ms").asDouble(), (Double) ours.get("step_ms"))
                    : ratio((Double) ours.get("train_samples_per_s"), theirs.get("train_samples_per_s").asDouble()));
            inferRatios.add(ratio((Double) ours.get("infer_samples_per_s"), theirs.get("infer_samples_per_s").asDouble()));
        }
        Map<String, Object> summary = new LinkedHashMap<>();
        summary.put("vs", hfImpl);
        summary.put("rounds", n);
        summary.put("train_ratio_median", round3(median(trainRatios)));
        summary.put("infer_ratio_median", round3(median(inferRatios)));
        summary.put("train_ratios", trainRatios);
        summary.put("infer_ratios", inferRatios);
        if (compute != DType.FLOAT32) {
            summary.putAll(lowVsFull(lows, fulls));
        }
        System.out.println(json.writeValueAsString(summary));
        return 0;
    }

    /** Medians of the mixed-precision runs' throughput over the float32 runs', pair by pair. */
    private Map<String, Object> lowVsFull(List<Map<String, Object>> lows, List<Map<String, Object>> fulls) {
        List<Double> train = new ArrayList<>();
        List<Double> infer = new ArrayList<>();
        for (int i = 0; i < lows.size(); i++) {
            train.add(ratio((Double) fulls.get(i).get("step_ms"), (Double) lows.get(i).get("step_ms")));
            infer.add(ratio((Double) lows.get(i).get("infer_samples_per_s"), (Double) fulls.get(i).get("infer_samples_per_s")));
        }
        String name = precision() == DType.BFLOAT16 ? "bf16" : "fp16";
        Map<String, Object> out = new LinkedHashMap<>();
        out.put(name + "_vs_fp32_train_median", round3(median(train)));
        out.put(name + "_vs_fp32_infer_median", round3(median(infer)));
        out.put(name + "_vs_fp32_train_ratios", train);
        out.put(name + "_vs_fp32_infer_ratios", infer);
        return out;
    }

    /** Attune's samples/s over the reference's (or the reference's step time over Attune's), to three decimals. */
    static double ratio(double ours, double theirs) {
        return round3(ours / theirs);
    }

    /** A ratio as printed: three decimals. */
    static double round3(double x) {
        return Math.round(x * 1000) / 1000.0;
    }

    /** One engine's figures: median training step and inference batch on the same random batch. */
    private Map<String, Object> measure(Attune.Builder builder) throws IOException {
        return measure(builder, DType.FLOAT32);
    }

    /** One engine's figures in a compute precision (autocast; fp16 with loss scaling). */
    private Map<String, Object> measure(Attune.Builder builder, DType compute) throws IOException {
        try (Attune attune = builder.seed(0).build();
                PretrainedModel base = attune.load(model)) {
            int vocab = base.config().requireInt("vocab_size");
            Random rnd = new Random(1);
            long[] ids = new long[batch * seq];
            int low = Math.min(1000, vocab / 2);
            for (int i = 0; i < ids.length; i++) {
                ids[i] = low + rnd.nextInt(vocab - low);
            }
            long[] y = new long[batch];
            for (int i = 0; i < batch; i++) {
                y[i] = rnd.nextInt(labels);
            }
            List<String> names = new ArrayList<>();
            for (int i = 0; i < labels; i++) {
                names.add(Integer.toString(i));
            }
            Map<String, TensorData> inputs = new LinkedHashMap<>();
            inputs.put("input_ids", TensorData.ofLongs(new long[] {batch, seq}, ids));
            Batch inference = new Batch(inputs, batch);
            Map<String, TensorData> labelled = new LinkedHashMap<>(inputs);
            boolean lm = causalLm();
            if (lm) {
                // labels = the input ids, as hf_reference.py: position t predicts token t + 1, the last predicts nothing
                long[] next = new long[batch * seq];
                long[] targets = new long[batch * seq];
                for (int b = 0; b < batch; b++) {
                    for (int t = 0; t < seq; t++) {
                        int at = b * seq + t;
                        next[at] = t + 1 < seq ? ids[at + 1] : 0;
                        targets[at] = t + 1 < seq ? ids[at + 1] : -100;
                    }
                }
                labelled.put("next_ids", TensorData.ofLongs(new long[] {batch, seq}, next));
                labelled.put("labels", TensorData.ofLongs(new long[] {batch, seq}, targets));
            } else {
                labelled.put("labels", TensorData.ofLongs(new long[] {batch}, y));
            }
            Batch training = new Batch(labelled, batch);
            dev.attune.task.Task benchTask = lm ? attune.task("causal-lm", Map.of())
                    : attune.task("text-classification", Map.of()).withLabels(names);

            try (FineTunedModel m = attune.prepare(base, benchTask, seq, attune.engineOptions().seed(), lora())) {
                List<Double> trainTimes = new ArrayList<>();
                // with an adapter, what the trainer freezes: everything but the adapter and the head
                Set<String> frozen = new java.util.HashSet<>();
                long trainable = 0;
                java.util.Optional<LoraDefinition> adapter = LoraDefinition.find(m.lowered().definition());
                for (dev.attune.ops.Parameter p : m.lowered().definition().parameters().all()) {
                    if (adapter.isPresent() && !adapter.get().adapter().trainable().contains(p.name())) {
                        frozen.add(p.name());
                    } else {
                        trainable += p.size();
                    }
                }
                m.lowered().setComputeType(compute);
                GradScaler scaler = compute == DType.FLOAT16 ? new GradScaler() : null;
                try (AdamW optimizer = new AdamW(m.lowered(),
                        new OptimizerSettings(0.9, 0.999, 1e-8, 0.01, 1.0, frozen))) {
                    optimizer.session().setGradientCheckpointing(gradientCheckpointing);
                    for (int i = 0; i < warmup + steps; i++) {
                        GracefulStop.checkInterrupted();
                        long t = System.nanoTime();
                        if (scaler == null) {
                            optimizer.session().forwardBackward(training, 1f);
                            optimizer.step(1e-4);
                        } else {
                            optimizer.session().forwardBackward(training, (float) scaler.scale());
                            scaler.update(!Float.isFinite(optimizer.stepScaled(1e-4, scaler.scale())));
                        }
                        if (i >= warmup) {
                            trainTimes.add((System.nanoTime() - t) / 1e9);
                        }
                    }
                }
                double trainPeak = peakRssMb(); // before inference: the training steps' own peak
                List<Double> inferTimes = new ArrayList<>();
                List<Double> compositeTimes = new ArrayList<>();
                String before = System.getProperty(PyTorchEngineProvider.DISABLE_FUSED_ATTENTION);
                try {
                    for (int i = 0; i < warmup + steps; i++) {
                        GracefulStop.checkInterrupted();
                        // alternate which path goes first, so neither always runs on the other's warm caches
                        boolean[] order = !compareFusedAttention ? new boolean[] {false}
                                : i % 2 == 0 ? new boolean[] {false, true} : new boolean[] {true, false};
                        for (boolean composite : order) {
                            if (compareFusedAttention) {
                                System.setProperty(PyTorchEngineProvider.DISABLE_FUSED_ATTENTION, Boolean.toString(composite));
                            }
                            long t = System.nanoTime();
                            m.lowered().predict(inference);
                            if (i >= warmup) {
                                (composite ? compositeTimes : inferTimes).add((System.nanoTime() - t) / 1e9);
                            }
                        }
                    }
                } finally {
                    if (before == null) {
                        System.clearProperty(PyTorchEngineProvider.DISABLE_FUSED_ATTENTION);
                    } else {
                        System.setProperty(PyTorchEngineProvider.DISABLE_FUSED_ATTENTION, before);
                    }
                }
                double step = median(trainTimes);
                Map<String, Object> out = new LinkedHashMap<>();
                out.put("impl", "attune/" + attune.engine().describe());
                out.put("task", lm ? "causal-lm" : "text-classification");
                out.put("precision", compute == DType.FLOAT32 ? "fp32" : compute == DType.BFLOAT16 ? "bf16" : "fp16");
                out.put("batch", batch);
                out.put("seq", seq);
                out.put("device", m.lowered().device());
                out.put("threads", engineOptions.threads);
                out.put("lora_r", usePeft ? loraR : 0);
                out.put("gradient_checkpointing", gradientCheckpointing);
                out.put("trainable_params", trainable);
                out.put("step_ms", Math.round(step * 1e5) / 100.0);
                out.put("train_samples_per_s", Math.round(batch / step * 10) / 10.0);
                out.put("infer_samples_per_s", Math.round(batch / median(inferTimes) * 10) / 10.0);
                if (compareFusedAttention) {
                    out.put("infer_samples_per_s_composite_attention", Math.round(batch / median(compositeTimes) * 10) / 10.0);
                    out.put("infer_fused_vs_composite", round3(median(compositeTimes) / median(inferTimes)));
                }
                out.put("peak_rss_mb", peakRssMb());
                out.put("peak_rss_mb_training", trainPeak);
                return out;
            }
        }
    }

    static double median(List<Double> values) {
        List<Double> sorted = new ArrayList<>(values);
        Collections.sort(sorted);
        int n = sorted.size();
        return n % 2 == 1 ? sorted.get(n / 2) : (sorted.get(n / 2 - 1) + sorted.get(n / 2)) / 2;
    }

    static double peakRssMb() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("VmHWM:")) {
                    return Math.round(Long.parseLong(line.replaceAll("[^0-9]", "")) / 102.4) / 10.0;
                }
            }
        } catch (IOException | NumberFormatException e) {
            return -1;
        }
        return -1;
    }
}
