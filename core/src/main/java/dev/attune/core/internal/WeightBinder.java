package dev.attune.core.internal;

import org.apiguardian.api.API;

import dev.attune.engine.Engine.ParameterSource;
import dev.attune.error.InvalidCheckpointException;
import dev.attune.model.FineTunedModel.LoadReport;
import dev.attune.model.ModelDefinition;
import dev.attune.model.WeightStore.TensorInfo;
import dev.attune.model.WeightStore;
import dev.attune.ops.Parameter.Init;
import dev.attune.ops.DType;
import dev.attune.ops.Parameter;
import dev.attune.ops.TensorData;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;

/**
 * Matches a definition's parameters to a checkpoint's tensors by HuggingFace name, as {@code
 * from_pretrained} does: exact names first, then the base-model prefix added or removed (a bare
 * {@code BertModel} checkpoint loaded into {@code BertForSequenceClassification}), then tied
 * aliases. Parameters the checkpoint lacks are initialised as HuggingFace's {@code _init_weights}
 * does (normal with {@code initializer_range}, zero bias, unit LayerNorm weight) from a seeded
 * generator.
 */
@API(status = API.Status.INTERNAL, since = "0.1")
public final class WeightBinder implements ParameterSource {
    private final WeightStore store;
    private final Map<String, String> sourceName = new HashMap<>();
    private final Map<String, TensorData> initialised = new HashMap<>();
    private final LoadReport report;

    /**
     * @param definition the model to fill
     * @param store the checkpoint's tensors
     * @param seed seed for freshly initialised parameters
     * @throws InvalidCheckpointException when a tensor's shape differs from the parameter's
     */
    public WeightBinder(ModelDefinition definition, WeightStore store, long seed) {
        this.store = store;
        Set<String> available = store.names();
        Set<String> used = new LinkedHashSet<>();
        List<String> loaded = new ArrayList<>();
        List<String> missing = new ArrayList<>();
        String prefix = definition.baseModelPrefix();
        Map<String, String> aliasesOf = new HashMap<>();
        for (Map.Entry<String, String> e : definition.parameters().tiedNames().entrySet()) {
            aliasesOf.putIfAbsent(e.getValue(), e.getKey());
        }
        Random random = new Random(seed);
        for (Parameter p : definition.parameters().all()) {
            String found = null;
            for (String candidate : candidates(p.name(), prefix, aliasesOf.get(p.name()))) {
                if (available.contains(candidate)) {
                    found = candidate;
                    break;
                }
            }
            if (found == null) {
                missing.add(p.name());
                initialised.put(p.name(), initialise(p, random));
                continue;
            }
            TensorInfo info = store.info(found);
            if (!Arrays.equals(info.shape(), p.shape())) {
                throw new InvalidCheckpointException(
                        store.origin() + ": tensor '" + found + "' has shape " + Arrays.toString(info.shape())
                                + " but " + definition.architecture() + " needs " + Arrays.toString(p.shape())
                                + " for '" + p.name() + "' (a head trained with another number of labels, or a"
                                + " config.json that does not match the weights)");
            }
            if (info.dtype() != DType.FLOAT32 && info.dtype() != DType.FLOAT16 && info.dtype() != DType.BFLOAT16) {
                // whole numbers (or booleans) are no weights: casting them would train on nonsense
                throw new InvalidCheckpointException(store.origin() + ": tensor '" + found + "' holds " + info.dtype()
                        + " values, but '" + p.name() + "' of " + definition.architecture() + " is a floating-point"
                        + " weight (F32, F16 or BF16); the file is not a checkpoint of this model, or was quantised"
                        + " by a tool Attune does not read: convert it to float32");
            }
            sourceName.put(p.name(), found);
            used.add(found);
            loaded.add(p.name());
        }
        for (String alias : definition.parameters().tiedNames().keySet()) {
            used.add(alias);
        }
        List<String> unused = new ArrayList<>();
        for (String name : available) {
            if (!used.contains(name)) {
                unused.add(name);
            }
        }
        this.report = new LoadReport(loaded, missing, unused);
    }

    private static List<String> candidates(String name, String prefix, String alias) {
        List<String> out = new ArrayList<>();
        out.add(name);
        if (prefix != null && !prefix.isEmpty()) {
            if (name.startsWith(prefix + ".")) {
                out.add(name.substring(prefix.length() + 1));
            } else {
                out.add(prefix + "." + name);
            }
        }
        if (alias != null) {
            out.add(alias);
        }
        return out;
    }

    /**
     * @param p a parameter
     * @param random the generator
     * @return a fresh value per the parameter's initialiser
     */
    static TensorData initialise(Parameter p, Random random) {
        int n = Math.toIntExact(p.size());
        float[] v = new float[n];
        Init init = p.init();
        if (init instanceof Init.Normal normal) {
            for (int i = 0; i < n; i++) {
                v[i] = (float) (random.nextGaussian() * normal.std());
            }
        } else if (init instanceof Init.Constant c) {
            Arrays.fill(v, c.value());
        }
        return TensorData.ofFloats(p.shape(), v);
    }

    /** @return which parameters were loaded, initialised, and which tensors went unused */
    public LoadReport report() {
        return report;
    }

    @Override
    public TensorData valueOf(Parameter parameter) {
        TensorData fresh = initialised.get(parameter.name());
        if (fresh != null) {
            return fresh;
        }
        String name = sourceName.get(parameter.name());
        if (name == null) {
            throw new IllegalArgumentException("parameter " + parameter.name() + " is not part of this binding");
        }
        return store.read(name);
    }
}
