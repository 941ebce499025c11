package dev.attune;

import org.apiguardian.api.API;

import dev.attune.core.internal.ModelLocations;
import dev.attune.engine.EngineProvider;
import dev.attune.error.ConfigurationException;
import dev.attune.error.InvalidCheckpointException;
import dev.attune.error.UnsupportedArchitectureException;
import dev.attune.formats.hf.HfTokenizer;
import dev.attune.model.Exporter;
import dev.attune.model.ModelFamily;
import dev.attune.model.ModelSource;
import dev.attune.model.SourceProvider;
import dev.attune.task.TaskProvider;
import java.nio.file.Path;
import java.util.Collection;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.ServiceLoader;
import java.util.TreeMap;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The engines, model families, tasks, checkpoint sources and export formats available to an
 * application, by name. {@link #discover} finds them with {@link ServiceLoader} and logs where each
 * came from; the Guice {@link AttuneModule} exposes the same maps for injection. Lookups of a
 * missing name fail with the names that are available.
 */
@API(status = API.Status.EXPERIMENTAL, since = "0.1")
public final class PluginRegistry {
    private static final Logger LOG = LoggerFactory.getLogger(PluginRegistry.class);

    /** Lends source providers the HuggingFace tokenizer reader, which lives in formats-hf. */
    private static final SourceProvider.Context CONTEXT = HfTokenizer::load;

    private final Map<String, EngineProvider> engines;
    private final Map<String, ModelFamily> families;
    private final Map<String, TaskProvider> tasks;
    private final Map<String, SourceProvider> sources;
    private final Map<String, Exporter> exporters;

    /**
     * With the source providers and exporters that {@link ServiceLoader} finds on the context class
     * path.
     *
     * @param engines engine providers by name
     * @param families model families by {@code model_type}
     * @param tasks task providers by name
     */
    public PluginRegistry(
            Map<String, EngineProvider> engines, Map<String, ModelFamily> families, Map<String, TaskProvider> tasks) {
        this(engines, families, tasks, load(SourceProvider.class, SourceProvider::name, contextLoader()),
                load(Exporter.class, PluginRegistry::formatOf, contextLoader()));
    }

    /**
     * @param engines engine providers by name
     * @param families model families by {@code model_type}
     * @param tasks task providers by name
     * @param sources checkpoint source providers by name
     * @param exporters exporters by format
     */
    public PluginRegistry(Map<String, EngineProvider> engines, Map<String, ModelFamily> families,
            Map<String, TaskProvider> tasks, Map<String, SourceProvider> sources, Map<String, Exporter> exporters) {
        this.engines = new TreeMap<>(engines);
        this.families = new TreeMap<>(families);
        this.tasks = new TreeMap<>(tasks);
        this.sources = new TreeMap<>(sources);
        this.exporters = new TreeMap<>(exporters);
    }

    /**
     * @param loader the class loader to search
     * @return every plugin on its class path
     * @throws ConfigurationException when two plugins of a kind share a name
     */
    public static PluginRegistry discover(ClassLoader loader) {
        return new PluginRegistry(
                load(EngineProvider.class, EngineProvider::name, loader),
                load(ModelFamily.class, ModelFamily::modelType, loader),
                load(TaskProvider.class, TaskProvider::name, loader),
                load(SourceProvider.class, SourceProvider::name, loader),
                load(Exporter.class, PluginRegistry::formatOf, loader));
    }

    /** @return every plugin on the context class path */
    public static PluginRegistry discover() {
        return discover(contextLoader());
    }

    private static ClassLoader contextLoader() {
        ClassLoader cl = Thread.currentThread().getContextClassLoader();
        return cl != null ? cl : PluginRegistry.class.getClassLoader();
    }

    static String formatOf(Exporter exporter) {
        return exporter.format().toLowerCase(Locale.ROOT);
    }

    static <T> Map<String, T> load(Class<T> type, Function<T, String> nameOf, ClassLoader loader) {
        Map<String, T> found = new LinkedHashMap<>();
        for (T plugin : ServiceLoader.load(type, loader)) {
            String name = nameOf.apply(plugin);
            T previous = found.putIfAbsent(name, plugin);
            if (previous != null && !previous.getClass().getName().equals(plugin.getClass().getName())) {
                throw new ConfigurationException(
                        "two " + type.getSimpleName() + " plugins are named '" + name + "': "
                                + previous.getClass().getName() + " and " + plugin.getClass().getName()
                                + "; remove one of them from the class path");
            }
            LOG.debug("found {} '{}' ({} from {})", type.getSimpleName(), name, plugin.getClass().getName(),
                    Optional.ofNullable(plugin.getClass().getProtectionDomain().getCodeSource())
                            .map(cs -> String.valueOf(cs.getLocation())).orElse("?"));
        }
        return found;
    }

    /** @return engine providers by name */
    public Map<String, EngineProvider> engines() {
        return java.util.Collections.unmodifiableMap(engines);
    }

    /** @return model families by model_type */
    public Map<String, ModelFamily> families() {
        return java.util.Collections.unmodifiableMap(families);
    }

    /** @return task providers by name */
    public Map<String, TaskProvider> tasks() {
        return java.util.Collections.unmodifiableMap(tasks);
    }

    /** @return checkpoint source providers by name */
    public Map<String, SourceProvider> sources() {
        return java.util.Collections.unmodifiableMap(sources);
    }

    /** @return exporters by format */
    public Map<String, Exporter> exporters() {
        return java.util.Collections.unmodifiableMap(exporters);
    }

    /**
     * @param name an engine name, or null for the default (lowest rank)
     * @return the provider
     * @throws ConfigurationException when none is found
     */
    public EngineProvider engine(String name) {
        if (engines.isEmpty()) {
            throw new ConfigurationException(
                    "no engine on the class path; add dev.attune:attune-engine-pytorch (or another engine module)"
                            + " as a dependency");
        }
        if (name == null || name.isBlank()) {
            return engines.values().stream().min(Comparator.comparingInt(EngineProvider::rank)).orElseThrow();
        }
        EngineProvider p = engines.get(name.toLowerCase(java.util.Locale.ROOT));
        if (p == null) {
            throw new ConfigurationException("engine '" + name + "' is not on the class path; available: " + engines.keySet());
        }
        return p;
    }

    /**
     * @param modelType a config.json {@code model_type}
     * @return the family
     * @throws UnsupportedArchitectureException when no family reads it
     */
    public ModelFamily family(String modelType) {
        ModelFamily f = families.get(modelType);
        if (f == null) {
            throw new UnsupportedArchitectureException(
                    "model_type '" + modelType + "' is not supported; supported model types: " + families.keySet());
        }
        return f;
    }

    /**
     * @param name a task name
     * @return the provider
     * @throws ConfigurationException when none is found
     */
    public TaskProvider task(String name) {
        TaskProvider t = tasks.get(name);
        if (t == null) {
            throw new ConfigurationException("task '" + name + "' is not on the class path; available: " + names(tasks.values()));
        }
        return t;
    }

    /**
     * @param format an export format ({@code onnx})
     * @return its exporter
     * @throws ConfigurationException when no exporter of that format is on the class path
     */
    public Exporter exporter(String format) {
        Exporter e = exporters.get(format == null ? "" : format.toLowerCase(Locale.ROOT));
        if (e == null) {
            throw new ConfigurationException("no exporter of format '" + format + "' is on the class path; available: "
                    + exporters.keySet() + " (onnx comes with attune-engine-onnx, savedmodel with"
                    + " attune-engine-tensorflow)");
        }
        return e;
    }

    /** @return the source providers in the order they are asked: by rank, then name */
    public List<SourceProvider> sourcesByRank() {
        return sources.values().stream()
                .sorted(Comparator.comparingInt(SourceProvider::rank).thenComparing(SourceProvider::name)).toList();
    }

    /**
     * Reads a location as a user types it: a leading {@code ~} is the home folder; a location that
     * looks like a local path ({@link ModelLocations#looksLocal}) must exist; then the source
     * providers are asked in rank order and the first that recognises it reads it (logged at DEBUG,
     * with the provider's name and the source's description).
     *
     * @param location a folder, a file, or a model id ({@code org/name}, {@code hf://org/name@rev})
     * @return the source
     * @throws InvalidCheckpointException when the location looks local and nothing is there, or
     *     exists and no provider reads it
     * @throws ConfigurationException when it is neither a local path nor anything a provider reads
     */
    public ModelSource source(String location) {
        Objects.requireNonNull(location, "location");
        if (location.isBlank()) {
            throw new ConfigurationException("no model given: name a model folder, an .onnx file or a Hub model id");
        }
        String expanded = ModelLocations.expandHome(location.strip());
        boolean exists = ModelLocations.exists(expanded);
        if (!exists && ModelLocations.looksLocal(expanded)) {
            throw new InvalidCheckpointException(missing(location, expanded));
        }
        List<SourceProvider> ordered = sourcesByRank();
        for (SourceProvider provider : ordered) {
            Optional<ModelSource> source = provider.recognize(expanded, CONTEXT);
            if (source.isPresent()) {
                LOG.debug("model '{}' is read by source provider '{}': {}", location, provider.name(),
                        source.get().describe());
                return source.get();
            }
        }
        List<String> names = ordered.stream().map(SourceProvider::name).toList();
        if (exists) {
            throw new InvalidCheckpointException(location + ": no source provider reads it (asked " + names + "); pass a"
                    + " HuggingFace model folder (config.json), a TF Hub SavedModel folder (saved_model.pb and"
                    + " variables/) or an ONNX file (.onnx, or a folder holding model.onnx)");
        }
        throw new ConfigurationException("'" + location + "' is neither an existing file or folder nor a model that a"
                + " source provider recognises (asked " + names + "); a HuggingFace Hub model is org/name[@revision]"
                + " or hf://org/name[@revision]");
    }

    /**
     * As {@link #source(String)} for a path, which must exist.
     *
     * @param path a folder or file
     * @return the source
     * @throws InvalidCheckpointException when nothing is at the path, or no provider reads it
     */
    public ModelSource source(Path path) {
        String expanded = ModelLocations.expandHome(path.toString());
        if (!ModelLocations.exists(expanded)) {
            throw new InvalidCheckpointException(missing(path.toString(), expanded));
        }
        return source(expanded);
    }

    private static String missing(String location, String expanded) {
        Path path = ModelLocations.asPath(expanded);
        String absolute = path == null ? "" : " (" + path.toAbsolutePath().normalize() + ")";
        return location + ": no such file or folder" + absolute + "; it reads as a local path, so it was not looked"
                + " up on the HuggingFace Hub: check the path, or name a Hub model as org/name or hf://org/name";
    }

    private static String names(Collection<TaskProvider> providers) {
        return providers.stream().map(TaskProvider::name).sorted().toList().toString();
    }
}
