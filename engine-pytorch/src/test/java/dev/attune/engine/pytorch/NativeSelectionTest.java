package dev.attune.engine.pytorch;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.pytorch.jni.LibUtils;
import ai.djl.util.Platform;
import dev.attune.engine.EngineOptions;
import dev.attune.engine.EngineOptions.DeviceSpec;
import dev.attune.engine.EngineOptions.DeviceSpec.Kind;
import dev.attune.error.EngineException;
import dev.attune.engine.pytorch.NativeSelection.Choice;
import dev.attune.engine.pytorch.NativeSelection.Facts;
import dev.attune.engine.pytorch.NativeSelection.Source;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Which libtorch the engine loads, decided on CPU from stated facts: a table of requested device,
 * environment, driver, CUDA probe, cache and offline switch to the source chosen, and the errors a GPU
 * request gets when it cannot be met. Also the two DJL facts the decision relies on, checked against
 * the DJL on the class path: with the CPU jar's properties hidden DJL's Platform becomes a placeholder
 * (so DJL downloads the flavour named), and the JNI jar carries the CUDA flavour chosen.
 */
class NativeSelectionTest {
    private static final String CACHE = "/home/u/.djl.ai/pytorch";

    /** Facts with no environment set, online, nothing cached. */
    private static Facts facts(Kind requested, int gpus, int driver) {
        return new Facts(requested, null, false, null, gpus, driver, Set.of(), false, CACHE);
    }

    @ParameterizedTest(name = "{0}, {1} GPUs, driver {2}, cached {3}, offline {4} -> {5}")
    @CsvSource(textBlock = """
            # requested, gpus, driver, cached cu128, offline, source
            CPU,  0,   0, false, false, BUNDLED_CPU
            CPU,  2, 570, true,  false, BUNDLED_CPU
            AUTO, 0,   0, false, false, BUNDLED_CPU
            AUTO, 1, 570, false, false, CUDA_DOWNLOAD
            AUTO, 1, 570, true,  false, CUDA_CACHED
            AUTO, 1, 570, true,  true,  CUDA_CACHED
            AUTO, 1, 570, false, true,  BUNDLED_CPU
            AUTO, 0, 570, false, false, CUDA_DOWNLOAD
            AUTO, 1, 470, false, false, BUNDLED_CPU
            GPU,  1, 570, false, false, CUDA_DOWNLOAD
            GPU,  0, 580, true,  true,  CUDA_CACHED
            GPU,  4,   0, false, false, CUDA_DOWNLOAD
            """)
    void theSourceFollowsDeviceDriverCacheAndNetwork(Kind requested, int gpus, int driver, boolean cached,
            boolean offline, Source expected) {
        Facts f = new Facts(requested, null, false, null, gpus, driver,
                cached ? Set.of(NativeSelection.CUDA_FLAVOR) : Set.of(), offline, CACHE);
        Choice c = NativeSelection.choose(f);
        assertThat(c.source()).isEqualTo(expected);
        assertThat(c.flavor()).isEqualTo(expected == Source.BUNDLED_CPU ? "cpu" : NativeSelection.CUDA_FLAVOR);
        assertThat(c.hidesBundledCpu()).isEqualTo(expected == Source.CUDA_CACHED || expected == Source.CUDA_DOWNLOAD);
        assertThat(c.downloads()).isEqualTo(expected == Source.CUDA_DOWNLOAD);
        assertThat(c.reason()).isNotBlank();
        if (expected == Source.CUDA_DOWNLOAD) {
            assertThat(c.reason()).contains(CACHE).contains("download");
        }
    }

    @Test
    void aGpuRequestWithNoGpuNamesTheDriverAndTheCpuWayOut() {
        assertThatThrownBy(() -> NativeSelection.choose(facts(Kind.GPU, 0, 0)))
                .isInstanceOf(EngineException.class).hasMessageContaining("no NVIDIA GPU")
                .hasMessageContaining("/proc/driver/nvidia/version").hasMessageContaining("driver")
                .hasMessageContaining("--device cpu");
    }

    @Test
    void aGpuRequestOfflineWithoutTheCudaBuildSaysHowToGetIt() {
        Facts f = new Facts(Kind.GPU, null, false, null, 1, 570, Set.of(), true, CACHE);
        assertThatThrownBy(() -> NativeSelection.choose(f)).isInstanceOf(EngineException.class)
                .hasMessageContaining(CACHE).hasMessageContaining("DJL_OFFLINE").hasMessageContaining("online")
                .hasMessageContaining("PYTORCH_LIBRARY_PATH").hasMessageContaining(NativeSelection.CUDA_FLAVOR);
    }

    @Test
    void aGpuRequestOnAnOldDriverAsksForANewerOne() {
        assertThatThrownBy(() -> NativeSelection.choose(facts(Kind.GPU, 1, 470))).isInstanceOf(EngineException.class)
                .hasMessageContaining("470").hasMessageContaining("R" + NativeSelection.MIN_DRIVER)
                .hasMessageContaining("update the driver");
    }

    @Test
    void pytorchLibraryPathWinsAndMustHoldLibtorch(@TempDir Path tmp) throws Exception {
        Path lib = Files.createDirectories(tmp.resolve("libtorch/lib"));
        String path = tmp.resolve("elsewhere") + java.io.File.pathSeparator + lib;
        assertThat(NativeFacts.hasLibtorch(path)).isFalse();
        Files.writeString(lib.resolve(System.mapLibraryName("torch")), "");
        assertThat(NativeFacts.hasLibtorch(path)).isTrue();
        assertThat(NativeFacts.hasLibtorch(lib.resolve(System.mapLibraryName("torch")).toString())).isTrue();
        for (Kind k : Kind.values()) {
            Choice c = NativeSelection.choose(new Facts(k, path, true, "cpu", 0, 0, Set.of(), true, CACHE));
            assertThat(c.source()).isEqualTo(Source.LIBRARY_PATH);
            assertThat(c.hidesBundledCpu()).isFalse();
        }
        assertThatThrownBy(() -> NativeSelection.choose(new Facts(Kind.GPU, "/opt/none", false, null, 1, 570,
                Set.of(), false, CACHE))).isInstanceOf(EngineException.class)
                .hasMessageContaining("PYTORCH_LIBRARY_PATH=/opt/none").hasMessageContaining("libtorch.so");
    }

    @ParameterizedTest(name = "PYTORCH_FLAVOR={0}, {1} -> {2}")
    @CsvSource(textBlock = """
            cpu,   AUTO, BUNDLED_CPU, cpu
            cu128, AUTO, CUDA_DOWNLOAD, cu128
            cu128, CPU,  BUNDLED_CPU, cpu
            cu126, GPU,  CUDA_DOWNLOAD, cu126
            """)
    void pytorchFlavorIsRespected(String flavor, Kind requested, Source source, String chosen) {
        // no GPU seen: the user's flavour decides (a driver-only machine DJL's probe cannot count)
        Choice c = NativeSelection.choose(new Facts(requested, null, false, flavor, 0, 0, Set.of(), false, CACHE));
        assertThat(c.source()).isEqualTo(source);
        assertThat(c.flavor()).isEqualTo(chosen);
        assertThat(c.reason()).contains(flavor);
    }

    @Test
    void contradictoryOrUnknownFlavoursAreRefused() {
        assertThatThrownBy(() -> NativeSelection.choose(new Facts(Kind.GPU, null, false, "cpu", 1, 570, Set.of(),
                false, CACHE))).isInstanceOf(EngineException.class).hasMessageContaining("PYTORCH_FLAVOR=cpu")
                .hasMessageContaining("--device cpu");
        assertThatThrownBy(() -> NativeSelection.choose(new Facts(Kind.AUTO, null, false, "rocm6", 0, 0, Set.of(),
                false, CACHE))).isInstanceOf(EngineException.class).hasMessageContaining("rocm6")
                .hasMessageContaining(NativeSelection.CUDA_FLAVOR);
    }

    @Test
    void theDriverVersionIsReadFromTheKernelModuleLine() {
        assertThat(NativeFacts.driverMajor("NVRM version: NVIDIA UNIX x86_64 Kernel Module  570.86.10  Fri Jan 10"
                + " 2025\nGCC version:  gcc version 12.3.0\n")).isEqualTo(570);
        assertThat(NativeFacts.driverMajor("NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  535.183.01"
                + "  Release Build\n")).isEqualTo(535);
        assertThat(NativeFacts.driverMajor(null)).isZero();
        assertThat(NativeFacts.driverMajor("garbage")).isZero();
    }

    @Test
    void cachedCudaBuildsAreFoundByDjlsFolderNames(@TempDir Path cache) throws Exception {
        String lib = System.mapLibraryName("torch");
        Files.writeString(Files.createDirectories(cache.resolve("2.7.1-cu128-linux-x86_64")).resolve(lib), "");
        Files.createDirectories(cache.resolve("2.7.1-cu126-linux-x86_64")); // incomplete: no libtorch
        Files.writeString(Files.createDirectories(cache.resolve("2.7.1-20250812-cpu-linux-x86_64")).resolve(lib), "");
        Files.writeString(Files.createDirectories(cache.resolve("2.5.1-cu124-linux-x86_64")).resolve(lib), "");
        assertThat(NativeFacts.cachedFlavors(cache, "2.7.1", "linux-x86_64")).containsExactly("cu128");
        assertThat(NativeFacts.cachedFlavors(cache.resolve("absent"), "2.7.1", "linux-x86_64")).isEmpty();
    }

    @Test
    void thisMachineKeepsTheBundledCpuNatives() {
        // CI and this machine have no NVIDIA driver: auto and cpu choose the Maven Central natives, as before
        if (!Files.exists(NativeFacts.DRIVER_VERSION)) {
            assertThat(NativeFacts.driverGpuCount()).as("no libcuda without a driver").isZero();
            assertThat(NativeSelection.choose(NativeFacts.detect(Kind.AUTO)).source()).isIn(Source.BUNDLED_CPU,
                    Source.LIBRARY_PATH);
            assertThatThrownBy(() -> new PyTorchEngineProvider().create(new EngineOptions(DeviceSpec.parse("gpu"), 0, 1)))
                    .isInstanceOf(EngineException.class).hasMessageContaining("--device cpu");
        }
        assertThat(NativeSelection.choose(NativeFacts.detect(Kind.CPU)).source()).isIn(Source.BUNDLED_CPU,
                Source.LIBRARY_PATH);
        assertThat(NativeFacts.pytorchVersion()).isEqualTo("2.7.1");
    }

    @Test
    void hidingTheCpuJarMakesDjlLookForADownloadAndTheJniJarHasTheCudaBridge() {
        ClassLoader parent = NativeSelectionTest.class.getClassLoader();
        assertThat(parent.getResource(NativeFacts.BUNDLED_PROPERTIES)).as("the CPU natives jar").isNotNull();
        Thread t = Thread.currentThread();
        ClassLoader before = t.getContextClassLoader();
        try {
            t.setContextClassLoader(parent);
            assertThat(Platform.detectPlatform("pytorch").isPlaceholder()).isFalse();
            NativeFacts.WithoutBundledCpu hiding = new NativeFacts.WithoutBundledCpu(parent);
            assertThat(hiding.getResource(NativeFacts.BUNDLED_PROPERTIES)).isNull();
            assertThat(hiding.getResourceAsStream(NativeFacts.BUNDLED_PROPERTIES)).isNull();
            assertThat(Collections.list(hiding.getResources(NativeFacts.BUNDLED_PROPERTIES))).isEmpty();
            assertThat(hiding.getResource("pytorch-engine.properties")).isNotNull();
            t.setContextClassLoader(hiding);
            // what DJL's LibUtils.findNativeLibrary sees: a placeholder, so it downloads PYTORCH_FLAVOR's build
            Platform p = Platform.detectPlatform("pytorch");
            assertThat(p.isPlaceholder()).isTrue();
            assertThat(p.getVersion()).isEqualTo(NativeFacts.pytorchVersion());
        } catch (java.io.IOException e) {
            throw new AssertionError(e);
        } finally {
            t.setContextClassLoader(before);
        }
        assertThat(LibUtils.class.getResource("/jnilib/" + NativeFacts.classifier() + "/" + NativeSelection.CUDA_FLAVOR
                + "/" + System.mapLibraryName("djl_torch"))).as("DJL's JNI bridge for " + NativeSelection.CUDA_FLAVOR)
                .isNotNull();
    }

    @Test
    void tf32SetsLibtorchsSwitchInTheProcessEnvironment() {
        Tf32.apply(true, new Choice(Source.BUNDLED_CPU, "cpu", "test")); // a no-op on the CPU
        Tf32.set();
        assertThat(Tf32.current()).isEqualTo("1");
    }
}
