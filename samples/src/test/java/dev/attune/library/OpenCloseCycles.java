package dev.attune.library;

import dev.attune.Attune;
import dev.attune.model.FineTunedModel;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;

/**
 * The child JVM of {@link ModelLifecycleTest#aThousandOpenAndCloseCyclesKeepTheResidentMemoryFlat}:
 * opens a saved model, predicts once and closes it, the given number of times, printing {@code
 * cycle N <resident KiB>} every 100 cycles.
 */
public final class OpenCloseCycles {
    private OpenCloseCycles() {}

    /**
     * @param args the saved model's folder and the number of cycles
     * @throws IOException when /proc cannot be read
     */
    public static void main(String[] args) throws IOException {
        Path saved = Path.of(args[0]);
        int cycles = Integer.parseInt(args[1]);
        try (Attune attune = Attune.builder().engine("pytorch").numThreads(1).build()) {
            for (int i = 1; i <= cycles; i++) {
                try (FineTunedModel model = attune.open(saved)) {
                    model.predictor().predict(Map.of("text", "a gripping, funny and moving film"));
                }
                if (i % 100 == 0) {
                    System.out.println("cycle " + i + " " + (residentBytes() >> 10));
                }
            }
        }
    }

    /** @return this process's resident set size, after a garbage collection */
    static long residentBytes() throws IOException {
        System.gc();
        for (String line : java.nio.file.Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith("VmRSS:")) {
                return Long.parseLong(line.replaceAll("\\D+", "")) * 1024;
            }
        }
        throw new IllegalStateException("no VmRSS in /proc/self/status");
    }
}
