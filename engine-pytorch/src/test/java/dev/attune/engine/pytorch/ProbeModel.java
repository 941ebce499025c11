package dev.attune.engine.pytorch;

import dev.attune.model.ModelConfig;
import dev.attune.model.ModelDefinition;
import dev.attune.ops.ParameterSet;
import java.util.Locale;
import java.util.Map;

/**
 * A model definition for testing ops on the engine: a name, no base-model prefix, and the parameters
 * the subclass declares in {@link #params}; the subclass gives its inputs, outputs and forward pass.
 */
abstract class ProbeModel implements ModelDefinition {
    final ParameterSet params = new ParameterSet();
    private final String name;

    ProbeModel(String name) {
        this.name = name;
    }

    @Override
    public ModelConfig config() {
        return ModelConfig.of(Map.of("model_type", name.toLowerCase(Locale.ROOT)), "test");
    }

    @Override
    public String architecture() {
        return name;
    }

    @Override
    public String baseModelPrefix() {
        return "";
    }

    @Override
    public ParameterSet parameters() {
        return params;
    }
}
