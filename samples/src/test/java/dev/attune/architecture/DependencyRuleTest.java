package dev.attune.architecture;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.classes;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.tngtech.archunit.base.DescribedPredicate;
import com.tngtech.archunit.core.domain.Dependency;
import com.tngtech.archunit.core.domain.JavaClass;
import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import com.tngtech.archunit.core.importer.Location;
import com.tngtech.archunit.lang.ArchCondition;
import com.tngtech.archunit.lang.ArchRule;
import com.tngtech.archunit.lang.ConditionEvents;
import com.tngtech.archunit.lang.SimpleConditionEvent;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.BiPredicate;
import java.util.function.Function;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * The dependency rule of the design, checked with ArchUnit on the main classes of every module (the
 * samples module has them all on its class path): which module a class belongs to is read from
 * where it was loaded ({@code <module>/target/classes} or {@code attune-<module>-<version>.jar}), so
 * the rules hold whatever the packages are called. A failure names the rule, the class, the
 * class it uses and the line.
 */
class DependencyRuleTest {
    /** The packages of the API module that plugins may use (and their sub-packages in that module). */
    static final List<String> API_PACKAGES = List.of("dev.attune.ops", "dev.attune.engine", "dev.attune.model",
            "dev.attune.task", "dev.attune.train", "dev.attune.generate", "dev.attune.error");
    static final String API = "sdk-api";
    static final Set<String> MODULES = Set.of(API, "core", "formats-hf", "formats-tfhub", "models", "tasks",
            "engine-pytorch", "engine-tensorflow", "engine-onnx", "spark", "samples");

    private static final Pattern CLASSES_FOLDER = Pattern.compile("/([^/]+)/target/classes/");
    private static final Pattern JAR = Pattern.compile("/attune-([a-z0-9-]+?)-\\d[^/!]*\\.jar!/");

    /** Main classes only: no test folders and no test jars. */
    static final ImportOption MAIN_ONLY = (Location location) -> !location.contains("/target/test-classes/")
            && !location.contains("-tests.jar");

    static final JavaClasses CLASSES = importProject();

    /** Imports the class path roots that hold {@code dev/attune} (the JDK finds them without opening every jar). */
    private static JavaClasses importProject() {
        try {
            List<java.net.URL> roots = java.util.Collections.list(
                    DependencyRuleTest.class.getClassLoader().getResources("dev/attune"));
            return new ClassFileImporter().withImportOption(MAIN_ONLY).importUrls(roots);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    /**
     * @param c a class
     * @return the project module it was loaded from, or null for a class outside the project
     */
    static String moduleByLocation(JavaClass c) {
        String uri = c.getSource().map(s -> s.getUri().toString()).orElse("");
        for (Pattern p : List.of(CLASSES_FOLDER, JAR)) {
            Matcher m = p.matcher(uri);
            if (m.find() && MODULES.contains(m.group(1))) {
                return m.group(1);
            }
        }
        return null;
    }

    static boolean inApiPackage(JavaClass c) {
        String pkg = c.getPackageName();
        return API_PACKAGES.stream().anyMatch(p -> pkg.equals(p) || pkg.startsWith(p + "."));
    }

    /**
     * A rule over the classes of some modules: every project class they use must be allowed.
     *
     * @param name the rule, as a failure names it
     * @param appliesTo the modules whose classes are checked
     * @param allowed whether a class of the given module may use a project class
     * @param moduleOf where a class belongs
     * @return the rule
     */
    static ArchRule rule(String name, Predicate<String> appliesTo, BiPredicate<String, JavaClass> allowed,
            Function<JavaClass, String> moduleOf) {
        DescribedPredicate<JavaClass> inModules = DescribedPredicate.describe("are in the modules of rule '" + name + "'",
                c -> {
                    String m = moduleOf.apply(c);
                    return m != null && appliesTo.test(m);
                });
        ArchCondition<JavaClass> useOnlyAllowed = new ArchCondition<>("use only what rule '" + name + "' allows") {
            @Override
            public void check(JavaClass origin, ConditionEvents events) {
                String own = moduleOf.apply(origin);
                for (Dependency d : origin.getDirectDependenciesFromSelf()) {
                    JavaClass target = d.getTargetClass().getBaseComponentType();
                    String targetModule = moduleOf.apply(target);
                    boolean project = targetModule != null || target.getPackageName().startsWith("dev.attune");
                    if (project && !target.equals(origin) && !allowed.test(own, target)) {
                        events.add(SimpleConditionEvent.violated(d, "[rule: " + name + "] " + origin.getName() + " ("
                                + own + ") uses " + target.getName() + " (" + (targetModule == null ? "unknown module"
                                : targetModule) + "): " + d.getDescription()));
                    }
                }
            }
        };
        return classes().that(inModules).should(useOnlyAllowed).as(name);
    }

    static final String SDK_API_RULE = "sdk-api depends on no other module of the project";
    static final String PLUGIN_RULE = "models, tasks and every engine-* use only the API packages "
            + API_PACKAGES + " of sdk-api and their own module";
    static final String FORMATS_RULE = "formats-* use only sdk-api, formats-hf and their own module (no engine, no core)";
    static final String CORE_RULE = "core uses only sdk-api, formats-hf and its own module";

    static final String SPARK_RULE = "spark uses only sdk-api, core, formats-hf and its own module (engines come from"
            + " the class path)";

    static ArchRule sparkRule(Function<JavaClass, String> moduleOf) {
        return rule(SPARK_RULE, "spark"::equals,
                (own, target) -> List.of(own, API, "core", "formats-hf").contains(String.valueOf(moduleOf.apply(target))),
                moduleOf);
    }

    static ArchRule sdkApiRule(Function<JavaClass, String> moduleOf) {
        return rule(SDK_API_RULE, API::equals, (own, target) -> API.equals(moduleOf.apply(target)), moduleOf);
    }

    static ArchRule pluginRule(Function<JavaClass, String> moduleOf) {
        return rule(PLUGIN_RULE, m -> m.equals("models") || m.equals("tasks") || m.startsWith("engine-"),
                (own, target) -> own.equals(moduleOf.apply(target))
                        || API.equals(moduleOf.apply(target)) && inApiPackage(target), moduleOf);
    }

    static ArchRule formatsRule(Function<JavaClass, String> moduleOf) {
        return rule(FORMATS_RULE, m -> m.startsWith("formats-"),
                (own, target) -> List.of(own, API, "formats-hf").contains(String.valueOf(moduleOf.apply(target))),
                moduleOf);
    }

    static ArchRule coreRule(Function<JavaClass, String> moduleOf) {
        return rule(CORE_RULE, "core"::equals,
                (own, target) -> List.of(own, API, "formats-hf").contains(String.valueOf(moduleOf.apply(target))),
                moduleOf);
    }

    @Test
    void everyModuleIsOnTheClassPathSoNoRuleHoldsVacuously() {
        Set<String> seen = new TreeSet<>();
        for (JavaClass c : CLASSES) {
            String m = moduleByLocation(c);
            if (m != null) {
                seen.add(m);
            }
        }
        assertThat(seen).containsAll(MODULES);
    }

    @Test
    void sparkUsesNoEngineAndNoCommandLine() {
        sparkRule(DependencyRuleTest::moduleByLocation).check(CLASSES);
    }

    @Test
    void sdkApiDependsOnNoOtherModule() {
        sdkApiRule(DependencyRuleTest::moduleByLocation).check(CLASSES);
    }

    @Test
    void modelsTasksAndEnginesUseOnlyTheApi() {
        pluginRule(DependencyRuleTest::moduleByLocation).check(CLASSES);
    }

    @Test
    void formatsUseNoEngineAndNoCore() {
        formatsRule(DependencyRuleTest::moduleByLocation).check(CLASSES);
    }

    @Test
    void coreUsesOnlyTheApiAndHuggingFaceFormats() {
        coreRule(DependencyRuleTest::moduleByLocation).check(CLASSES);
    }

    @Test
    void anEngineUsingTheRuntimeFailsNamingTheRuleAndTheClass() {
        // a class of this test module, taken for a class of an engine module: it uses the runtime's model
        JavaClasses offender = new ClassFileImporter().importClasses(FakeEngineInternals.class,
                dev.attune.core.DefaultFineTunedModel.class, dev.attune.model.ModelSource.class);
        Function<JavaClass, String> moduleOf = c -> c.isEquivalentTo(FakeEngineInternals.class) ? "engine-fake"
                : moduleByLocation(c);
        assertThatThrownBy(() -> pluginRule(moduleOf).check(offender)).isInstanceOf(AssertionError.class)
                .hasMessageContaining("[rule: " + PLUGIN_RULE + "]")
                .hasMessageContaining(FakeEngineInternals.class.getName() + " (engine-fake) uses "
                        + dev.attune.core.DefaultFineTunedModel.class.getName() + " (core)")
                .hasMessageContaining("(DependencyRuleTest.java:")
                .hasMessageNotContaining("uses " + dev.attune.model.ModelSource.class.getName() + " ");
    }

    /** What the rule must catch: an engine reaching into the runtime module. */
    static final class FakeEngineInternals {
        dev.attune.model.ModelSource allowed;

        Object forbidden(dev.attune.model.FineTunedModel m) {
            return m instanceof dev.attune.core.DefaultFineTunedModel d ? d.engineName() : null;
        }
    }
}
