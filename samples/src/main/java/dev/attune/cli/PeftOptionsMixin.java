package dev.attune.cli;

import dev.attune.Attune;
import dev.attune.error.ConfigurationException;
import dev.attune.model.FineTunedModel;
import dev.attune.model.HeadSpec.HeadKind;
import dev.attune.model.PretrainedModel;
import dev.attune.task.Task;
import dev.attune.train.TrainingConfig.LoraConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import picocli.CommandLine.Option;

/**
 * fine-tune's LoRA options, with TRL's names ({@code --use-peft --lora-r ...}, TRL's defaults), and
 * {@code --adapter} / {@code --merge-adapter}.
 */
final class PeftOptionsMixin {
    @Option(names = "--use-peft", description = "train a LoRA adapter beside the frozen model (PEFT); --output becomes"
            + " a PEFT adapter folder")
    boolean usePeft;

    @Option(names = "--lora-r", defaultValue = "16", description = "LoRA rank (default: ${DEFAULT-VALUE})")
    int loraR;

    @Option(names = "--lora-alpha", defaultValue = "32", description = "LoRA alpha; the update is scaled by"
            + " alpha/r (default: ${DEFAULT-VALUE})")
    double loraAlpha;

    @Option(names = "--lora-dropout", defaultValue = "0.05", description = "dropout on the adapter's input"
            + " (default: ${DEFAULT-VALUE})")
    double loraDropout;

    @Option(names = "--lora-target-modules", split = ",", paramLabel = "NAME",
            description = "linear layers to adapt, by module name or suffix (query,value), or all-linear (every one but"
                    + " the output layer); default: PEFT's for the model type (query,value for BERT)")
    List<String> targetModules;

    @Option(names = "--use-rslora", description = "rank-stabilised LoRA: scale by alpha/sqrt(r)")
    boolean useRslora;

    @Option(names = "--lora-modules-to-save", split = ",", paramLabel = "NAME",
            description = "modules trained in full and saved with the adapter (default: the task's new head, e.g."
                    + " classifier)")
    List<String> modulesToSave;

    @Option(names = "--adapter", paramLabel = "FOLDER", description = "continue training this PEFT adapter folder"
            + " (made by Attune or Python's PEFT) over --model; its adapter_config.json gives r, alpha and the targets")
    Path adapter;

    @Option(names = "--merge-adapter", description = "save a full model with the adapter merged (W + scale * B A, as"
            + " PEFT's merge_and_unload) instead of the adapter folder")
    boolean mergeAdapter;

    /** @return the LoRA settings the options ask for, or null for a full fine-tune */
    LoraConfig config() {
        if (adapter != null) {
            if (!Files.isDirectory(adapter)) {
                throw new ConfigurationException("--adapter " + adapter + " is not a folder; pass a PEFT adapter"
                        + " folder (adapter_config.json, adapter_model.safetensors)");
            }
            return LoraConfig.builder().adapter(adapter).build();
        }
        if (!usePeft) {
            if (mergeAdapter) {
                throw new ConfigurationException("--merge-adapter needs an adapter: add --use-peft or --adapter");
            }
            return null;
        }
        return LoraConfig.builder().r(loraR).loraAlpha(loraAlpha).loraDropout(loraDropout)
                .targetModules(targetModules == null ? List.of() : targetModules).useRslora(useRslora)
                .modulesToSave(modulesToSave).build();
    }

    /**
     * Opens a LoRA adapter folder over a base model for the inference commands: with the task Attune
     * saved beside it, else the base's own, else text classification with the base's labels.
     *
     * @param attune the SDK
     * @param base the base model
     * @param adapter the adapter folder
     * @param task the task to use when neither the adapter nor the base names one (null: text classification)
     * @param maxLength maximum tokens per input
     * @return the model
     */
    static FineTunedModel open(Attune attune, PretrainedModel base, Path adapter, Task task, int maxLength) {
        if (!Files.isDirectory(adapter)) {
            throw new ConfigurationException("--adapter " + adapter + " is not a folder; pass a PEFT adapter folder"
                    + " (adapter_config.json, adapter_model.safetensors)");
        }
        if (Files.isRegularFile(adapter.resolve("attune_adapter.json"))
                || base.config().has(FineTunedModel.CONFIG_KEY)) {
            return attune.open(base, adapter);
        }
        Task t = task != null ? task
                : attune.taskFor(HeadKind.of(base.config()).orElse(HeadKind.SEQUENCE_CLASSIFICATION), base);
        return attune.open(base, t, maxLength, adapter);
    }
}
