package dev.attune;

import dev.attune.engine.EngineProvider;
import dev.attune.error.PluginException;
import dev.attune.error.UnsupportedArchitectureException;
import dev.attune.model.ModelFamily;
import dev.attune.task.TaskProvider;
import java.util.Collection;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.ServiceLoader;
import java.util.TreeMap;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The engines, model families and tasks available to an application, by name. {@link #discover}
 * finds them with {@link ServiceLoader} and logs where each came from; the Guice {@link
 * AttuneModule} exposes the same maps for injection. Lookups of a missing name fail with the names
 * that are available.
 */
public final class PluginRegistry {
    private static final Logger LOG = LoggerFactory.getLogger(PluginRegistry.class);

    private final Map<String, EngineProvider> engines;
    private final Map<String, ModelFamily> families;
    private final Map<String, TaskProvider> tasks;

    /**
     * @param engines engine providers by name
     * @param families model families by {@code model_type}
     * @param tasks task providers by name
     */
    public PluginRegistry(
            Map<String, EngineProvider> engines, Map<String, ModelFamily> families, Map<String, TaskProvider> tasks) {
        this.engines = new TreeMap<>(engines);
        this.families = new TreeMap<>(families);
        this.tasks = new TreeMap<>(tasks);
    }

    /**
     * @param loader the class loader to search
     * @return every plugin on its class path
     * @throws PluginException when two plugins of a kind share a name
     */
    public static PluginRegistry discover(ClassLoader loader) {
        return new PluginRegistry(
                load(EngineProvider.class, EngineProvider::name, loader),
                load(ModelFamily.class, ModelFamily::modelType, loader),
                load(TaskProvider.class, TaskProvider::name, loader));
    }

    /** @return every plugin on the context class path */
    public static PluginRegistry discover() {
        ClassLoader cl = Thread.currentThread().getContextClassLoader();
        return discover(cl != null ? cl : PluginRegistry.class.getClassLoader());
    }

    static <T> Map<String, T> load(Class<T> type, Function<T, String> nameOf, ClassLoader loader) {
        Map<String, T> found = new LinkedHashMap<>();
        for (T plugin : ServiceLoader.load(type, loader)) {
            String name = nameOf.apply(plugin);
            T previous = found.putIfAbsent(name, plugin);
            if (previous != null && !previous.getClass().getName().equals(plugin.getClass().getName())) {
                throw new PluginException(
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

    /**
     * @param name an engine name, or null for the default (lowest rank)
     * @return the provider
     * @throws PluginException when none is found
     */
    public EngineProvider engine(String name) {
        if (engines.isEmpty()) {
            throw new PluginException(
                    "no engine on the class path; add dev.attune:attune-engine-pytorch (or another engine module)"
                            + " as a dependency");
        }
        if (name == null || name.isBlank()) {
            return engines.values().stream().min(Comparator.comparingInt(EngineProvider::rank)).orElseThrow();
        }
        EngineProvider p = engines.get(name.toLowerCase(java.util.Locale.ROOT));
        if (p == null) {
            throw new PluginException("engine '" + name + "' is not on the class path; available: " + engines.keySet());
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
     * @throws PluginException when none is found
     */
    public TaskProvider task(String name) {
        TaskProvider t = tasks.get(name);
        if (t == null) {
            throw new PluginException("task '" + name + "' is not on the class path; available: " + names(tasks.values()));
        }
        return t;
    }

    private static String names(Collection<TaskProvider> providers) {
        return providers.stream().map(TaskProvider::name).sorted().toList().toString();
    }
}
