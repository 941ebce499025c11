package dev.attune.engine.tensorflow;

import dev.attune.error.EngineException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Makes TensorFlow's native libraries available to DJL without any user setting: the libraries of
 * {@code org.tensorflow:tensorflow-core-native} (classifier {@code linux-x86_64}, on the classpath)
 * are extracted once into a versioned cache folder, and {@code TENSORFLOW_LIBRARY_PATH} (a system
 * property, which DJL reads like the environment variable) names that folder before DJL's engine
 * starts. Without it DJL would try to download natives from the internet.
 *
 * <p>Extraction writes each file under a temporary name and moves it into place, with a marker
 * written last, so a crash never leaves a half-written library that a later start would trust.
 */
final class TfNatives {
    private static final Logger LOG = LoggerFactory.getLogger(TfNatives.class);

    /** The TensorFlow Java release whose natives the module depends on (see the pom). */
    static final String VERSION = "1.0.0-rc.1";
    static final String PROPERTY = "TENSORFLOW_LIBRARY_PATH";
    private static final String RESOURCE_DIR = "org/tensorflow/internal/c_api/linux-x86_64/";
    private static final List<String> LIBRARIES =
            List.of("libtensorflow_framework.so.2", "libtensorflow_cc.so.2", "libjnitensorflow.so");
    private static final String MARKER = ".complete";

    private static volatile boolean prepared;

    private TfNatives() {}

    /**
     * Extracts the natives (first run only) and points DJL at them, unless the user already set
     * {@code TENSORFLOW_LIBRARY_PATH} (environment or system property).
     */
    static synchronized void prepare() {
        if (prepared) {
            return;
        }
        if (System.getenv(PROPERTY) != null || System.getProperty(PROPERTY) != null) {
            LOG.debug("{} set by the user; not extracting natives", PROPERTY);
            prepared = true;
            return;
        }
        String os = System.getProperty("os.name", "").toLowerCase(java.util.Locale.ROOT);
        String arch = System.getProperty("os.arch", "");
        if (!os.contains("linux") || !(arch.equals("amd64") || arch.equals("x86_64"))) {
            throw new EngineException("attune-engine-tensorflow ships natives for linux-x86_64 only, this is " + os + "/"
                    + arch + "; set " + PROPERTY + " to a folder holding TensorFlow " + VERSION + "'s libjnitensorflow,"
                    + " libtensorflow_cc and libtensorflow_framework for this platform");
        }
        Path folder = cacheFolder();
        try {
            if (!Files.isRegularFile(folder.resolve(MARKER))) {
                extract(folder);
            }
        } catch (IOException e) {
            throw new EngineException("could not extract TensorFlow's natives into " + folder + " (" + e.getMessage()
                    + "); free disk space or make the folder writable, or set " + PROPERTY
                    + " to a folder that holds them", e);
        }
        System.setProperty(PROPERTY, folder.toString());
        prepared = true;
    }

    /** @return {@code <DJL cache>/tensorflow/attune-<version>-cpu-linux-x86_64} */
    static Path cacheFolder() {
        return ai.djl.util.Utils.getEngineCacheDir("tensorflow").resolve("attune-" + VERSION + "-cpu-linux-x86_64");
    }

    private static void extract(Path folder) throws IOException {
        ClassLoader loader = TfNatives.class.getClassLoader();
        if (loader.getResource(RESOURCE_DIR + "libjnitensorflow.so") == null) {
            throw new EngineException("TensorFlow's natives are not on the classpath: add "
                    + "org.tensorflow:tensorflow-core-native:" + VERSION + " with classifier linux-x86_64 (Maven Central)"
                    + ", or set " + PROPERTY + " to a folder that holds them");
        }
        Files.createDirectories(folder);
        long start = System.nanoTime();
        for (String lib : LIBRARIES) {
            try (InputStream in = loader.getResourceAsStream(RESOURCE_DIR + lib)) {
                if (in == null) {
                    throw new IOException(lib + " is missing from tensorflow-core-native");
                }
                Path tmp = Files.createTempFile(folder, lib, ".part");
                try {
                    Files.copy(in, tmp, StandardCopyOption.REPLACE_EXISTING);
                    move(tmp, folder.resolve(lib));
                } finally {
                    Files.deleteIfExists(tmp);
                }
            }
        }
        Files.writeString(folder.resolve(MARKER), VERSION);
        LOG.info("extracted TensorFlow {} natives to {} in {} ms", VERSION, folder, (System.nanoTime() - start) / 1_000_000);
    }

    private static void move(Path from, Path to) throws IOException {
        try {
            Files.move(from, to, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(from, to, StandardCopyOption.REPLACE_EXISTING);
        }
    }
}
