package dev.attune.formats.hf;

import org.apiguardian.api.API;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.attune.error.AttuneException;
import dev.attune.error.ConfigurationException;
import dev.attune.formats.hf.HubAccessDeniedException;
import dev.attune.formats.hf.HubException;
import dev.attune.error.InvalidCheckpointException;
import dev.attune.formats.hf.ModelNotFoundException;
import dev.attune.formats.torch.TorchPickleStore;
import dev.attune.formats.hf.HubOptions;
import java.io.IOException;
import java.io.InputStream;
import java.net.ConnectException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpConnectTimeoutException;
import java.net.http.HttpHeaders;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Flow;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Downloads the files of a HuggingFace Hub model into a local cache folder that {@link
 * HuggingFaceFolderSource} then reads. It speaks the Hub's public HTTP layout: {@code GET
 * /api/models/{id}/revision/{revision}} names the commit and lists the files ({@code siblings}),
 * {@code GET /{id}/resolve/{commit}/{file}} serves a file (LFS files through a redirect to a CDN).
 *
 * <p>Cache layout, per model: {@code models--org--name/refs/{revision}} holds the commit a revision
 * resolved to; {@code snapshots/{commit}/} holds the files, each present under its own name only
 * once complete and verified; {@code partial/} holds downloads in progress ({@code .part} files)
 * that a later attempt resumes with an HTTP Range request; {@code snapshots/{commit}/}{@value
 * #COMPLETE_MARKER} lists the files once every one is there, which is what offline mode trusts.
 *
 * <p>Safety: file names from the server (the listing, the shard index) are refused when they would
 * leave the snapshot folder; a file's size and checksum are checked against what the Hub announced
 * (the sha256 in {@code X-Linked-Etag} for LFS files, the git blob sha1 in {@code ETag} for
 * others, sizes in {@code X-Linked-Size} / {@code Content-Length}) before it gets its name; the
 * token is sent to the endpoint's host only, never to a CDN it redirects to; a server sending more
 * bytes than it announced is cut off.
 *
 * <p>Two processes downloading the same model at once are not coordinated; run one at a time.
 */
@API(status = API.Status.INTERNAL, since = "0.1")
public final class HubClient {
    /** Written into a snapshot folder, listing its files, once all are downloaded and verified. */
    public static final String COMPLETE_MARKER = ".attune-complete";

    /** Files fetched, when the model has them, besides config.json and the weights. */
    static final List<String> OPTIONAL_FILES = List.of(HfTokenizer.TOKENIZER_JSON, HfTokenizer.TOKENIZER_CONFIG,
            HfTokenizer.VOCAB_TXT, "special_tokens_map.json", "vocab.json", "merges.txt", "generation_config.json");

    private static final Logger LOG = LoggerFactory.getLogger(HubClient.class);
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Pattern MODEL_ID =
            Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,95}(/[A-Za-z0-9][A-Za-z0-9._-]{0,95})?");
    private static final Pattern REVISION = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._/-]{0,199}");
    private static final Pattern COMMIT = Pattern.compile("[0-9a-fA-F]{40}|[0-9a-fA-F]{64}");
    private static final Pattern SHA256 = Pattern.compile("[0-9a-f]{64}");
    private static final Pattern SHA1 = Pattern.compile("[0-9a-f]{40}");
    private static final Pattern CONTENT_RANGE = Pattern.compile("bytes (\\d+)-(\\d+)/(\\d+|\\*)");
    private static final int MAX_REDIRECTS = 10;
    private static final int MAX_API_BYTES = 64 << 20;
    /** The slowest transfer accepted, averaged over each timeout's time. */
    static final long MIN_BYTES_PER_SECOND = 1024;

    private final HubOptions options;
    private final HttpClient http;

    /** @param options endpoint, cache, token, offline mode */
    public HubClient(HubOptions options) {
        this.options = options;
        this.http = HttpClient.newBuilder()
                .connectTimeout(options.timeout())
                .followRedirects(HttpClient.Redirect.NEVER) // followed by hand, to keep the token on the Hub
                .build();
    }

    /**
     * @param value a string
     * @return whether it has the form of a Hub model id ({@code name} or {@code org/name})
     */
    public static boolean isModelId(String value) {
        return value != null && MODEL_ID.matcher(value).matches() && !value.contains("..") && !value.contains("--");
    }

    /**
     * Returns the local folder of a model, downloading what the cache lacks (or, offline, only
     * looking in the cache).
     *
     * @param id model id, {@code org/name}
     * @param revision branch, tag or commit ({@code main})
     * @return the snapshot folder with config.json, weights and tokenizer files
     * @throws ModelNotFoundException when the model, revision or a file does not exist
     * @throws HubAccessDeniedException when the model is gated or private
     * @throws HubException on network failures, bad downloads, or a cache miss offline
     */
    public Path download(String id, String revision) {
        checkId(id);
        checkRevision(revision);
        Path repo = repoFolder(id);
        if (options.offline()) {
            return fromCache(id, revision, repo, "offline mode is on (HF_HUB_OFFLINE=1 or HubOptions.withOffline)");
        }
        RepoInfo info;
        try {
            info = repoInfo(id, revision);
        } catch (Unreachable e) {
            try {
                Path cached = fromCache(id, revision, repo, "the Hub could not be reached");
                LOG.warn("{}; using the cached copy of {}@{} in {}", e.getMessage(), id, revision, cached);
                return cached;
            } catch (HubException notCached) {
                throw new HubException(e.getMessage() + ", and " + id + "@" + revision + " is not in the cache "
                        + options.cacheDir() + "; check the network or HF_ENDPOINT", e.getCause());
            }
        }
        Path snapshot = repo.resolve("snapshots").resolve(info.commit);
        writeRef(repo, revision, info.commit);
        if (Files.isRegularFile(snapshot.resolve(COMPLETE_MARKER))) {
            Optional<List<String>> missing = missingFiles(snapshot);
            if (missing.isPresent() && missing.get().isEmpty()) {
                LOG.debug("{}@{} ({}) is complete in the cache", id, revision, info.commit);
                return snapshot;
            }
        }
        List<String> files = new ArrayList<>(select(id, revision, info.files));
        for (String name : List.copyOf(files)) {
            fetch(id, info.commit, name, repo, snapshot);
        }
        for (String shard : shardNames(id, snapshot)) {
            if (!files.contains(shard)) {
                files.add(shard);
                fetch(id, info.commit, shard, repo, snapshot);
            }
        }
        try {
            AtomicFiles.write(snapshot.resolve(COMPLETE_MARKER),
                    (String.join("\n", files) + "\n").getBytes(StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new HubException("could not write " + snapshot.resolve(COMPLETE_MARKER) + " (" + e + "); check that "
                    + "the cache folder is writable and has free space", e);
        }
        return snapshot;
    }

    // ---- cache ----

    /** @return the cache folder of a model */
    Path repoFolder(String id) {
        return options.cacheDir().resolve("models--" + id.replace("/", "--"));
    }

    private Path fromCache(String id, String revision, Path repo, String why) {
        String commit = COMMIT.matcher(revision).matches() ? revision.toLowerCase(Locale.ROOT) : readRef(repo, revision);
        String hint = "; run once with network access (unset HF_HUB_OFFLINE) to download it, or load a local folder";
        if (commit == null) {
            throw new HubException(why + " and model '" + id + "' revision '" + revision + "' is not in the cache "
                    + options.cacheDir() + hint);
        }
        Path snapshot = repo.resolve("snapshots").resolve(commit);
        Optional<List<String>> missing = missingFiles(snapshot);
        if (missing.isEmpty()) {
            throw new HubException(why + " and the download of model '" + id + "' revision '" + revision + "' in "
                    + snapshot + " was never completed" + hint);
        }
        if (!missing.get().isEmpty()) {
            throw new HubException(why + " and the cached model '" + id + "' revision '" + revision + "' in " + snapshot
                    + " lacks " + missing.get() + hint);
        }
        return snapshot;
    }

    /** @return the files of a snapshot's marker that are absent; empty optional when no marker */
    private static Optional<List<String>> missingFiles(Path snapshot) {
        Path marker = snapshot.resolve(COMPLETE_MARKER);
        if (!Files.isRegularFile(marker)) {
            return Optional.empty();
        }
        List<String> missing = new ArrayList<>();
        try {
            for (String name : Files.readAllLines(marker, StandardCharsets.UTF_8)) {
                if (!name.isBlank() && !Files.isRegularFile(safeResolve(snapshot, name, "cache"))) {
                    missing.add(name);
                }
            }
        } catch (IOException | HubException e) {
            return Optional.empty();
        }
        return Optional.of(missing);
    }

    private static String refFileName(String revision) {
        return URLEncoder.encode(revision, StandardCharsets.UTF_8);
    }

    private static String readRef(Path repo, String revision) {
        Path ref = repo.resolve("refs").resolve(refFileName(revision));
        try {
            String commit = Files.isRegularFile(ref) ? Files.readString(ref, StandardCharsets.UTF_8).trim() : null;
            return commit != null && COMMIT.matcher(commit).matches() ? commit : null;
        } catch (IOException e) {
            return null;
        }
    }

    private static void writeRef(Path repo, String revision, String commit) {
        Path ref = repo.resolve("refs").resolve(refFileName(revision));
        try {
            Files.createDirectories(ref.getParent());
            AtomicFiles.write(ref, commit.getBytes(StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new HubException("could not write " + ref + " (" + e + "); check that the cache folder " + repo
                    + " is writable (set ATTUNE_HUB_CACHE or HubOptions.withCacheDir to another folder)", e);
        }
    }

    // ---- which files ----

    /** What the revision endpoint says: the commit and the files. */
    record RepoInfo(String commit, List<String> files) {}

    /** The files worth downloading for loading: config, one weights format, tokenizer files. */
    static List<String> select(String id, String revision, List<String> available) {
        Set<String> have = new LinkedHashSet<>(available);
        List<String> out = new ArrayList<>();
        if (!have.contains(HuggingFaceFolderSource.CONFIG_JSON)) {
            throw new InvalidCheckpointException("model '" + id + "' revision '" + revision + "' has no "
                    + HuggingFaceFolderSource.CONFIG_JSON + " on the Hub, so it is not a transformers checkpoint that "
                    + "Attune can load; its files are " + abbreviate(available));
        }
        out.add(HuggingFaceFolderSource.CONFIG_JSON);
        if (have.contains(SafetensorsStore.SINGLE_FILE)) {
            out.add(SafetensorsStore.SINGLE_FILE);
        } else if (have.contains(SafetensorsStore.INDEX_FILE)) {
            out.add(SafetensorsStore.INDEX_FILE); // the shards it names follow
        } else if (have.contains(TorchPickleStore.SINGLE_FILE)) {
            out.add(TorchPickleStore.SINGLE_FILE);
        } else {
            throw new InvalidCheckpointException("model '" + id + "' revision '" + revision + "' has no "
                    + SafetensorsStore.SINGLE_FILE + ", " + SafetensorsStore.INDEX_FILE + " or "
                    + TorchPickleStore.SINGLE_FILE + " on the Hub; its files are " + abbreviate(available)
                    + "; pick a revision with PyTorch or safetensors weights");
        }
        for (String name : OPTIONAL_FILES) {
            if (have.contains(name)) {
                out.add(name);
            }
        }
        return out;
    }

    /** The distinct shard files a downloaded index names (none without an index). */
    private static List<String> shardNames(String id, Path snapshot) {
        Path index = snapshot.resolve(SafetensorsStore.INDEX_FILE);
        if (!Files.isRegularFile(index)) {
            return List.of();
        }
        JsonNode map;
        try {
            map = JSON.readTree(index.toFile()).path("weight_map");
        } catch (IOException e) {
            throw new InvalidCheckpointException(index + " (from model '" + id + "') is not valid JSON (" + e.getMessage()
                    + "); delete it and download again", e);
        }
        if (!map.isObject()) {
            throw new InvalidCheckpointException(index + " (from model '" + id + "') has no 'weight_map' object");
        }
        Set<String> shards = new LinkedHashSet<>();
        for (Iterator<JsonNode> it = map.elements(); it.hasNext(); ) {
            JsonNode v = it.next();
            if (!v.isTextual()) {
                throw new InvalidCheckpointException(index + " (from model '" + id + "'): a weight_map value is not a "
                        + "file name: " + v);
            }
            shards.add(v.textValue());
        }
        return List.copyOf(shards);
    }

    // ---- HTTP ----

    /** The server could not be reached at all (as opposed to answering with an error). */
    private static final class Unreachable extends Exception {
        private static final long serialVersionUID = 1L;

        Unreachable(String message, Throwable cause) {
            super(message, cause);
        }
    }

    RepoInfo repoInfo(String id, String revision) throws Unreachable {
        URI uri = URI.create(options.endpoint() + "/api/models/" + id + "/revision/" + encodeSegment(revision));
        HttpResponse<byte[]> r;
        try {
            r = send(uri, null, info -> new CappedBytes(MAX_API_BYTES)).response();
        } catch (ConnectException | HttpConnectTimeoutException e) {
            throw new Unreachable("cannot connect to " + options.endpoint() + " (" + e + ")", e);
        } catch (TooLarge e) {
            throw new HubException(uri + " answered with more than " + MAX_API_BYTES + " bytes (" + e.getMessage()
                    + "); is HF_ENDPOINT (" + options.endpoint() + ") a HuggingFace Hub?", e);
        } catch (IOException e) {
            throw new HubException("asking " + uri + " about model '" + id + "' failed (" + e + "); check the network or"
                    + " HF_ENDPOINT, or set HF_HUB_OFFLINE=1 to use the cache", e);
        }
        check(r, id, revision, null);
        byte[] body = r.body();
        if (body.length > MAX_API_BYTES) {
            throw new HubException(uri + " answered with " + body.length + " bytes; is HF_ENDPOINT (" + options.endpoint()
                    + ") a HuggingFace Hub?");
        }
        JsonNode json;
        try {
            json = JSON.readTree(body);
        } catch (IOException e) {
            throw new HubException(uri + " did not answer with JSON (" + e.getMessage() + "); is HF_ENDPOINT ("
                    + options.endpoint() + ") a HuggingFace Hub?", e);
        }
        String commit = json == null ? null : json.path("sha").textValue();
        if (commit == null || !COMMIT.matcher(commit).matches()) {
            throw new HubException(uri + " gave no valid commit hash ('sha': " + (json == null ? null : json.get("sha"))
                    + "); is HF_ENDPOINT (" + options.endpoint() + ") a HuggingFace Hub?");
        }
        List<String> files = new ArrayList<>();
        for (JsonNode s : json.path("siblings")) {
            if (s.path("rfilename").isTextual()) {
                files.add(s.get("rfilename").textValue());
            }
        }
        return new RepoInfo(commit.toLowerCase(Locale.ROOT), files);
    }

    /**
     * A final response and the headers of the redirects before it (the Hub puts a file's {@code
     * X-Linked-*} headers on the redirect to its CDN).
     */
    private record Answer<T>(HttpResponse<T> response, List<HttpHeaders> redirects) {}

    /**
     * When an exchange last showed signs of life, how much it received, and its deadline: the
     * stall, rate and deadline checks of {@link #await}.
     */
    private static final class Watch {
        private final long start = System.nanoTime();
        private volatile long last = start;
        /** When the headers arrived (System.nanoTime), or 0 before. */
        private volatile long headersAt;
        private volatile long bytes;
        /** Overall deadline (System.nanoTime), or 0 while the default one applies. */
        private volatile long deadline;

        void touch() {
            last = System.nanoTime();
        }

        void received(long n) {
            bytes += n; // one subscriber thread at a time
            last = System.nanoTime();
        }

        /** Extends the deadline for a body of up to {@code limit} bytes at the lowest accepted rate. */
        void expect(long limit, Duration timeout) {
            long seconds = Math.min(Duration.ofDays(7).toSeconds(),
                    2 * timeout.toSeconds() + Math.max(0, limit) / MIN_BYTES_PER_SECOND);
            deadline = start + Duration.ofSeconds(seconds).toNanos();
        }
    }

    /**
     * A response body of at most {@code cap} bytes, in memory; refused as soon as it grows past it,
     * so a body that never ends costs {@code cap} bytes, not the heap.
     */
    private static final class CappedBytes implements HttpResponse.BodySubscriber<byte[]> {
        private final int cap;
        private final java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        private final CompletableFuture<byte[]> result = new CompletableFuture<>();
        private volatile Flow.Subscription subscription;
        private volatile Watch watch = new Watch();

        CappedBytes(int cap) {
            this.cap = cap;
        }

        CappedBytes watching(Watch value) {
            this.watch = value;
            return this;
        }

        @Override
        public CompletionStage<byte[]> getBody() {
            return result;
        }

        @Override
        public void onSubscribe(Flow.Subscription s) {
            subscription = s;
            s.request(1);
        }

        @Override
        public void onNext(List<ByteBuffer> items) {
            for (ByteBuffer bb : items) {
                int n = bb.remaining();
                if ((long) out.size() + n > cap) {
                    subscription.cancel();
                    result.completeExceptionally(new TooLarge("more than " + cap + " bytes"));
                    return;
                }
                byte[] chunk = new byte[n];
                bb.get(chunk);
                out.writeBytes(chunk);
                watch.received(n);
            }
            subscription.request(1);
        }

        @Override
        public void onError(Throwable t) {
            result.completeExceptionally(t);
        }

        @Override
        public void onComplete() {
            result.complete(out.toByteArray());
        }
    }

    /** A response body larger than what was asked for. */
    private static final class TooLarge extends IOException {
        private static final long serialVersionUID = 1L;

        TooLarge(String message) {
            super(message);
        }
    }

    /**
     * Sends a GET, following redirects; the token goes only to the endpoint's own host. Redirect
     * responses go through the handler too (it should discard bodies it does not want).
     */
    private <T> Answer<T> send(URI uri, String range, HttpResponse.BodyHandler<T> handler) throws IOException {
        URI current = uri;
        List<HttpHeaders> redirects = new ArrayList<>();
        for (int hop = 0; hop <= MAX_REDIRECTS; hop++) {
            HttpRequest.Builder b = HttpRequest.newBuilder(current).timeout(options.timeout()).GET()
                    .header("User-Agent", "attune-hub-client");
            if (range != null) {
                b.header("Range", range);
            }
            if (options.token().isPresent() && sameOrigin(current, options.endpoint())) {
                b.header("Authorization", "Bearer " + options.token().get());
            }
            HttpResponse<T> r = await(b.build(), handler);
            int status = r.statusCode();
            Optional<String> location = r.headers().firstValue("Location");
            if (status >= 300 && status < 400 && status != 304 && location.isPresent()) {
                redirects.add(r.headers());
                URI next;
                try {
                    next = current.resolve(location.get().trim());
                } catch (IllegalArgumentException e) {
                    throw new HubException(current + " redirected to an invalid address '" + location.get() + "'", e);
                }
                // only web addresses: a file:, jar: or opaque (mailto:, data:) target is never opened
                String scheme = next.getScheme() == null ? "" : next.getScheme().toLowerCase(java.util.Locale.ROOT);
                if (next.isOpaque() || !(scheme.equals("http") || scheme.equals("https")) || next.getHost() == null) {
                    throw new HubException(current + " redirected to '" + location.get() + "', which is not an http(s)"
                            + " address with a host; Attune follows redirects to web servers only: check HF_ENDPOINT");
                }
                current = next;
                continue;
            }
            return new Answer<>(r, redirects);
        }
        throw new HubException(uri + " redirected more than " + MAX_REDIRECTS + " times; check HF_ENDPOINT");
    }

    /**
     * Runs one exchange to its end, giving up when neither headers nor body bytes arrived for the
     * timeout (HttpClient's own timeout covers the headers only, so a stalled body would hang), when
     * fewer than {@value #MIN_BYTES_PER_SECOND} bytes a second arrived over a whole timeout's time
     * (a body dripping a byte at a time resets no timer here), or when the exchange passes its
     * overall deadline: twice the timeout, or for a file, the timeout plus its size at that rate.
     */
    private <T> HttpResponse<T> await(HttpRequest request, HttpResponse.BodyHandler<T> handler) throws IOException {
        Watch watch = new Watch();
        CompletableFuture<HttpResponse<T>> f = http.sendAsync(request, info -> {
            watch.touch();
            watch.headersAt = watch.last;
            HttpResponse.BodySubscriber<T> s = handler.apply(info);
            if (s instanceof FileSink fs) {
                watch.expect(fs.limit >= 0 ? fs.limit - fs.written : options.maxUnannouncedBytes(), options.timeout());
                return (HttpResponse.BodySubscriber<T>) fs.watching(watch);
            }
            return s instanceof CappedBytes cb ? (HttpResponse.BodySubscriber<T>) cb.watching(watch) : s;
        });
        long limit = options.timeout().toNanos();
        long windowStart = watch.start;
        long windowBytes = 0;
        long minPerWindow = Math.max(1, MIN_BYTES_PER_SECOND * Math.max(1, options.timeout().toSeconds()));
        long defaultDeadline = watch.start + 2 * limit;
        while (true) {
            try {
                return f.get(100, TimeUnit.MILLISECONDS);
            } catch (TimeoutException e) {
                long now = System.nanoTime();
                String problem = null;
                if (now - watch.last > limit) {
                    problem = "no data from " + request.uri() + " for " + options.timeout();
                } else if (now - (watch.deadline != 0 ? watch.deadline : defaultDeadline) > 0) {
                    problem = request.uri() + " did not finish within its deadline of "
                            + Duration.ofNanos((watch.deadline != 0 ? watch.deadline : defaultDeadline) - watch.start)
                                    .toSeconds() + " s (" + watch.bytes + " bytes received)";
                } else if (watch.headersAt == 0) {
                    windowStart = now; // the rate counts from the headers on
                } else if (windowStart < watch.headersAt) {
                    windowStart = watch.headersAt;
                    windowBytes = 0;
                } else if (now - windowStart >= limit) {
                    long got = watch.bytes - windowBytes;
                    if (got < minPerWindow) {
                        problem = request.uri() + " sent only " + got + " bytes in " + options.timeout()
                                + ", less than " + MIN_BYTES_PER_SECOND + " bytes a second";
                    }
                    windowStart = now;
                    windowBytes = watch.bytes;
                }
                if (problem != null) {
                    f.cancel(true);
                    throw new HttpTimeoutException(problem);
                }
            } catch (ExecutionException e) {
                Throwable cause = e.getCause();
                while (cause instanceof java.util.concurrent.CompletionException && cause.getCause() != null) {
                    cause = cause.getCause();
                }
                if (cause instanceof IOException io) {
                    throw io;
                }
                if (cause instanceof RuntimeException re) {
                    throw re;
                }
                throw new IOException(cause);
            } catch (InterruptedException e) {
                f.cancel(true);
                Thread.currentThread().interrupt();
                throw new HubException("interrupted while fetching " + request.uri(), e);
            }
        }
    }

    private static boolean sameOrigin(URI a, URI b) {
        return a.getScheme().equalsIgnoreCase(b.getScheme()) && a.getHost().equalsIgnoreCase(b.getHost())
                && effectivePort(a) == effectivePort(b);
    }

    private static int effectivePort(URI u) {
        return u.getPort() != -1 ? u.getPort() : "https".equalsIgnoreCase(u.getScheme()) ? 443 : 80;
    }

    /** Turns an error status into the exception that says what to do. */
    private void check(HttpResponse<?> r, String id, String revision, String file) {
        int status = r.statusCode();
        if (status == 200 || status == 206) {
            return;
        }
        String code = r.headers().firstValue("X-Error-Code").orElse("");
        String what = file == null ? "model '" + id + "'" : "file '" + file + "' of model '" + id + "'";
        if (code.equals("RepoNotFound") || status == 404 && file == null && !code.equals("RevisionNotFound")) {
            throw new ModelNotFoundException("model '" + id + "' was not found on " + options.endpoint() + " (HTTP "
                    + status + "); check the id (org/name, as on the model's page)"
                    + (options.token().isEmpty() ? ", or set HF_TOKEN if it is a private model" : ""));
        }
        if (code.equals("RevisionNotFound") || status == 404 && file == null) {
            throw new ModelNotFoundException("model '" + id + "' has no revision '" + revision + "' on "
                    + options.endpoint() + " (HTTP " + status + "); use a branch, tag or commit that exists (main)");
        }
        if (status == 404) {
            throw new ModelNotFoundException(what + " at revision '" + revision + "' was not found on "
                    + options.endpoint() + " (HTTP 404) although the model lists it; try again or pick another revision");
        }
        if (status == 401 || status == 403) {
            throw new HubAccessDeniedException(options.token().isEmpty()
                    ? "model '" + id + "' is gated or private (HTTP " + status + " for " + what + "): accept its terms"
                            + " on its page at " + options.endpoint() + "/" + id + " and set HF_TOKEN to an access token"
                            + " with read permission"
                    : "the Hub refused the token in HF_TOKEN for model '" + id + "' (HTTP " + status + " for " + what
                            + "): check that the token is valid, has read permission, and that its account accepted "
                            + "the model's terms at " + options.endpoint() + "/" + id);
        }
        throw new HubException(options.endpoint() + " answered HTTP " + status + " for " + what + " (revision '"
                + revision + "'); try again later" + (status == 429 ? " (rate limited)" : ""));
    }

    // ---- one file ----

    /** What the server announced about a file's content. */
    private record Expected(OptionalLong size, String sha256, String gitSha1) {}

    /**
     * Downloads one file into the snapshot unless it is there already, resuming a partial download,
     * retrying interrupted transfers, and verifying size and checksum before it takes its name.
     */
    void fetch(String id, String commit, String name, Path repo, Path snapshot) {
        Path target = safeResolve(snapshot, name, id);
        if (Files.isRegularFile(target)) {
            return;
        }
        Path partial = repo.resolve("partial").resolve(sha256Hex((commit + "\0" + name).getBytes(StandardCharsets.UTF_8))
                + ".part");
        URI uri = URI.create(options.endpoint() + "/" + id + "/resolve/" + commit + "/" + encodePath(name));
        IOException last = null;
        for (int attempt = 0; attempt <= options.maxRetries(); attempt++) {
            try {
                Files.createDirectories(partial.getParent());
                Expected expected = transfer(uri, id, commit, name, partial);
                verify(id, name, partial, expected);
                Files.createDirectories(target.getParent());
                try {
                    Files.move(partial, target, StandardCopyOption.ATOMIC_MOVE);
                } catch (AtomicMoveNotSupportedException e) {
                    Files.move(partial, target);
                }
                LOG.info("downloaded {} of {} ({} bytes)", name, id, Files.size(target));
                return;
            } catch (HttpTimeoutException | ConnectException | Interrupted e) {
                last = e;
            } catch (IOException e) {
                if (e.getCause() instanceof AttuneException ae) {
                    throw ae;
                }
                last = e;
            }
            long have = partialSize(partial);
            if (attempt < options.maxRetries()) {
                LOG.warn("download of {} from {} interrupted after {} bytes ({}); resuming (attempt {} of {})", name, id,
                        have, last.toString(), attempt + 2, options.maxRetries() + 1);
            }
        }
        throw new HubException("download of '" + name + "' of model '" + id + "' failed after "
                + (options.maxRetries() + 1) + " attempts (" + last + "); " + partialSize(partial) + " bytes are kept in "
                + partial + " and the next attempt resumes from there", last);
    }

    /** An interrupted transfer of the body; resumable. */
    private static final class Interrupted extends IOException {
        private static final long serialVersionUID = 1L;

        Interrupted(String message, Throwable cause) {
            super(message, cause);
        }
    }

    private static long partialSize(Path partial) {
        try {
            return Files.isRegularFile(partial) ? Files.size(partial) : 0;
        } catch (IOException e) {
            return 0;
        }
    }

    /**
     * Writes a response body into the partial file as it arrives, from the byte the response
     * starts at, and refuses more bytes than announced.
     */
    private static final class FileSink implements HttpResponse.BodySubscriber<Long> {
        private final FileChannel out;
        private final long limit;
        private final CompletableFuture<Long> result = new CompletableFuture<>();
        private volatile Flow.Subscription subscription;
        private volatile Watch watch = new Watch();
        private long written;

        /** The most bytes the file may have: its announced size, else the cap for unannounced sizes. */
        private final long cap;
        private final boolean announced;

        FileSink(FileChannel out, long start, long limit, long unannouncedCap) throws IOException {
            this.out = out;
            this.limit = limit;
            this.announced = limit >= 0;
            this.cap = limit >= 0 ? limit : unannouncedCap;
            this.written = start;
            out.truncate(start);
            out.position(start);
        }

        FileSink watching(Watch value) {
            this.watch = value;
            return this;
        }

        @Override
        public CompletionStage<Long> getBody() {
            return result;
        }

        @Override
        public void onSubscribe(Flow.Subscription s) {
            subscription = s;
            s.request(1);
        }

        @Override
        public void onNext(List<ByteBuffer> items) {
            try {
                long before = written;
                for (ByteBuffer bb : items) {
                    if (bb.remaining() > cap - written) { // refused before it is written
                        throw new Overflow(cap, announced);
                    }
                    while (bb.hasRemaining()) {
                        written += out.write(bb);
                    }
                }
                watch.received(written - before);
                subscription.request(1);
            } catch (IOException e) {
                subscription.cancel();
                result.completeExceptionally(e);
            }
        }

        @Override
        public void onError(Throwable t) {
            result.completeExceptionally(t);
        }

        @Override
        public void onComplete() {
            result.complete(written);
        }
    }

    /** A server sent more bytes than it announced, or than a file of unannounced size may have. */
    private static final class Overflow extends IOException {
        private static final long serialVersionUID = 1L;

        Overflow(long limit, boolean announced) {
            super(announced ? "more than the announced " + limit + " bytes"
                    : "more than " + limit + " bytes without announcing a size (no X-Linked-Size, Content-Length or "
                            + "Content-Range); if the file is really that large, raise ATTUNE_HUB_MAX_UNANNOUNCED_MB "
                            + "(HubOptions.withMaxUnannouncedBytes)");
        }
    }

    /** One GET, appending to the partial file; returns what the server announced. */
    private Expected transfer(URI uri, String id, String commit, String name, Path partial) throws IOException {
        long have = partialSize(partial);
        String[] refused = new String[1];
        try (FileChannel out = FileChannel.open(partial, StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
            List<HttpHeaders> hops = new ArrayList<>(); // the Hub announces LFS sizes on its redirect
            long cap = options.maxUnannouncedBytes();
            Answer<Long> answer = send(uri, have > 0 ? "bytes=" + have + "-" : null, info -> {
                int status = info.statusCode();
                try {
                    if (status == 200) {
                        long size = expected(status, info.headers(), hops).size.orElse(-1);
                        ensureSpace(partial, size, name, id);
                        return new FileSink(out, 0, size, cap);
                    }
                    if (status == 206) {
                        Matcher m = CONTENT_RANGE.matcher(info.headers().firstValue("Content-Range").orElse(""));
                        if (m.matches() && Long.parseLong(m.group(1)) == have) {
                            long size = m.group(3).equals("*") ? expected(status, info.headers(), hops).size.orElse(-1)
                                    : Long.parseLong(m.group(3));
                            ensureSpace(partial, size - have, name, id);
                            return new FileSink(out, have, size, cap);
                        }
                        refused[0] = "the server resumed at another byte than " + have + " ("
                                + info.headers().firstValue("Content-Range").orElse("no Content-Range") + ")";
                    }
                } catch (IOException e) {
                    refused[0] = "the partial file could not be prepared: " + e;
                } catch (NumberFormatException e) {
                    refused[0] = "the server sent an unreadable Content-Range ("
                            + info.headers().firstValue("Content-Range").orElse("") + ")";
                }
                if (status >= 300 && status < 400) {
                    hops.add(info.headers());
                }
                return HttpResponse.BodySubscribers.replacing(-1L);
            });
            HttpResponse<Long> r = answer.response();
            int status = r.statusCode();
            if (status == 416 && have > 0 || refused[0] != null) {
                // the partial file is as long as the file or longer, or the server will not resume
                // where it ends: start afresh
                out.truncate(0);
                throw new Interrupted(refused[0] != null ? refused[0] : "the server refused to resume at byte " + have,
                        null);
            }
            if (status >= 500 || status == 429) {
                throw new Interrupted("HTTP " + status, null);
            }
            check(r, id, commit, name);
            out.force(true);
            return expected(status, r.headers(), answer.redirects());
        } catch (Overflow e) {
            Files.deleteIfExists(partial);
            throw new IOException(new HubException("the server sent " + e.getMessage() + " of '" + name + "' of model '"
                    + id + "'; the download was refused and deleted"));
        } catch (IOException e) {
            if (e instanceof HttpTimeoutException || e instanceof ConnectException || e instanceof Interrupted
                    || e.getCause() instanceof AttuneException) {
                throw e;
            }
            throw new Interrupted("connection lost after " + partialSize(partial) + " bytes: " + e, e);
        }
    }

    /** Refuses a download the disk cannot hold, before a byte is written. */
    private static void ensureSpace(Path partial, long bytes, String name, String id) {
        if (bytes <= 0) {
            return;
        }
        long usable;
        try {
            usable = Files.getFileStore(partial.getParent()).getUsableSpace();
        } catch (IOException e) {
            return; // unknown: the write itself will tell
        }
        if (bytes > usable) {
            throw new HubException("'" + name + "' of model '" + id + "' has " + bytes + " bytes but only " + usable
                    + " are free in " + partial.getParent() + "; free space or set ATTUNE_HUB_CACHE to a larger disk");
        }
    }

    /** Reads the announced size and checksum from the headers (the Hub's names first). */
    private static Expected expected(int status, HttpHeaders headers, List<HttpHeaders> redirects) {
        List<HttpHeaders> all = new ArrayList<>(redirects);
        all.add(headers);
        String linkedEtag = null;
        String linkedSize = null;
        for (HttpHeaders h : all) { // the first that has them: the Hub's own answer
            linkedEtag = linkedEtag != null ? linkedEtag : h.firstValue("X-Linked-Etag").orElse(null);
            linkedSize = linkedSize != null ? linkedSize : h.firstValue("X-Linked-Size").orElse(null);
        }
        String etag = headers.firstValue("ETag").orElse(null);
        OptionalLong size = OptionalLong.empty();
        if (linkedSize != null) {
            size = parseSize(linkedSize);
        }
        if (size.isEmpty() && status == 206) {
            Matcher m = CONTENT_RANGE.matcher(headers.firstValue("Content-Range").orElse(""));
            if (m.matches() && !m.group(3).equals("*")) {
                size = parseSize(m.group(3));
            }
        }
        if (size.isEmpty() && status == 200) {
            size = headers.firstValue("Content-Length").map(HubClient::parseSize).orElse(OptionalLong.empty());
        }
        String sha256 = null;
        String gitSha1 = null;
        String linked = unquote(linkedEtag);
        String plain = unquote(etag);
        if (linked != null && SHA256.matcher(linked).matches()) {
            sha256 = linked;
        } else if (plain != null && SHA256.matcher(plain).matches()) {
            sha256 = plain;
        } else if (plain != null && SHA1.matcher(plain).matches()) {
            gitSha1 = plain;
        }
        return new Expected(size, sha256, gitSha1);
    }

    private static OptionalLong parseSize(String value) {
        try {
            long v = Long.parseLong(value.trim());
            return v >= 0 ? OptionalLong.of(v) : OptionalLong.empty();
        } catch (NumberFormatException e) {
            return OptionalLong.empty();
        }
    }

    private static String unquote(String etag) {
        if (etag == null) {
            return null;
        }
        String v = etag.trim();
        if (v.startsWith("W/")) {
            return null; // a weak ETag is no checksum
        }
        if (v.length() >= 2 && v.startsWith("\"") && v.endsWith("\"")) {
            v = v.substring(1, v.length() - 1);
        }
        return v.toLowerCase(Locale.ROOT);
    }

    /** Checks size and checksum; a failing file is deleted so nothing looks complete. */
    private static void verify(String id, String name, Path partial, Expected expected) throws IOException {
        long size = Files.size(partial);
        String problem = null;
        if (expected.size.isPresent() && size != expected.size.getAsLong()) {
            problem = "has " + size + " bytes where the Hub announced " + expected.size.getAsLong();
        } else if (expected.sha256 != null) {
            String actual = digest(partial, "SHA-256", null);
            if (!actual.equals(expected.sha256)) {
                problem = "has sha256 " + actual + " where the Hub announced " + expected.sha256;
            }
        } else if (expected.gitSha1 != null) {
            String actual = digest(partial, "SHA-1", ("blob " + size + "\0").getBytes(StandardCharsets.US_ASCII));
            if (!actual.equals(expected.gitSha1)) {
                problem = "has git hash " + actual + " where the Hub announced " + expected.gitSha1;
            }
        } else {
            LOG.debug("no checksum announced for {} of {}; only its size was checked", name, id);
        }
        if (problem != null) {
            Files.deleteIfExists(partial);
            throw new IOException(new HubException("the download of '" + name + "' of model '" + id + "' is corrupt: it "
                    + problem + "; it was deleted, run again to download it afresh (a proxy or mirror may be altering"
                    + " files)"));
        }
    }

    private static String digest(Path file, String algorithm, byte[] prefix) throws IOException {
        MessageDigest md;
        try {
            md = MessageDigest.getInstance(algorithm);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
        if (prefix != null) {
            md.update(prefix);
        }
        try (InputStream in = Files.newInputStream(file)) {
            byte[] buf = new byte[1 << 16];
            for (int n; (n = in.read(buf)) > 0; ) {
                md.update(buf, 0, n);
            }
        }
        return HexFormat.of().formatHex(md.digest());
    }

    static String sha256Hex(byte[] data) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(data));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    // ---- names ----

    /**
     * @param root a snapshot folder
     * @param name a file name as the Hub lists it ({@code a/b.json})
     * @param id the model, for messages
     * @return the file inside root
     * @throws HubException when the name is absolute, has empty, {@code .} or {@code ..} parts,
     *     backslashes or control characters, or otherwise resolves outside root
     */
    static Path safeResolve(Path root, String name, String id) {
        String why = null;
        if (name.isEmpty() || name.length() > 1000) {
            why = "its length";
        } else if (name.startsWith("/") || name.contains("\\") || name.contains(":")) {
            why = "it is absolute or has '\\' or ':'";
        } else if (name.chars().anyMatch(c -> c < 0x20 || c == 0x7f)) {
            why = "it has control characters";
        } else {
            for (String part : name.split("/", -1)) {
                if (part.isEmpty() || part.equals(".") || part.equals("..")) {
                    why = "it has an empty, '.' or '..' part";
                    break;
                }
            }
        }
        Path resolved = null;
        if (why == null) {
            Path base = root.toAbsolutePath().normalize();
            try {
                resolved = base.resolve(name).normalize();
            } catch (java.nio.file.InvalidPathException e) {
                why = "it is no valid path here";
            }
            if (resolved != null && (!resolved.startsWith(base) || resolved.equals(base))) {
                why = "it resolves outside " + base;
            }
        }
        if (why != null) {
            throw new HubException("refusing file name '" + name + "' from model '" + id + "': " + why + ", so it could "
                    + "be written outside the cache folder; the server or the model's files are not trustworthy");
        }
        return resolved;
    }

    private static void checkId(String id) {
        if (!isModelId(id)) {
            throw new ConfigurationException("'" + id + "' is not a HuggingFace model id: use org/name (letters, digits,"
                    + " '.', '_', '-'; no '..' or '--'), as on the model's page");
        }
    }

    private static void checkRevision(String revision) {
        if (revision == null || !REVISION.matcher(revision).matches() || revision.contains("..")
                || revision.endsWith("/") || revision.contains("//")) {
            throw new ConfigurationException("'" + revision + "' is not a valid revision: use a branch (main), a tag "
                    + "or a commit hash");
        }
    }

    private static String encodeSegment(String value) {
        return URLEncoder.encode(value, StandardCharsets.UTF_8).replace("+", "%20");
    }

    private static String encodePath(String name) {
        StringBuilder sb = new StringBuilder();
        for (String part : name.split("/", -1)) {
            if (sb.length() > 0) {
                sb.append('/');
            }
            sb.append(encodeSegment(part));
        }
        return sb.toString();
    }

    private static String abbreviate(List<String> names) {
        return names.size() <= 20 ? names.toString() : names.subList(0, 20) + " and " + (names.size() - 20) + " more";
    }
}
