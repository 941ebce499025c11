package dev.attune.core.internal;

import org.apiguardian.api.API;

import dev.attune.model.ModelDefinition.InputSpec;
import dev.attune.model.ModelConfig;
import dev.attune.model.ModelDefinition;
import dev.attune.ops.Ops;
import dev.attune.ops.ParameterSet;
import dev.attune.ops.Tensor;
import dev.attune.task.Task;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A family's head model with the task's loss attached: the forward pass returns the outputs the
 * task derives from the head's ({@link Task#outputs}) and adds {@code loss} whenever the task's label
 * inputs are present, so one definition serves training, evaluation and inference.
 */
@API(status = API.Status.INTERNAL, since = "0.1")
public final class TrainableDefinition implements ModelDefinition {
    private final ModelDefinition model;
    private final Task task;

    /**
     * @param model the head model from a family
     * @param task the task that supplies labels and loss
     */
    public TrainableDefinition(ModelDefinition model, Task task) {
        this.model = model;
        this.task = task;
    }

    /** @return the wrapped head model */
    public ModelDefinition model() {
        return model;
    }

    /** @return the wrapped head model, without the task's label inputs and loss */
    @Override
    public ModelDefinition inference() {
        return model.inference();
    }

    @Override
    public ModelConfig config() {
        return model.config();
    }

    @Override
    public String architecture() {
        return model.architecture();
    }

    @Override
    public String baseModelPrefix() {
        return model.baseModelPrefix();
    }

    @Override
    public ParameterSet parameters() {
        return model.parameters();
    }

    @Override
    public List<InputSpec> inputs() {
        List<InputSpec> all = new ArrayList<>(model.inputs());
        all.addAll(task.labelInputs());
        return all;
    }

    @Override
    public List<String> outputs() {
        List<String> out = new ArrayList<>(task.outputNames(model.outputs()));
        out.add("loss");
        return out;
    }

    @Override
    public Map<String, Tensor> forward(Ops ops, Map<String, Tensor> inputs) {
        Map<String, Tensor> out = new LinkedHashMap<>(task.outputs(ops, model.forward(ops, inputs), inputs));
        boolean labelled = !task.labelInputs().isEmpty();
        for (InputSpec label : task.labelInputs()) {
            labelled &= inputs.containsKey(label.name());
        }
        if (labelled) {
            out.put("loss", task.loss(ops, out, inputs));
        }
        return out;
    }
}
