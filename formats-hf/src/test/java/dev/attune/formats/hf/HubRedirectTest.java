package dev.attune.formats.hf;

import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A Hub (or a server posing as one) that redirects to something other than a web address: a local
 * file, a jar, an opaque URI. The client refuses with a message naming the redirect, never opens
 * the target and never fails with a stack trace of the HTTP library.
 */
class HubRedirectTest {
    @TempDir Path cache;
    private HttpServer server;
    private volatile String location;

    @BeforeEach
    void start() throws IOException {
        server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.createContext("/", ex -> {
            try (ex) {
                ex.getResponseHeaders().add("Location", location);
                ex.sendResponseHeaders(302, -1);
            }
        });
        server.start();
    }

    @AfterEach
    void stop() {
        server.stop(0);
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"file:///etc/passwd", "file:/etc/hostname", "jar:file:/x.jar!/a", "mailto:someone@example.com",
            "data:text/plain,hello", "ftp://example.com/model", "http:opaque", "//"})
    void aRedirectToAnythingButAWebServerIsAMessage(String target) {
        location = target;
        HubOptions options = HubOptions.fromEnvironment(Map.of(
                "HF_ENDPOINT", "http://127.0.0.1:" + server.getAddress().getPort(), "ATTUNE_HUB_CACHE", cache.toString()));
        assertThatThrownBy(() -> new HubClient(options).download("org/model", "main"))
                .isInstanceOf(HubException.class).hasMessageContaining("redirected to");
    }
}
