package dev.attune.engine.pytorch;

import dev.attune.engine.EngineOptions.DeviceSpec;
import dev.attune.error.EngineException;
import java.util.Locale;
import java.util.Set;

/**
 * Decides which libtorch DJL loads, from facts gathered beforehand ({@link NativeFacts}); no I/O here,
 * so every case is tested on a CPU machine.
 *
 * <p>Why it is needed: DJL's {@code Platform.detectPlatform} takes the CPU natives jar on the class
 * path (ai.djl.pytorch:pytorch-native-cpu, which this module brings so a CPU machine works offline) as a
 * match for a CUDA machine too, so with that jar present DJL never downloads its CUDA build; and DJL's
 * offline mode ({@code ai.djl.offline}, which Attune sets to keep DJL off the network) refuses the
 * download. When this class says CUDA, the engine hides the CPU jar's properties from that one lookup,
 * names the CUDA flavour ({@code PYTORCH_FLAVOR}) and lifts DJL's offline mode while DJL starts.
 *
 * <p>The order: {@code PYTORCH_LIBRARY_PATH} (a libtorch the user unpacked) wins; then {@code
 * PYTORCH_FLAVOR}; then {@code --device cpu} uses the bundled CPU natives; {@code gpu} and {@code auto}
 * use CUDA libtorch when an NVIDIA driver or a CUDA device is seen, from DJL's cache when it is there,
 * else downloaded by DJL (unless {@code DJL_OFFLINE=true}). {@code auto} falls back to the CPU with the
 * reason logged; {@code gpu} fails with an {@link EngineException} that says what to do.
 */
final class NativeSelection {
    /** The CUDA build of libtorch whose JNI bridge DJL 0.36's pytorch-jni jar carries (linux-x86_64). */
    static final String CUDA_FLAVOR = "cu128";
    /** The oldest NVIDIA driver branch that runs CUDA 12 builds (CUDA minor-version compatibility). */
    static final int MIN_DRIVER = 525;

    private NativeSelection() {}

    /** Where libtorch comes from. */
    enum Source {
        /** {@code PYTORCH_LIBRARY_PATH}: a libtorch the user provides. */
        LIBRARY_PATH,
        /** The CPU natives jar from Maven Central (works offline). */
        BUNDLED_CPU,
        /** The CUDA build DJL downloaded before, from its cache. */
        CUDA_CACHED,
        /** The CUDA build, downloaded by DJL on this first use. */
        CUDA_DOWNLOAD
    }

    /**
     * What the machine and the environment say.
     *
     * @param requested the device asked for
     * @param libraryPath {@code PYTORCH_LIBRARY_PATH}, or null
     * @param libraryPathHasLibtorch whether one of its folders holds libtorch
     * @param flavor {@code PYTORCH_FLAVOR} ({@code cpu}, {@code cu128}, ...), or null
     * @param gpus CUDA devices DJL's probe counts (needs a CUDA runtime on the library path; 0 without one)
     * @param driverMajor the NVIDIA driver's major version (570 for 570.86.10), 0 when no driver is loaded
     * @param cachedFlavors CUDA flavours whose libtorch is in DJL's cache already
     * @param offline whether downloads are forbidden ({@code DJL_OFFLINE=true} or {@code attune.offline=true})
     * @param cacheDir DJL's libtorch cache folder, for messages
     */
    record Facts(DeviceSpec.Kind requested, String libraryPath, boolean libraryPathHasLibtorch, String flavor,
            int gpus, int driverMajor, Set<String> cachedFlavors, boolean offline, String cacheDir) {
        Facts {
            cachedFlavors = Set.copyOf(cachedFlavors);
        }

        /** @return whether an NVIDIA GPU seems present (a loaded driver or a counted device) */
        boolean gpuSeen() {
            return gpus > 0 || driverMajor > 0;
        }
    }

    /**
     * The decision.
     *
     * @param source where libtorch comes from
     * @param flavor {@code cpu}, a CUDA flavour, or null when PYTORCH_LIBRARY_PATH decides
     * @param reason one line for the log: why
     */
    record Choice(Source source, String flavor, String reason) {
        /** @return whether DJL must not see the bundled CPU natives while it starts */
        boolean hidesBundledCpu() {
            return source == Source.CUDA_CACHED || source == Source.CUDA_DOWNLOAD;
        }

        /** @return whether DJL may go online while it starts */
        boolean downloads() {
            return source == Source.CUDA_DOWNLOAD;
        }
    }

    /**
     * @param f the facts
     * @return the choice
     * @throws EngineException when a GPU is asked for and cannot be had, saying what to do
     */
    static Choice choose(Facts f) {
        boolean gpu = f.requested() == DeviceSpec.Kind.GPU;
        if (f.libraryPath() != null && !f.libraryPath().isBlank()) {
            if (!f.libraryPathHasLibtorch()) {
                throw new EngineException("PYTORCH_LIBRARY_PATH=" + f.libraryPath() + " holds no libtorch.so: point it"
                        + " at the lib folder of an unpacked libtorch 2.7.1 (cpu or " + CUDA_FLAVOR + "), or unset it to"
                        + " use the natives Attune brings");
            }
            return new Choice(Source.LIBRARY_PATH, null, "PYTORCH_LIBRARY_PATH=" + f.libraryPath());
        }
        if (f.flavor() != null && !f.flavor().isBlank()) {
            String flavor = f.flavor().trim().toLowerCase(Locale.ROOT);
            if (flavor.startsWith("cpu")) {
                if (gpu) {
                    throw new EngineException("--device gpu was asked for but PYTORCH_FLAVOR=" + f.flavor() + " selects"
                            + " the CPU build of libtorch: unset PYTORCH_FLAVOR (or set it to " + CUDA_FLAVOR + "), or use"
                            + " --device cpu");
                }
                return new Choice(Source.BUNDLED_CPU, "cpu", "PYTORCH_FLAVOR=" + f.flavor());
            }
            if (!flavor.matches("cu\\d{3}(-precxx11)?")) {
                throw new EngineException("PYTORCH_FLAVOR=" + f.flavor() + " is not a libtorch flavour: use cpu or "
                        + CUDA_FLAVOR + " (the CUDA build DJL 0.36 supports), or unset it");
            }
            if (f.requested() == DeviceSpec.Kind.CPU) {
                return new Choice(Source.BUNDLED_CPU, "cpu", "--device cpu (PYTORCH_FLAVOR=" + f.flavor()
                        + " applies to GPU runs)");
            }
            return cuda(f, flavor, "PYTORCH_FLAVOR=" + f.flavor());
        }
        if (f.requested() == DeviceSpec.Kind.CPU) {
            return new Choice(Source.BUNDLED_CPU, "cpu", "--device cpu");
        }
        if (!f.gpuSeen()) {
            if (gpu) {
                throw new EngineException("--device gpu was asked for but no NVIDIA GPU is visible (no driver in"
                        + " /proc/driver/nvidia/version, and DJL's CUDA probe counts 0 devices): install the NVIDIA driver"
                        + " (R" + MIN_DRIVER + " or newer) on a machine with an NVIDIA GPU, check CUDA_VISIBLE_DEVICES,"
                        + " or use --device cpu");
            }
            return new Choice(Source.BUNDLED_CPU, "cpu", "no NVIDIA GPU seen");
        }
        if (f.driverMajor() > 0 && f.driverMajor() < MIN_DRIVER) {
            String why = "NVIDIA driver " + f.driverMajor() + " is older than the R" + MIN_DRIVER + " that libtorch's"
                    + " CUDA 12 build (" + CUDA_FLAVOR + ") needs";
            if (gpu) {
                throw new EngineException(why + ": update the driver, or use --device cpu");
            }
            return new Choice(Source.BUNDLED_CPU, "cpu", why + "; running on the CPU");
        }
        return cuda(f, CUDA_FLAVOR, f.gpus() > 0 ? f.gpus() + " CUDA device(s)" : "NVIDIA driver " + f.driverMajor());
    }

    private static Choice cuda(Facts f, String flavor, String why) {
        if (f.cachedFlavors().contains(flavor)) {
            return new Choice(Source.CUDA_CACHED, flavor, why + "; CUDA libtorch (" + flavor + ") from " + f.cacheDir());
        }
        if (f.offline()) {
            String need = "CUDA libtorch (" + flavor + ") is not in " + f.cacheDir() + " and downloads are off"
                    + " (DJL_OFFLINE=true or attune.offline=true)";
            if (f.requested() == DeviceSpec.Kind.GPU) {
                throw new EngineException("--device gpu: " + need + ": run once online (DJL downloads it, about 2.5 GB,"
                        + " into that folder), copy that folder from a machine that has it, or set PYTORCH_LIBRARY_PATH to"
                        + " the lib folder of an unpacked libtorch 2.7.1+" + flavor);
            }
            return new Choice(Source.BUNDLED_CPU, "cpu", why + ", but " + need + "; running on the CPU");
        }
        return new Choice(Source.CUDA_DOWNLOAD, flavor, why + "; DJL downloads CUDA libtorch (" + flavor + ", about 2.5"
                + " GB, once) into " + f.cacheDir());
    }
}
