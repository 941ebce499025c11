package dev.attune.core.train.callbacks;

import org.apiguardian.api.API;

import dev.attune.core.train.Checkpoints;
import dev.attune.model.FineTunedModel;
import dev.attune.task.Dataset;
import dev.attune.train.TrainerCallback;
import dev.attune.train.TrainerState;
import dev.attune.train.TrainingConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.lang.reflect.RecordComponent;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * At the end of a run, writes a model card, {@value #FILE}, to the output folder: what was trained
 * on which data, the final metrics, the plots {@link PlotsCallback} drew, every training setting and
 * how to reproduce the run. {@link dev.attune.model.FineTunedModel#save} into the same folder keeps
 * it. Does nothing without an output folder.
 */
@API(status = API.Status.EXPERIMENTAL, since = "0.1")
public final class ModelCardCallback implements TrainerCallback {
    /** The model card's file name. */
    public static final String FILE = "README.md";
    private static final Set<String> NOT_SETTINGS = Set.of("resumeFromCheckpoint", "disableTqdm", "callbacks",
            "withoutDefaults");

    private final String baseModel;
    private final String engine;
    private final List<String> command;

    /** A card that names the base model by its folder and the engine by its name. */
    public ModelCardCallback() {
        this(null, null, null);
    }

    /**
     * @param baseModel how the card names the starting checkpoint (a folder or a Hub id); null: the
     *     folder the model's config.json came from
     * @param engine how the card names the engine (e.g. with its version); null: the model's engine name
     * @param command the {@code attune} command-line arguments that reproduce the run, shown as {@code
     *     ./attune ...}; null: the card says to train again with the settings it lists
     */
    public ModelCardCallback(String baseModel, String engine, List<String> command) {
        this.baseModel = baseModel;
        this.engine = engine;
        this.command = command == null ? null : List.copyOf(command);
    }

    @Override
    public void onTrainEnd(Context context) {
        Path out = context.config().outputDir();
        if (out != null) {
            Checkpoints.writeText(out.resolve(FILE), card(context));
        }
    }

    /**
     * @param context the run, at its end
     * @return the model card's Markdown
     */
    String card(Context context) {
        FineTunedModel model = context.model();
        TrainerState state = context.state();
        Path out = context.config().outputDir();
        String task = model.task().name();
        String base = baseModel != null ? baseModel : defaultBaseModel(model);
        StringBuilder md = new StringBuilder();
        md.append("---\nlibrary_name: attune\ntags:\n- ").append(task).append("\n---\n\n");
        md.append("# Fine-tuned ").append(lastName(base)).append("\n\n");
        md.append("Fine-tuned with Attune (Java, ").append(engine != null ? engine : model.engineName())
                .append(", device ").append(model.lowered().device()).append(") for **").append(task).append("**. ")
                .append("The folder is a HuggingFace model folder: `transformers` loads it unchanged.\n\n");
        md.append("## Data\n\n| | file | examples |\n|---|---|---|\n");
        md.append("| train | `").append(context.train().source()).append("` | ").append(context.train().size()).append(" |\n");
        Optional<Dataset> eval = context.eval();
        if (eval.isPresent()) {
            md.append("| eval | `").append(eval.get().source()).append("` | ").append(eval.get().size()).append(" |\n");
        }
        md.append("\nLabels: ").append(model.task().labels()).append("\n\n");
        md.append("## Results\n\n| metric | value |\n|---|---|\n");
        state.lastEval().forEach((k, v) -> md.append("| eval_").append(k).append(" | ").append(f4(v)).append(" |\n"));
        md.append("| train_loss | ").append(f4(state.meanLoss())).append(" |\n| global_steps | ").append(state.globalStep())
                .append(" |\n| train_seconds | ").append(String.format(Locale.ROOT, "%.1f", state.trainSeconds()))
                .append(" |\n\n");
        for (String plot : List.of(PlotsCallback.TRAIN_LOSS, PlotsCallback.EVAL_METRICS)) {
            if (Files.isRegularFile(out.resolve(plot))) {
                md.append("![").append(plot).append("](").append(plot).append(")\n\n");
            }
        }
        md.append("## Training settings\n\n| setting | value |\n|---|---|\n");
        settings(context.config(), model).forEach((k, v) -> md.append("| ").append(k).append(" | ").append(v).append(" |\n"));
        md.append("\n## Reproduce\n\n");
        if (command != null) {
            md.append("```\n./attune");
            for (String a : command) {
                md.append(' ').append(a.matches("[A-Za-z0-9_./:=,+-]+") ? a : "'" + a.replace("'", "'\\''") + "'");
            }
            md.append("\n```\n\n");
        } else {
            md.append("Train `").append(base).append("` again on the same data with the settings above.\n\n");
        }
        md.append("On CPU with the same seed and thread count the run is deterministic; logs are in ")
                .append("`trainer_log.jsonl` and TensorBoard event files in `runs/` (`tensorboard --logdir runs`).\n");
        return md.toString();
    }

    /**
     * @param config the run's settings
     * @param model the model trained (its task decides the metric for the best model when unset)
     * @return every setting that shapes the result, by its builder name, as the card lists them
     */
    static Map<String, Object> settings(TrainingConfig config, FineTunedModel model) {
        Map<String, Object> out = new LinkedHashMap<>();
        for (RecordComponent c : TrainingConfig.class.getRecordComponents()) {
            Object value = get(c, config);
            if (value instanceof Record group) {
                for (RecordComponent g : group.getClass().getRecordComponents()) {
                    put(out, g.getName(), get(g, group));
                }
            } else {
                put(out, c.getName(), value);
            }
        }
        out.replace("metricForBestModel", config.metricForBestModel(model.task()));
        out.replace("greaterIsBetter", config.greaterIsBetter(model.task()));
        return out;
    }

    private static void put(Map<String, Object> out, String name, Object value) {
        if (!NOT_SETTINGS.contains(name)) {
            out.put(name, value);
        }
    }

    private static Object get(RecordComponent c, Object record) {
        try {
            return c.getAccessor().invoke(record);
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException("cannot read " + c.getName(), e);
        }
    }

    private static String defaultBaseModel(FineTunedModel model) {
        String origin = model.config().origin();
        if (origin == null) {
            return model.lowered().definition().architecture();
        }
        Path p = Path.of(origin);
        return p.getFileName() != null && p.getFileName().toString().equals("config.json") && p.getParent() != null
                ? p.getParent().toString() : origin;
    }

    private static String lastName(String location) {
        try {
            Path name = Path.of(location).getFileName();
            return name == null ? location : name.toString();
        } catch (java.nio.file.InvalidPathException e) {
            return location;
        }
    }

    private static String f4(double v) {
        return String.format(Locale.ROOT, "%.4f", v);
    }
}
