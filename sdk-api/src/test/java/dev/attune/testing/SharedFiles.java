package dev.attune.testing;

import static org.junit.jupiter.api.Assertions.fail;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;

/**
 * Locates the project's {@code shared/} folder (fixtures, models, data sets) for tests.
 *
 * <p>The folder sits next to the project root, not inside it, and is never committed. Surefire
 * hands its location to every module's tests as the system property {@value #PROPERTY}. CI always
 * has it, so a missing folder fails the test with a message saying how to fix the setup instead
 * of silently skipping.
 *
 * <p>Published in sdk-api's test-jar for the other modules' tests.
 */
public final class SharedFiles {
    /** The system property that names the shared folder. */
    public static final String PROPERTY = "attune.shared";

    private SharedFiles() {}

    /**
     * @return the shared folder, which exists
     * @throws AssertionError (failing the test) when the property is unset or the folder is absent
     */
    public static Path root() {
        String value = System.getProperty(PROPERTY);
        if (value == null || value.isBlank()) {
            return fail("system property '" + PROPERTY + "' is not set; run the tests through Maven "
                    + "(surefire sets it to <project root>/../shared) or pass -D" + PROPERTY
                    + "=/path/to/shared");
        }
        Path root = Paths.get(value).toAbsolutePath().normalize();
        if (!Files.isDirectory(root)) {
            return fail("the shared folder " + root + " (system property '" + PROPERTY + "') does not "
                    + "exist; check out or link the shared material next to the project root");
        }
        return root;
    }

    /**
     * @param relative a path inside the shared folder, e.g. {@code fixtures/hf/bert-seqcls}
     * @return the resolved path, which exists
     * @throws AssertionError (failing the test) when the folder or the path is missing
     */
    public static Path path(String relative) {
        Path root = root();
        Path p = root.resolve(relative).normalize();
        if (!Files.exists(p)) {
            return fail(relative + " is missing from the shared folder " + root
                    + "; the shared material is incomplete or outdated");
        }
        return p;
    }
}
