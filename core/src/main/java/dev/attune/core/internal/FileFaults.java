package dev.attune.core.internal;

import org.apiguardian.api.API;

import java.io.IOException;
import java.util.Objects;

/**
 * Named points in Attune's file writing (a folder swap's steps, a checkpoint, a run file) where a
 * test injects a failure: an {@link IOException} as a full disk raises it, or an {@link Error} that
 * no cleanup catches, as a {@code kill -9} leaves the folder at that point. In production no
 * injector is set and every point is a no-op.
 */
@API(status = API.Status.INTERNAL, since = "0.2")
public final class FileFaults {
    private static volatile Injector injector;

    private FileFaults() {}

    /** Decides what happens at a point. */
    @FunctionalInterface
    public interface Injector {
        /**
         * @param point where the writing is, e.g. {@code swap:committed} or {@code log:open}
         * @throws IOException to fail the write there
         */
        void at(String point) throws IOException;
    }

    /**
     * @param point where the writing is
     * @throws IOException when a test injects a failure there
     */
    public static void at(String point) throws IOException {
        Injector i = injector;
        if (i != null) {
            i.at(point);
        }
    }

    /**
     * @param value what to do at each point (tests only)
     * @return closes to remove it again
     */
    public static Injection inject(Injector value) {
        injector = Objects.requireNonNull(value);
        return () -> injector = null;
    }

    /** An injection in force until closed. */
    public interface Injection extends AutoCloseable {
        @Override
        void close();
    }
}
