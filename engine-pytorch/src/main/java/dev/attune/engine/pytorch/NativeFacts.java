package dev.attune.engine.pytorch;

import dev.attune.engine.EngineOptions.DeviceSpec;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.Enumeration;
import java.util.HashSet;
import java.util.Locale;
import java.util.Properties;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Gathers the facts {@link NativeSelection} decides on (environment, NVIDIA driver, DJL's CUDA probe
 * and cache), and starts DJL's PyTorch engine as decided. The parsing helpers are package-private so
 * tests can feed them text and folders.
 */
final class NativeFacts {
    private static final Logger LOG = LoggerFactory.getLogger(NativeFacts.class);

    /** The resource through which DJL's Platform finds bundled natives (the CPU jar's). */
    static final String BUNDLED_PROPERTIES = "native/lib/pytorch.properties";
    /** Set to {@code true}, forbids DJL's libtorch download as {@code DJL_OFFLINE=true} does. */
    static final String OFFLINE_PROPERTY = "attune.offline";
    /** The driver's version file on Linux. */
    static final Path DRIVER_VERSION = Path.of("/proc/driver/nvidia/version");

    private static final Pattern DRIVER = Pattern.compile("(?m)^NVRM version:.*?\\s(\\d{3,4})\\.\\d+");

    private NativeFacts() {}

    /**
     * @param requested the device asked for
     * @return what this machine and process say
     */
    static NativeSelection.Facts detect(DeviceSpec.Kind requested) {
        String libraryPath = envOrProperty("PYTORCH_LIBRARY_PATH");
        Path cache = ai.djl.util.Utils.getEngineCacheDir("pytorch");
        boolean cpuOnly = requested == DeviceSpec.Kind.CPU;
        int driver = cpuOnly ? 0 : driverMajor(read(DRIVER_VERSION));
        int gpus = 0;
        if (!cpuOnly) {
            try {
                gpus = ai.djl.util.cuda.CudaUtils.getGpuCount();
            } catch (RuntimeException | LinkageError e) {
                LOG.debug("DJL's CUDA probe failed: {}", e.toString());
            }
            gpus = Math.max(gpus, driverGpuCount());
        }
        boolean offline = "true".equalsIgnoreCase(System.getenv("DJL_OFFLINE")) || Boolean.getBoolean(OFFLINE_PROPERTY);
        return new NativeSelection.Facts(requested, libraryPath, hasLibtorch(libraryPath), envOrProperty("PYTORCH_FLAVOR"),
                gpus, driver, cpuOnly ? Set.of() : cachedFlavors(cache, pytorchVersion(), classifier()), offline,
                cache.toString());
    }

    /** The CUDA driver API (libcuda, installed with the NVIDIA driver). */
    interface CudaDriver extends com.sun.jna.Library {
        int cuInit(int flags);

        int cuDeviceGetCount(com.sun.jna.ptr.IntByReference count);
    }

    /**
     * Counts CUDA devices through the driver's own library (libcuda), which every machine with the NVIDIA
     * driver has: DJL's probe needs a CUDA runtime (libcudart) on the library path, which a machine with
     * only the driver lacks, although libtorch's CUDA build brings its own.
     *
     * @return the devices the driver reports (honouring CUDA_VISIBLE_DEVICES), 0 without a driver
     */
    static int driverGpuCount() {
        try {
            CudaDriver cuda = com.sun.jna.Native.load("cuda", CudaDriver.class);
            if (cuda.cuInit(0) != 0) {
                return 0;
            }
            com.sun.jna.ptr.IntByReference n = new com.sun.jna.ptr.IntByReference();
            return cuda.cuDeviceGetCount(n) == 0 ? n.getValue() : 0;
        } catch (UnsatisfiedLinkError | RuntimeException e) {
            LOG.debug("no CUDA driver library: {}", e.toString());
            return 0;
        }
    }

    /** As DJL reads its settings: the environment first, then a system property of the same name. */
    static String envOrProperty(String name) {
        String v = System.getenv(name);
        return v != null ? v : System.getProperty(name);
    }

    /**
     * @param text the contents of /proc/driver/nvidia/version, or null
     * @return the driver's major version, 0 when unknown
     */
    static int driverMajor(String text) {
        if (text == null) {
            return 0;
        }
        Matcher m = DRIVER.matcher(text);
        return m.find() ? Integer.parseInt(m.group(1)) : 0;
    }

    /**
     * @param path PYTORCH_LIBRARY_PATH (folders or the library itself, separated as java.library.path)
     * @return whether one entry holds libtorch, as DJL looks for it
     */
    static boolean hasLibtorch(String path) {
        if (path == null || path.isBlank()) {
            return false;
        }
        String lib = System.mapLibraryName("torch");
        for (String p : path.split(File.pathSeparator)) {
            Path at = Path.of(p);
            if ((Files.isRegularFile(at) && at.getFileName().toString().equals(lib))
                    || Files.isRegularFile(at.resolve(lib))) {
                return true;
            }
        }
        return false;
    }

    /**
     * @param cache DJL's pytorch cache folder
     * @param version the libtorch version DJL downloads ({@code 2.7.1})
     * @param classifier {@code linux-x86_64}
     * @return the CUDA flavours with a complete libtorch there (DJL names folders version-flavour-classifier)
     */
    static Set<String> cachedFlavors(Path cache, String version, String classifier) {
        Set<String> out = new HashSet<>();
        if (!Files.isDirectory(cache)) {
            return out;
        }
        Pattern folder = Pattern.compile(Pattern.quote(version) + "-(cu\\d{3}(?:-precxx11)?)-" + Pattern.quote(classifier));
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(cache)) {
            for (Path e : entries) {
                Matcher m = folder.matcher(e.getFileName().toString());
                if (m.matches() && Files.isRegularFile(e.resolve(System.mapLibraryName("torch")))) {
                    out.add(m.group(1));
                }
            }
        } catch (IOException e) {
            LOG.debug("cannot list {}: {}", cache, e.toString());
        }
        return out;
    }

    /** @return the libtorch version this DJL engine downloads (pytorch-engine.properties) */
    static String pytorchVersion() {
        try (InputStream in = ai.djl.pytorch.engine.PtEngine.class.getResourceAsStream("/pytorch-engine.properties")) {
            Properties p = new Properties();
            if (in != null) {
                p.load(in);
            }
            return p.getProperty("pytorch_version", "2.7.1");
        } catch (IOException e) {
            return "2.7.1";
        }
    }

    /** @return DJL's platform classifier ({@code linux-x86_64}) */
    static String classifier() {
        String os = System.getProperty("os.name", "").toLowerCase(Locale.ROOT);
        String prefix = os.startsWith("win") ? "win" : os.startsWith("mac") ? "osx" : "linux";
        String arch = System.getProperty("os.arch", "");
        return prefix + "-" + ("amd64".equals(arch) ? "x86_64" : arch);
    }

    private static String read(Path file) {
        try {
            return Files.isReadable(file) ? Files.readString(file, StandardCharsets.UTF_8) : null;
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }

    /**
     * Starts DJL's PyTorch engine as chosen. For CUDA: {@code PYTORCH_FLAVOR} names the flavour (unless
     * the environment already does), DJL's Platform lookup does not see the CPU jar, and DJL's offline
     * mode is lifted while it may download (its usage report stays off: {@code OPT_OUT_TRACKING}).
     *
     * @param choice the decision
     * @return DJL's engine
     */
    static ai.djl.engine.Engine start(NativeSelection.Choice choice) {
        if (!choice.hidesBundledCpu()) {
            return ai.djl.engine.Engine.getEngine("PyTorch");
        }
        if (System.getenv("PYTORCH_FLAVOR") == null) {
            System.setProperty("PYTORCH_FLAVOR", choice.flavor());
        }
        String offlineBefore = System.getProperty("ai.djl.offline");
        if (choice.downloads()) {
            if (envOrProperty("OPT_OUT_TRACKING") == null) {
                System.setProperty("OPT_OUT_TRACKING", "true");
            }
            System.setProperty("ai.djl.offline", "false");
        }
        Thread thread = Thread.currentThread();
        ClassLoader before = thread.getContextClassLoader();
        thread.setContextClassLoader(new WithoutBundledCpu(before != null ? before : NativeFacts.class.getClassLoader()));
        try {
            return ai.djl.engine.Engine.getEngine("PyTorch");
        } finally {
            thread.setContextClassLoader(before);
            if (choice.downloads()) {
                if (offlineBefore == null) {
                    System.clearProperty("ai.djl.offline");
                } else {
                    System.setProperty("ai.djl.offline", offlineBefore);
                }
            }
        }
    }

    /**
     * A class loader that delegates everything to its parent except the CPU jar's {@value
     * #BUNDLED_PROPERTIES}, which it does not show: DJL then treats the machine as having no bundled
     * natives and loads the CUDA build named by {@code PYTORCH_FLAVOR} (from its cache or the network).
     */
    static final class WithoutBundledCpu extends ClassLoader {
        WithoutBundledCpu(ClassLoader parent) {
            super(parent);
        }

        @Override
        public URL getResource(String name) {
            return BUNDLED_PROPERTIES.equals(name) ? null : super.getResource(name);
        }

        @Override
        public Enumeration<URL> getResources(String name) throws IOException {
            return BUNDLED_PROPERTIES.equals(name) ? Collections.emptyEnumeration() : super.getResources(name);
        }

        @Override
        public InputStream getResourceAsStream(String name) {
            return BUNDLED_PROPERTIES.equals(name) ? null : super.getResourceAsStream(name);
        }
    }
}
