package dev.attune.architecture;

import static org.assertj.core.api.Assertions.assertThat;

import com.tngtech.archunit.core.domain.JavaClass;
import com.tngtech.archunit.core.domain.JavaModifier;
import java.io.IOException;
import java.io.InputStream;
import java.lang.module.ModuleDescriptor;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;
import org.apiguardian.api.API;
import org.junit.jupiter.api.Test;

/**
 * The API module's surface: every public type, nested ones included, states its stability with
 * {@code @API}; the module descriptor exports the API packages and nothing else; and the number of
 * top-level public types stays within the budget the design set (about 45), so a new type is a
 * decision, not an accident.
 */
class ApiSurfaceTest {
    static final int TOP_LEVEL_BUDGET = 45;

    private static List<JavaClass> apiTypes() {
        return DependencyRuleTest.CLASSES.stream()
                .filter(c -> DependencyRuleTest.API.equals(DependencyRuleTest.moduleByLocation(c)))
                .filter(c -> !c.getSimpleName().equals("module-info") && !c.getSimpleName().equals("package-info"))
                .filter(c -> !c.isAnonymousClass() && !c.isLocalClass())
                .filter(c -> c.getModifiers().contains(JavaModifier.PUBLIC))
                .toList();
    }

    @Test
    void everyPublicApiTypeStatesItsStability() {
        List<String> unmarked = apiTypes().stream().filter(c -> !c.isAnnotatedWith(API.class))
                .map(JavaClass::getName).sorted().toList();
        assertThat(apiTypes()).hasSizeGreaterThan(40);
        assertThat(unmarked).as("public sdk-api types without @API(status = ...)").isEmpty();
    }

    @Test
    void theApiModuleHasAtMostItsBudgetOfTopLevelPublicTypes() {
        Set<String> topLevel = apiTypes().stream().filter(JavaClass::isTopLevelClass).map(JavaClass::getName)
                .collect(Collectors.toCollection(TreeSet::new));
        long nested = apiTypes().stream().filter(c -> !c.isTopLevelClass()).count();
        System.out.println("sdk-api public types: " + topLevel.size() + " top-level, " + nested + " nested: " + topLevel);
        assertThat(topLevel).as("top-level public types of sdk-api").hasSizeLessThanOrEqualTo(TOP_LEVEL_BUDGET);
    }

    @Test
    void theModuleDescriptorExportsTheApiPackagesOnly() throws IOException {
        // the descriptor in the same jar or classes folder as the API's classes
        java.net.URL ops = dev.attune.ops.Ops.class.getResource("Ops.class");
        java.net.URL info = new java.net.URL(ops.toString().replace("dev/attune/ops/Ops.class", "module-info.class"));
        ModuleDescriptor descriptor;
        try (InputStream in = info.openStream()) {
            descriptor = ModuleDescriptor.read(in);
        }
        assertThat(descriptor.name()).isEqualTo("dev.attune.api");
        assertThat(descriptor.exports()).allMatch(e -> !e.isQualified());
        assertThat(descriptor.exports().stream().map(ModuleDescriptor.Exports::source))
                .containsExactlyInAnyOrderElementsOf(DependencyRuleTest.API_PACKAGES);
        assertThat(descriptor.packages()).containsExactlyInAnyOrderElementsOf(DependencyRuleTest.API_PACKAGES);
    }
}
