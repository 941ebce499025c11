package dev.attune;

import org.apiguardian.api.API;

import com.google.inject.AbstractModule;
import com.google.inject.Provides;
import com.google.inject.Singleton;
import com.google.inject.multibindings.MapBinder;
import dev.attune.engine.EngineProvider;
import dev.attune.model.Exporter;
import dev.attune.model.ModelFamily;
import dev.attune.model.SourceProvider;
import dev.attune.task.TaskProvider;
import java.util.Map;
import java.util.ServiceLoader;
import java.util.function.Consumer;

/**
 * Guice wiring of what {@link ServiceLoader} discovers: engines, model families, tasks, checkpoint
 * source providers and exporters are bound by name in {@link MapBinder}s (so an application or a
 * plugin's own module can add more), a {@link PluginRegistry} is built from those maps, and plugin
 * modules listed under {@code META-INF/services/com.google.inject.Module} are installed. {@link
 * Attune} itself is bound as a singleton built on that registry (its engine starts when it is first
 * injected; the application closes it, for example when its injector's scope ends):
 *
 * <pre>{@code
 * Injector injector = Guice.createInjector(new AttuneModule(b -> b.engine("tensorflow").numThreads(4)));
 * Attune attune = injector.getInstance(Attune.class);
 * }</pre>
 */
@API(status = API.Status.STABLE, since = "0.1")
public final class AttuneModule extends AbstractModule {
    private final ClassLoader loader;
    private final Consumer<Attune.Builder> settings;

    /** Discovers from the context class loader; {@link Attune} gets the default engine and settings. */
    public AttuneModule() {
        this(Thread.currentThread().getContextClassLoader());
    }

    /** @param loader where to discover plugins */
    public AttuneModule(ClassLoader loader) {
        this(loader, builder -> { });
    }

    /**
     * @param settings applied to the {@link Attune.Builder} of the bound {@link Attune} (engine,
     *     device, threads, seed); its registry is the one this module binds
     */
    public AttuneModule(Consumer<Attune.Builder> settings) {
        this(Thread.currentThread().getContextClassLoader(), settings);
    }

    /**
     * @param loader where to discover plugins
     * @param settings applied to the {@link Attune.Builder} of the bound {@link Attune}
     */
    public AttuneModule(ClassLoader loader, Consumer<Attune.Builder> settings) {
        this.loader = loader != null ? loader : AttuneModule.class.getClassLoader();
        this.settings = java.util.Objects.requireNonNull(settings, "settings");
    }

    /**
     * @param binder the Guice binder
     * @return the engine map binder, for modules that add engines
     */
    public static MapBinder<String, EngineProvider> engines(com.google.inject.Binder binder) {
        return MapBinder.newMapBinder(binder, String.class, EngineProvider.class);
    }

    /**
     * @param binder the Guice binder
     * @return the family map binder
     */
    public static MapBinder<String, ModelFamily> families(com.google.inject.Binder binder) {
        return MapBinder.newMapBinder(binder, String.class, ModelFamily.class);
    }

    /**
     * @param binder the Guice binder
     * @return the task map binder
     */
    public static MapBinder<String, TaskProvider> tasks(com.google.inject.Binder binder) {
        return MapBinder.newMapBinder(binder, String.class, TaskProvider.class);
    }

    /**
     * @param binder the Guice binder
     * @return the checkpoint source provider map binder, keyed by provider name
     */
    public static MapBinder<String, SourceProvider> sources(com.google.inject.Binder binder) {
        return MapBinder.newMapBinder(binder, String.class, SourceProvider.class);
    }

    /**
     * @param binder the Guice binder
     * @return the exporter map binder, keyed by format
     */
    public static MapBinder<String, Exporter> exporters(com.google.inject.Binder binder) {
        return MapBinder.newMapBinder(binder, String.class, Exporter.class);
    }

    @Override
    protected void configure() {
        MapBinder<String, EngineProvider> engines = engines(binder());
        PluginRegistry.load(EngineProvider.class, EngineProvider::name, loader)
                .forEach((name, p) -> engines.addBinding(name).toInstance(p));
        MapBinder<String, ModelFamily> families = families(binder());
        PluginRegistry.load(ModelFamily.class, ModelFamily::modelType, loader)
                .forEach((name, f) -> families.addBinding(name).toInstance(f));
        MapBinder<String, TaskProvider> tasks = tasks(binder());
        PluginRegistry.load(TaskProvider.class, TaskProvider::name, loader)
                .forEach((name, t) -> tasks.addBinding(name).toInstance(t));
        MapBinder<String, SourceProvider> sources = sources(binder());
        PluginRegistry.load(SourceProvider.class, SourceProvider::name, loader)
                .forEach((name, s) -> sources.addBinding(name).toInstance(s));
        MapBinder<String, Exporter> exporters = exporters(binder());
        PluginRegistry.load(Exporter.class, PluginRegistry::formatOf, loader)
                .forEach((format, e) -> exporters.addBinding(format).toInstance(e));
        for (com.google.inject.Module plugin : ServiceLoader.load(com.google.inject.Module.class, loader)) {
            install(plugin);
        }
    }

    @Provides
    @Singleton
    PluginRegistry registry(Map<String, EngineProvider> engines, Map<String, ModelFamily> families,
            Map<String, TaskProvider> tasks, Map<String, SourceProvider> sources, Map<String, Exporter> exporters) {
        return new PluginRegistry(engines, families, tasks, sources, exporters);
    }

    @Provides
    @Singleton
    Attune attune(PluginRegistry registry) {
        Attune.Builder builder = Attune.builder();
        settings.accept(builder);
        return builder.registry(registry).build();
    }
}
