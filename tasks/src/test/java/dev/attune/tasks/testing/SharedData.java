package dev.attune.tasks.testing;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;

/** The shared data folder ({@code ../shared} of the project root), which these tests require. */
public final class SharedData {
    private SharedData() {}

    /**
     * @param relative a path under shared/data
     * @return the file; fails the test when the shared folder or the file is missing
     */
    public static Path data(String relative) {
        String root = System.getProperty("attune.shared");
        assertThat(root)
                .as("system property attune.shared (surefire sets it to the project root's ../shared)")
                .isNotBlank();
        Path file = Path.of(root, "data", relative);
        assertThat(file).as("shared data file (the shared folder must sit next to the project root)").isRegularFile();
        return file;
    }
}
