package dev.attune.formats.hf;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A local HTTP server with the HuggingFace Hub's URL layout, for tests: {@code
 * /api/models/{id}/revision/{rev}} answers with the commit and the {@code siblings}; {@code
 * /{id}/resolve/{rev}/{file}} serves small files directly with the git blob sha1 as ETag, and
 * weights (LFS files: .safetensors, .bin) through a redirect to a second server (the "CDN") with
 * {@code X-Linked-Etag} (sha256) and {@code X-Linked-Size} on the redirect, as the Hub does. It
 * honours {@code Range: bytes=N-}, can require a token, drop a connection midway, corrupt a file
 * while announcing the true checksum, and records every request.
 */
final class FakeHub implements AutoCloseable {
    /** One request as the server saw it. */
    record Request(String server, String path, String range, String authorization) {}

    static final String COMMIT = "0123456789abcdef0123456789abcdef01234567";
    private static final Pattern API = Pattern.compile("/api/models/([^/]+/[^/]+)/revision/([^/]+)");
    private static final Pattern RESOLVE = Pattern.compile("/([^/]+/[^/]+)/resolve/([^/]+)/(.+)");
    private static final Pattern CDN = Pattern.compile("/cdn/([^/]+/[^/]+)/(.+)");

    private final HttpServer hub;
    private final HttpServer cdn;
    private final Map<String, Map<String, byte[]>> models = new ConcurrentHashMap<>();
    final List<Request> requests = new CopyOnWriteArrayList<>();
    /** file name -> bytes after which the next response for it is cut off (once). */
    final Map<String, Integer> dropOnce = new ConcurrentHashMap<>();
    /** file names served with one byte flipped (the announced checksum stays the true one). */
    final Set<String> corrupt = ConcurrentHashMap.newKeySet();
    /** when set, requests to the Hub without {@code Bearer <token>} get 401. */
    volatile String requiredToken;
    final AtomicInteger drops = new AtomicInteger();
    private boolean closed;

    FakeHub() throws IOException {
        InetSocketAddress local = new InetSocketAddress(InetAddress.getLoopbackAddress(), 0);
        hub = HttpServer.create(local, 0);
        cdn = HttpServer.create(local, 0);
        hub.createContext("/", this::handleHub);
        cdn.createContext("/", this::handleCdn);
        hub.start();
        cdn.start();
    }

    /** @return the Hub's address, for HF_ENDPOINT */
    String endpoint() {
        return "http://127.0.0.1:" + hub.getAddress().getPort();
    }

    /** Serves every file of a folder under a model id. */
    void addFolder(String id, Path folder) throws IOException {
        Map<String, byte[]> files = new LinkedHashMap<>();
        try (var list = Files.list(folder)) {
            for (Path p : list.sorted().toList()) {
                if (Files.isRegularFile(p)) {
                    files.put(p.getFileName().toString(), Files.readAllBytes(p));
                }
            }
        }
        models.put(id, files);
    }

    /** Adds or replaces one file of a model. */
    void put(String id, String name, byte[] content) {
        models.computeIfAbsent(id, k -> new LinkedHashMap<>()).put(name, content);
    }

    /** @return the requests for one file name (either server) */
    List<Request> requestsFor(String name) {
        return requests.stream().filter(r -> r.path.endsWith("/" + name)).toList();
    }

    private static boolean isLfs(String name) {
        return name.endsWith(".safetensors") || name.endsWith(".bin");
    }

    private void record(String server, HttpExchange ex) {
        requests.add(new Request(server, URLDecoder.decode(ex.getRequestURI().getRawPath(), StandardCharsets.UTF_8),
                ex.getRequestHeaders().getFirst("Range"), ex.getRequestHeaders().getFirst("Authorization")));
    }

    private void handleHub(HttpExchange ex) throws IOException {
        try (ex) {
            record("hub", ex);
            String path = ex.getRequestURI().getRawPath();
            if (requiredToken != null && !("Bearer " + requiredToken).equals(ex.getRequestHeaders().getFirst("Authorization"))) {
                ex.getResponseHeaders().add("X-Error-Code", "GatedRepo");
                send(ex, 401, "{\"error\":\"Access to this model is restricted\"}".getBytes(StandardCharsets.UTF_8));
                return;
            }
            Matcher api = API.matcher(path);
            if (api.matches()) {
                Map<String, byte[]> files = models.get(api.group(1));
                String rev = URLDecoder.decode(api.group(2), StandardCharsets.UTF_8);
                if (files == null) {
                    ex.getResponseHeaders().add("X-Error-Code", "RepoNotFound");
                    send(ex, 404, "{\"error\":\"Repository not found\"}".getBytes(StandardCharsets.UTF_8));
                    return;
                }
                if (!rev.equals("main") && !rev.equals(COMMIT)) {
                    ex.getResponseHeaders().add("X-Error-Code", "RevisionNotFound");
                    send(ex, 404, "{\"error\":\"Invalid rev id\"}".getBytes(StandardCharsets.UTF_8));
                    return;
                }
                ObjectMapper json = new ObjectMapper();
                ObjectNode root = json.createObjectNode().put("id", api.group(1)).put("sha", COMMIT);
                ArrayNode siblings = root.putArray("siblings");
                files.keySet().forEach(n -> siblings.addObject().put("rfilename", n));
                send(ex, 200, json.writeValueAsBytes(root));
                return;
            }
            Matcher resolve = RESOLVE.matcher(path);
            if (resolve.matches()) {
                String name = URLDecoder.decode(resolve.group(3), StandardCharsets.UTF_8);
                byte[] content = file(resolve.group(1), resolve.group(2), name);
                if (content == null) {
                    ex.getResponseHeaders().add("X-Error-Code", "EntryNotFound");
                    send(ex, 404, new byte[0]);
                    return;
                }
                if (isLfs(name)) {
                    ex.getResponseHeaders().add("X-Linked-Etag", "\"" + hex("SHA-256", null, content) + "\"");
                    ex.getResponseHeaders().add("X-Linked-Size", Integer.toString(content.length));
                    ex.getResponseHeaders().add("Location", "http://127.0.0.1:" + cdn.getAddress().getPort() + "/cdn/"
                            + resolve.group(1) + "/" + resolve.group(3));
                    ex.sendResponseHeaders(302, -1);
                    return;
                }
                byte[] prefix = ("blob " + content.length + "\0").getBytes(StandardCharsets.US_ASCII);
                ex.getResponseHeaders().add("ETag", "\"" + hex("SHA-1", prefix, content) + "\"");
                serve(ex, name, content);
                return;
            }
            send(ex, 404, new byte[0]);
        }
    }

    private void handleCdn(HttpExchange ex) throws IOException {
        try (ex) {
            record("cdn", ex);
            Matcher m = CDN.matcher(ex.getRequestURI().getRawPath());
            String name = m.matches() ? URLDecoder.decode(m.group(2), StandardCharsets.UTF_8) : null;
            byte[] content = name == null ? null : file(m.group(1), COMMIT, name);
            if (content == null) {
                send(ex, 404, new byte[0]);
                return;
            }
            ex.getResponseHeaders().add("ETag", "\"cdn-" + content.length + "\"");
            serve(ex, name, content);
        }
    }

    private byte[] file(String id, String revision, String name) {
        Map<String, byte[]> files = models.get(id);
        if (files == null || !(revision.equals(COMMIT) || revision.equals("main"))) {
            return null;
        }
        return files.get(name);
    }

    /**
     * Sends a file, whole or from a Range start, cut off midway when asked, one byte flipped when
     * asked (the headers announced the true checksum before).
     */
    private void serve(HttpExchange ex, String name, byte[] original) throws IOException {
        byte[] content = original;
        if (corrupt.contains(name)) {
            content = original.clone();
            content[content.length / 2] ^= 0x5a;
        }
        String range = ex.getRequestHeaders().getFirst("Range");
        int start = 0;
        if (range != null) {
            Matcher m = Pattern.compile("bytes=(\\d+)-").matcher(range);
            if (!m.matches() || Long.parseLong(m.group(1)) >= content.length) {
                ex.getResponseHeaders().add("Content-Range", "bytes */" + content.length);
                ex.sendResponseHeaders(416, -1);
                return;
            }
            start = Integer.parseInt(m.group(1));
            ex.getResponseHeaders().add("Content-Range",
                    "bytes " + start + "-" + (content.length - 1) + "/" + content.length);
        }
        int length = content.length - start;
        ex.sendResponseHeaders(range != null ? 206 : 200, length);
        Integer dropAt = dropOnce.remove(name);
        OutputStream out = ex.getResponseBody();
        if (dropAt != null && dropAt < length) {
            out.write(content, start, dropAt);
            out.flush();
            drops.incrementAndGet();
            // an exception out of the handler makes the server close the connection, fewer bytes
            // sent than announced: what the client sees when a connection breaks
            throw new IOException("fake hub: dropping the connection after " + dropAt + " bytes of " + name);
        }
        out.write(content, start, length);
    }

    private static void send(HttpExchange ex, int status, byte[] body) throws IOException {
        ex.sendResponseHeaders(status, body.length == 0 ? -1 : body.length);
        if (body.length > 0) {
            ex.getResponseBody().write(body);
        }
    }

    static String hex(String algorithm, byte[] prefix, byte[] content) {
        try {
            MessageDigest md = MessageDigest.getInstance(algorithm);
            if (prefix != null) {
                md.update(prefix);
            }
            return HexFormat.of().formatHex(md.digest(content));
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        hub.stop(0);
        cdn.stop(0);
    }
}
