package dev.attune.engine;

import org.apiguardian.api.API;

import dev.attune.error.ConfigurationException;

/**
 * How an engine runs a model.
 *
 * @param device where to run
 * @param numThreads intra-op CPU threads (0 = engine default)
 * @param seed seed for the engine's random numbers (dropout)
 */
@API(status = API.Status.STABLE, since = "0.1")
public record EngineOptions(DeviceSpec device, int numThreads, long seed) {
    /** @return CPU, engine-default threads, seed 42 */
    public static EngineOptions defaults() {
        return new EngineOptions(DeviceSpec.AUTO, 0, 42);
    }

    /**
     * A device choice as users write it: {@code auto} (a GPU when the engine has one, else the CPU),
     * {@code cpu}, {@code gpu} (the first GPU) or {@code gpu:N}.
     *
     * @param kind auto, cpu or gpu
     * @param index GPU index (0 unless {@code gpu:N})
     */
    @API(status = API.Status.STABLE, since = "0.1")
    public record DeviceSpec(Kind kind, int index) {
        /** Device kinds. */
        @API(status = API.Status.STABLE, since = "0.1")
        public enum Kind {
            /** GPU when available, else CPU. */
            AUTO,
            /** The CPU. */
            CPU,
            /** A GPU. */
            GPU
        }

        /** The automatic choice. */
        public static final DeviceSpec AUTO = new DeviceSpec(Kind.AUTO, 0);
        /** The CPU. */
        public static final DeviceSpec CPU = new DeviceSpec(Kind.CPU, 0);

        /**
         * @param text {@code auto}, {@code cpu}, {@code gpu} or {@code gpu:N}
         * @return the parsed spec
         * @throws ConfigurationException on anything else
         */
        public static DeviceSpec parse(String text) {
            String t = text == null ? "" : text.trim().toLowerCase(java.util.Locale.ROOT);
            if (t.equals("auto")) {
                return AUTO;
            }
            if (t.equals("cpu")) {
                return CPU;
            }
            if (t.equals("gpu") || t.equals("cuda")) {
                return new DeviceSpec(Kind.GPU, 0);
            }
            if (t.startsWith("gpu:") || t.startsWith("cuda:")) {
                String n = t.substring(t.indexOf(':') + 1);
                try {
                    int idx = Integer.parseInt(n);
                    if (idx >= 0) {
                        return new DeviceSpec(Kind.GPU, idx);
                    }
                } catch (NumberFormatException ignored) {
                    // fall through to the error below
                }
            }
            throw new ConfigurationException(
                    "device '" + text + "' is not valid; use auto, cpu, gpu or gpu:N (N = 0, 1, ...)");
        }

        @Override
        public String toString() {
            return switch (kind) {
                case AUTO -> "auto";
                case CPU -> "cpu";
                case GPU -> "gpu:" + index;
            };
        }
    }
}
