package dev.attune.engine.pytorch;

import com.sun.jna.Library;
import com.sun.jna.Native;
import dev.attune.error.EngineException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * TF32 matrix products ({@code --tf32}, PyTorch's {@code torch.backends.cuda.matmul.allow_tf32}).
 * DJL 0.36's JNI has no call for it (its PyTorchLibrary offers cuDNN benchmark, threads and the graph
 * optimizer only), but libtorch reads the environment variable {@value #VARIABLE} once, at its first
 * cuBLAS matmul, and then allows TF32 whatever the precision setting. Java cannot change its own
 * environment, so this sets it through the C library's {@code setenv} (JNA, which DJL already brings)
 * before the engine starts.
 */
final class Tf32 {
    private static final Logger LOG = LoggerFactory.getLogger(Tf32.class);

    /** The libtorch switch. */
    static final String VARIABLE = "TORCH_ALLOW_TF32_CUBLAS_OVERRIDE";

    private Tf32() {}

    /** The C library's environment calls. */
    interface CLibrary extends Library {
        int setenv(String name, String value, int overwrite);

        String getenv(String name);
    }

    /**
     * @param wanted whether {@code --tf32} was given
     * @param choice the libtorch chosen
     */
    static void apply(boolean wanted, NativeSelection.Choice choice) {
        if (!wanted) {
            return;
        }
        if (choice.source() == NativeSelection.Source.BUNDLED_CPU) {
            LOG.info("--tf32 applies to CUDA matrix products on Ampere and newer GPUs; on the CPU it changes nothing");
            return;
        }
        set();
        LOG.info("TF32 matrix products on ({}=1)", VARIABLE);
    }

    /**
     * Sets {@value #VARIABLE}=1 in this process's environment.
     *
     * @throws EngineException when the C library cannot be reached (not Linux or macOS)
     */
    static void set() {
        try {
            CLibrary c = Native.load("c", CLibrary.class);
            if (c.setenv(VARIABLE, "1", 1) != 0) {
                throw new EngineException("--tf32: setenv(" + VARIABLE + ") failed; set " + VARIABLE
                        + "=1 in the environment instead");
            }
        } catch (UnsatisfiedLinkError | RuntimeException e) {
            if (e instanceof EngineException ee) {
                throw ee;
            }
            throw new EngineException("--tf32 could not set " + VARIABLE + " through the C library (" + e.getMessage()
                    + "); set " + VARIABLE + "=1 in the environment before starting Java instead", e);
        }
    }

    /** @return the variable as the C library sees it now (null when unset) */
    static String current() {
        return Native.load("c", CLibrary.class).getenv(VARIABLE);
    }
}
