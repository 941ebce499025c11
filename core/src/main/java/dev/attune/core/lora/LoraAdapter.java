package dev.attune.core.lora;

import org.apiguardian.api.API;

import dev.attune.core.lora.LinearSites.Site;
import dev.attune.engine.Engine.ParameterSource;
import dev.attune.error.ConfigurationException;
import dev.attune.error.InvalidCheckpointException;
import dev.attune.model.HeadSpec.HeadKind;
import dev.attune.model.ModelDefinition;
import dev.attune.ops.Parameter;
import dev.attune.ops.Parameter.Init;
import dev.attune.ops.TensorData;
import dev.attune.train.TrainingConfig.LoraConfig;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Pattern;

/**
 * A LoRA adapter resolved against one model: which linear layers carry the low-rank pair ({@code
 * lora_A [r, in]}, {@code lora_B [out, r]}, named as PEFT names them: {@code <module>.lora_A.weight}),
 * which modules train in full ({@code modules_to_save}), the scaling and the dropout. Written once for
 * every family and engine: the layers come from {@link LinearSites}, the update is added by {@link
 * LoraDefinition} through the ops contract, and the adapter's matrices are ordinary parameters that
 * the trainer trains while it holds everything else fixed.
 */
@API(status = API.Status.INTERNAL, since = "0.2")
public final class LoraAdapter {
    /** PEFT's default {@code target_modules} per {@code model_type} (its {@code TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING}). */
    private static final Map<String, List<String>> DEFAULT_TARGETS = Map.ofEntries(
            Map.entry("bert", List.of("query", "value")),
            Map.entry("roberta", List.of("query", "value")),
            Map.entry("xlm-roberta", List.of("query", "value")),
            Map.entry("electra", List.of("query", "value")),
            Map.entry("distilbert", List.of("q_lin", "v_lin")),
            Map.entry("gpt2", List.of("c_attn")),
            Map.entry("t5", List.of("q", "v")),
            Map.entry("mt5", List.of("q", "v")),
            Map.entry("llama", List.of("q_proj", "v_proj")),
            Map.entry("mistral", List.of("q_proj", "v_proj")),
            Map.entry("qwen2", List.of("q_proj", "v_proj")));

    /**
     * One adapted linear layer.
     *
     * @param site the layer
     * @param a {@code lora_A} ({@code [r, in]})
     * @param b {@code lora_B} ({@code [out, r]})
     */
    public record Target(Site site, Parameter a, Parameter b) {}

    private final LoraConfig config;
    private final List<Target> targets;
    private final Map<String, Target> byWeight = new LinkedHashMap<>();
    private final List<String> modulesToSave;
    private final Set<String> saved;
    private final List<String> targetNames;
    private final HeadKind kind;
    private final String baseModel;

    private LoraAdapter(LoraConfig config, List<Target> targets, List<String> modulesToSave, Set<String> saved,
            List<String> targetNames, HeadKind kind, String baseModel) {
        this.baseModel = baseModel;
        this.config = config;
        this.targets = List.copyOf(targets);
        for (Target t : targets) {
            byWeight.put(t.site().weight().name(), t);
        }
        this.modulesToSave = List.copyOf(modulesToSave);
        this.saved = Collections.unmodifiableSet(saved);
        this.targetNames = List.copyOf(targetNames);
        this.kind = kind;
    }

    /**
     * Resolves a config against a model before anything is lowered or trained, so a bad config fails
     * first.
     *
     * @param config the LoRA settings (those of an adapter file when continuing one)
     * @param head the family's head model
     * @param kind the task head's kind (classification heads train in full by default)
     * @param newlyInitialised parameters the checkpoint lacked (a new head), which train in full by default
     * @param where what the settings came from (an adapter_config.json, or the options), for messages
     * @param baseModel the base model's name or path, as {@code base_model_name_or_path} records it
     * @return the adapter
     * @throws ConfigurationException when the targets match no linear layer
     */
    public static LoraAdapter resolve(LoraConfig config, ModelDefinition head, HeadKind kind,
            Set<String> newlyInitialised, String where, String baseModel) {
        Map<String, Site> sites = LinearSites.of(head);
        List<String> allParams = new ArrayList<>();
        head.parameters().all().forEach(p -> allParams.add(p.name()));

        // modules trained in full
        List<String> toSave = new ArrayList<>();
        if (config.modulesToSave() != null) {
            toSave.addAll(config.modulesToSave());
        } else {
            Set<String> defaults = new LinkedHashSet<>();
            String prefix = head.baseModelPrefix();
            boolean lm = kind == HeadKind.MASKED_LM || kind == HeadKind.CAUSAL_LM || kind == HeadKind.SEQ2SEQ_LM;
            for (String name : allParams) {
                boolean inBase = prefix != null && !prefix.isEmpty() && name.startsWith(prefix + ".");
                // as PEFT: a classification head trains in full; a language-model head only when it is new.
                // New weights inside the base model (a pooler the checkpoint lacks) stay as initialised, as in PEFT
                if (!inBase && name.contains(".") && (!lm || newlyInitialised.contains(name))) {
                    defaults.add(name.substring(0, name.indexOf('.')));
                }
            }
            toSave.addAll(defaults);
        }
        Set<String> saved = new LinkedHashSet<>();
        List<String> savedModules = new ArrayList<>();
        for (String m : toSave) {
            boolean any = false;
            for (String name : allParams) {
                if (underModule(name, m)) {
                    saved.add(name);
                    any = true;
                }
            }
            if (any) {
                savedModules.add(m);
            }
        }
        if (!toSave.isEmpty() && saved.isEmpty() && config.modulesToSave() != null && config.adapter() == null) {
            throw new ConfigurationException(where + ": LoRA modules_to_save " + toSave + " name no module of "
                    + head.architecture() + "; name modules such as " + topModules(allParams)
                    + " (--lora-modules-to-save), or leave it unset for the task's head");
        }

        // adapted linear layers
        List<Site> candidates = new ArrayList<>();
        for (Site s : sites.values()) {
            boolean inSaved = false;
            for (String m : savedModules) {
                inSaved |= underModule(s.module() + ".weight", m);
            }
            if (!inSaved) {
                candidates.add(s);
            }
        }
        List<String> wanted = config.targetModules();
        String regex = config.targetModulesRegex();
        if (wanted.isEmpty() && regex == null) {
            wanted = DEFAULT_TARGETS.get(head.config().modelType());
            if (wanted == null) {
                throw new ConfigurationException(where + ": PEFT has no default LoRA target_modules for model type '"
                        + head.config().modelType() + "'; name them (--lora-target-modules, e.g. all-linear or "
                        + String.join(",", suffixes(sites.values())) + ")");
            }
        }
        boolean allLinear = wanted.size() == 1 && wanted.get(0).equalsIgnoreCase(LoraConfig.ALL_LINEAR);
        Pattern pattern = regex == null ? null : Pattern.compile(regex);
        List<Target> targets = new ArrayList<>();
        int r = config.r();
        for (Site s : candidates) {
            boolean chosen;
            if (pattern != null) {
                chosen = pattern.matcher(s.module()).matches();
            } else if (allLinear) {
                chosen = !s.outputLayer();
            } else {
                chosen = false;
                for (String t : wanted) {
                    chosen |= s.module().equals(t) || s.module().endsWith("." + t);
                }
            }
            if (chosen) {
                Parameter a = new Parameter(s.module() + ".lora_A.weight", new long[] {r, s.in()},
                        Init.normal(1 / Math.sqrt(s.in())), true);
                Parameter b = new Parameter(s.module() + ".lora_B.weight", new long[] {s.out(), r}, Init.zeros(), true);
                targets.add(new Target(s, a, b));
            }
        }
        if (targets.isEmpty()) {
            String asked = pattern != null ? "regular expression '" + regex + "'" : wanted.toString();
            throw new ConfigurationException(where + ": LoRA target_modules " + asked + " match no linear layer of "
                    + head.architecture() + "; its linear layers are " + String.join(", ", suffixes(candidates))
                    + " (" + LoraConfig.ALL_LINEAR + " takes every one but the output layer)");
        }
        // the names written to adapter_config.json: the short names when they choose exactly these layers
        List<String> names = new ArrayList<>(new TreeSet<>(suffixesOf(targets)));
        if (!exact(names, candidates, targets)) {
            names = new ArrayList<>();
            for (Target t : targets) {
                names.add(t.site().module());
            }
        }
        return new LoraAdapter(config, targets, savedModules, saved, names, kind, baseModel);
    }

    private static boolean exact(List<String> names, List<Site> candidates, List<Target> targets) {
        Set<String> chosen = new LinkedHashSet<>();
        targets.forEach(t -> chosen.add(t.site().module()));
        for (Site s : candidates) {
            boolean match = false;
            for (String n : names) {
                match |= s.module().equals(n) || s.module().endsWith("." + n);
            }
            if (match != chosen.contains(s.module())) {
                return false;
            }
        }
        return true;
    }

    private static List<String> suffixesOf(List<Target> targets) {
        List<String> out = new ArrayList<>();
        for (Target t : targets) {
            String m = t.site().module();
            out.add(m.substring(m.lastIndexOf('.') + 1));
        }
        return out;
    }

    private static Set<String> suffixes(Iterable<Site> sites) {
        Set<String> out = new LinkedHashSet<>();
        for (Site s : sites) {
            out.add(s.module().substring(s.module().lastIndexOf('.') + 1));
        }
        return out;
    }

    private static String topModules(List<String> params) {
        Set<String> out = new LinkedHashSet<>();
        for (String p : params) {
            if (p.contains(".")) {
                out.add(p.substring(0, p.indexOf('.')));
            }
        }
        return String.join(", ", out);
    }

    /** PEFT's rule: a module to save matches a module whose name ends with it; its parameters are below it. */
    static boolean underModule(String param, String module) {
        int at = param.indexOf(module + ".");
        while (at >= 0) {
            if (at == 0 || param.charAt(at - 1) == '.') {
                return true;
            }
            at = param.indexOf(module + ".", at + 1);
        }
        return false;
    }

    /** @return the settings (r, alpha, dropout, rsLoRA; the targets as given) */
    public LoraConfig config() {
        return config;
    }

    /** @return the adapted layers, in the order the forward pass uses them */
    public List<Target> targets() {
        return targets;
    }

    /**
     * @param weightName a linear layer's weight parameter name
     * @return its adapter, or null when the layer has none
     */
    public Target forWeight(String weightName) {
        return byWeight.get(weightName);
    }

    /** @return the modules trained in full, as {@code modules_to_save} names them */
    public List<String> modulesToSave() {
        return modulesToSave;
    }

    /** @return the parameters of the modules trained in full */
    public Set<String> savedParameters() {
        return saved;
    }

    /** @return the {@code target_modules} that choose exactly these layers (short names where they do) */
    public List<String> targetNames() {
        return targetNames;
    }

    /** @return the base model's name or path ({@code base_model_name_or_path}) */
    public String baseModel() {
        return baseModel;
    }

    /**
     * PEFT's {@code merge_and_unload}: each adapted weight plus {@code scaling * B A} (transposed for a
     * {@code Conv1D}), summed in double precision and rounded once.
     *
     * @param read the model's current value of a parameter
     * @return the merged weights of the adapted layers, by parameter name
     */
    public Map<String, TensorData> mergedWeights(java.util.function.Function<Parameter, TensorData> read) {
        Map<String, TensorData> out = new LinkedHashMap<>();
        // in float, as PEFT's merge_and_unload computes it ((B @ A) * scaling added to W, all float32),
        // so a merged Attune model has the weights a merged PEFT model has, not more exact ones
        float s = (float) scaling();
        int r = config.r();
        for (Target t : targets) {
            float[] w = read.apply(t.site().weight()).toFloatArray();
            float[] a = read.apply(t.a()).toFloatArray();
            float[] b = read.apply(t.b()).toFloatArray();
            int in = Math.toIntExact(t.site().in());
            int outF = Math.toIntExact(t.site().out());
            float[] merged = new float[w.length];
            for (int o = 0; o < outF; o++) {
                for (int i = 0; i < in; i++) {
                    float d = 0;
                    for (int k = 0; k < r; k++) {
                        d += b[o * r + k] * a[k * in + i];
                    }
                    int at = t.site().fanInFanOut() ? i * outF + o : o * in + i;
                    merged[at] = w[at] + d * s;
                }
            }
            out.put(t.site().weight().name(), TensorData.ofFloats(t.site().weight().shape(), merged));
        }
        return out;
    }

    /** @return the task head's kind */
    public HeadKind kind() {
        return kind;
    }

    /** @return {@code alpha / r} (or {@code alpha / sqrt(r)} with rsLoRA) */
    public double scaling() {
        return config.scaling();
    }

    /** @return whether any adapted layer stores its weight {@code [in, out]} (GPT-2's Conv1D) */
    public boolean fanInFanOut() {
        return targets.stream().anyMatch(t -> t.site().fanInFanOut());
    }

    /** @return the adapter's own parameters, A then B per layer */
    public List<Parameter> loraParameters() {
        List<Parameter> out = new ArrayList<>();
        for (Target t : targets) {
            out.add(t.a());
            out.add(t.b());
        }
        return out;
    }

    /** @return every parameter that trains: the adapter's and those of the modules to save */
    public Set<String> trainable() {
        Set<String> out = new LinkedHashSet<>();
        loraParameters().forEach(p -> out.add(p.name()));
        out.addAll(saved);
        return out;
    }

    /**
     * The values the engine starts from: the adapter's (from a file, or PEFT's initialisation: A
     * Kaiming-uniform with bound {@code 1/sqrt(in)}, B zero), the file's modules to save, and the
     * model's own weights for the rest.
     *
     * @param base the model's weights
     * @param loaded tensors from an adapter file, by parameter name (empty for a new adapter)
     * @param seed seeds the initialisation
     * @return the source to lower with
     */
    public ParameterSource source(ParameterSource base, Map<String, TensorData> loaded, long seed) {
        Map<String, TensorData> fresh = new LinkedHashMap<>();
        Random random = new Random(seed ^ 0x4c6f5241L);
        for (Target t : targets) {
            fresh.put(t.a().name(), uniform(t.a(), 1 / Math.sqrt(t.site().in()), random));
            fresh.put(t.b().name(), config.initLoraWeights()
                    ? TensorData.ofFloats(t.b().shape(), new float[Math.toIntExact(t.b().size())])
                    : uniform(t.b(), 1 / Math.sqrt(config.r()), random));
        }
        return p -> {
            TensorData v = loaded.get(p.name());
            if (v != null) {
                return v;
            }
            v = fresh.get(p.name());
            return v != null ? v : base.valueOf(p);
        };
    }

    private static TensorData uniform(Parameter p, double bound, Random random) {
        float[] v = new float[Math.toIntExact(p.size())];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) ((random.nextDouble() * 2 - 1) * bound);
        }
        return TensorData.ofFloats(p.shape(), v);
    }

    /**
     * Checks an adapter file's tensors against this adapter before anything is lowered: every key
     * is a LoRA matrix of an adapted layer or a parameter of a module to save, with the model's shape,
     * and every adapted layer has both matrices.
     *
     * @param file the adapter file, for messages
     * @param tensors its tensors by parameter name (PEFT's prefix removed)
     * @param head the model the adapter goes on
     * @throws InvalidCheckpointException naming the file, the key and the fix
     */
    public void check(String file, Map<String, TensorData> tensors, ModelDefinition head) {
        Map<String, Parameter> expected = new LinkedHashMap<>();
        loraParameters().forEach(p -> expected.put(p.name(), p));
        for (Parameter p : head.parameters().all()) {
            if (saved.contains(p.name())) {
                expected.put(p.name(), p);
            }
        }
        for (Map.Entry<String, TensorData> e : tensors.entrySet()) {
            Parameter p = expected.get(e.getKey());
            if (p == null) {
                String fix = e.getKey().contains(".lora_")
                        ? "the adapter was made for another base model or with other target_modules: open it over the"
                                + " model named in its adapter_config.json (base_model_name_or_path)"
                        : "the adapter saves a module the model does not have: use the base model it was made for";
                throw new InvalidCheckpointException(file + ": key '" + PeftFolder.PREFIX + e.getKey() + "' matches no "
                        + (e.getKey().contains(".lora_") ? "adapted layer" : "parameter") + " of "
                        + head.architecture() + "; " + fix);
            }
            if (!Arrays.equals(p.shape(), e.getValue().shape())) {
                throw new InvalidCheckpointException(file + ": key '" + PeftFolder.PREFIX + e.getKey() + "' has shape "
                        + Arrays.toString(e.getValue().shape()) + " but " + head.architecture() + " needs "
                        + Arrays.toString(p.shape()) + "; the adapter was made for a base model of another size (or"
                        + " another number of labels): use the base it names in base_model_name_or_path");
            }
        }
        for (Parameter p : loraParameters()) {
            if (!tensors.containsKey(p.name())) {
                throw new InvalidCheckpointException(file + ": key '" + PeftFolder.PREFIX + p.name() + "' is missing,"
                        + " though target_modules " + config.targetModules() + " choose that layer of "
                        + head.architecture() + "; the adapter was made for another base model, or the file is"
                        + " incomplete");
            }
        }
    }
}
