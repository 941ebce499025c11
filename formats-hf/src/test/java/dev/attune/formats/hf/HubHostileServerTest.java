package dev.attune.formats.hf;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A hostile server (a local {@code com.sun.net.httpserver} one) cannot make the Hub client read
 * without limit or wait without end: an API answer that never ends is cut at the API cap, a file
 * served without size or checksum at the cap for unannounced sizes (and deleted), and a body that
 * drips a byte at a time fails on the rate check within a few timeouts, however often a byte
 * arrives.
 */
class HubHostileServerTest {
    private static final String COMMIT = "0123456789abcdef0123456789abcdef01234567";
    private static final String REPO = "{\"sha\":\"" + COMMIT + "\",\"siblings\":[{\"rfilename\":\"config.json\"},"
            + "{\"rfilename\":\"model.safetensors\"}]}";

    @TempDir Path cache;
    private HttpServer server;
    private ExecutorService threads;
    private volatile boolean closing;

    @BeforeEach
    void start() throws IOException {
        server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        threads = Executors.newCachedThreadPool();
        server.setExecutor(threads);
        server.createContext("/api/models/org/endless/", ex -> endless(ex, new byte[1 << 16]));
        server.createContext("/api/models/org/drip/", this::drip);
        server.createContext("/api/models/", ex -> answer(ex, REPO.getBytes(StandardCharsets.UTF_8)));
        server.createContext("/org/unsized/resolve/", ex -> endless(ex, new byte[1 << 16]));
        server.createContext("/org/dripfile/resolve/", this::drip);
        server.start();
    }

    @AfterEach
    void stop() {
        closing = true;
        server.stop(0);
        threads.shutdownNow();
    }

    private static void answer(HttpExchange ex, byte[] body) throws IOException {
        ex.sendResponseHeaders(200, body.length);
        try (OutputStream out = ex.getResponseBody()) {
            out.write(body);
        }
    }

    /** A chunked body (no length, no checksum) that never ends. */
    private void endless(HttpExchange ex, byte[] chunk) throws IOException {
        ex.sendResponseHeaders(200, 0);
        try (OutputStream out = ex.getResponseBody()) {
            while (!closing) {
                out.write(chunk);
            }
        } catch (IOException e) {
            // the client hung up: what it should do
        }
    }

    /** A chunked body of one byte every 100 ms, forever. */
    private void drip(HttpExchange ex) throws IOException {
        ex.sendResponseHeaders(200, 0);
        try (OutputStream out = ex.getResponseBody()) {
            while (!closing) {
                out.write(' ');
                out.flush();
                Thread.sleep(100);
            }
        } catch (IOException | InterruptedException e) {
            // the client hung up
        }
    }

    private HubClient client(long maxUnannounced) {
        return client(maxUnannounced, Duration.ofSeconds(1));
    }

    private HubClient client(long maxUnannounced, Duration timeout) {
        return new HubClient(HubOptions.fromEnvironment(Map.of("HF_ENDPOINT", "http://127.0.0.1:"
                + server.getAddress().getPort(), "ATTUNE_HUB_CACHE", cache.toString()))
                .withTimeout(timeout).withMaxRetries(0).withMaxUnannouncedBytes(maxUnannounced));
    }

    private long cacheBytes() throws IOException {
        try (Stream<Path> files = Files.walk(cache)) {
            return files.filter(Files::isRegularFile).mapToLong(p -> p.toFile().length()).sum();
        }
    }

    @Test
    void anApiAnswerThatNeverEndsIsCutAtTheCap() {
        Runtime rt = Runtime.getRuntime();
        assertTimeoutPreemptively(Duration.ofSeconds(60), () ->
                assertThatThrownBy(() -> client(1 << 20, Duration.ofSeconds(20)).download("org/endless", "main"))
                        .isInstanceOf(HubException.class).hasMessageContaining("more than " + (64 << 20) + " bytes"));
        assertThat(rt.totalMemory() - rt.freeMemory()).isLessThan(1L << 30);
    }

    @Test
    void aFileOfUnannouncedSizeIsCutAtItsCapAndDeleted() throws IOException {
        assertTimeoutPreemptively(Duration.ofSeconds(30), () ->
                assertThatThrownBy(() -> client(1 << 20).download("org/unsized", "main"))
                        .isInstanceOf(HubException.class).hasMessageContaining("'config.json'")
                        .hasMessageContaining("without announcing a size")
                        .hasMessageContaining("ATTUNE_HUB_MAX_UNANNOUNCED_MB"));
        assertThat(cacheBytes()).isLessThan(1 << 20);
    }

    @Test
    void aBodyDrippingAByteAtATimeEndsWithinSeconds() {
        for (String id : new String[] {"org/drip", "org/dripfile"}) {
            long t0 = System.nanoTime();
            assertTimeoutPreemptively(Duration.ofSeconds(20), () ->
                    assertThatThrownBy(() -> client(1 << 20).download(id, "main")).as(id)
                            .isInstanceOf(HubException.class).hasMessageContaining("bytes in PT1S"));
            assertThat(Duration.ofNanos(System.nanoTime() - t0)).as(id).isLessThan(Duration.ofSeconds(6));
        }
    }
}
